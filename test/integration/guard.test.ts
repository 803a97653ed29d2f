import type { Request, Response } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { createApp, createClock, EXPRESS_VERSIONS, json, sendCode, signIn } from '../helpers/create-app.js';

/** Counts every store call. */
function countingStore(inner: Store) {
  const counter = { calls: 0 };
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A) => {
      counter.calls++;
      return fn(...args);
    };
  const store: Store = {
    get: wrap((k) => inner.get(k)),
    getMany: wrap((keys: string[]) => Promise.all(keys.map((k) => inner.get(k)))),
    set: wrap((k, v, t) => inner.set(k, v, t)),
    delete: wrap((k) => inner.delete(k)),
    consume: wrap((k) => inner.consume(k)),
    increment: wrap((k, t) => inner.increment(k, t)),
  };
  return { store, counter };
}

describe.each(EXPRESS_VERSIONS)('requireSecondFactor on %s', (_name, express) => {
  it('lets a verified request through without touching the store', async () => {
    const clock = createClock();
    const { store, counter } = countingStore(memoryStore({ now: clock.now }));
    const t = createApp({ express, clock, store });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
    const before = counter.calls;
    for (let i = 0; i < 5; i++) await agent.get('/api/data').expect(200);
    expect(counter.calls).toBe(before);
  });

  it('redirects HTML navigations with the full original URL, and answers API clients 401', async () => {
    const t = createApp({ express });
    const agent = await signIn(t);
    const page = await agent
      .get('/account?tab=a&b=%2F')
      .set('Accept', 'text/html,application/xhtml+xml')
      .expect(303);
    expect(page.headers.location).toBe('/2fa?returnTo=%2Faccount%3Ftab%3Da%26b%3D%252F');
    expect(page.headers['cache-control']).toBe('no-store');
    const api = await agent.get('/api/data').expect(401);
    expect(api.body.error).toMatchObject({
      code: 'ERR_2FA_REQUIRED',
      verifyUrl: '/2fa?returnTo=%2Fapi%2Fdata',
    });
  });

  it('answers a non-GET request 401 without a returnTo, even from a browser', async () => {
    const t = createApp({ express });
    const agent = await signIn(t);
    const res = await agent.post('/api/transfer').set('Accept', 'text/html').expect(401);
    expect(res.body.error).toMatchObject({ code: 'ERR_2FA_REQUIRED', verifyUrl: '/2fa' });
  });

  it('sets req.secondFactor only on verified requests', async () => {
    const t = createApp({ express });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
    expect((await agent.get('/api/data').expect(200)).body.verifiedAt).toBe(t.clock.now());
  });

  // The app's own checks must keep working however they test it: `in`, `hasOwn`, `delete`, a copy.
  // (An accessor on app.request would save the guard a hidden class per request, but would make
  // `'secondFactor' in req` true on every request: a fail-open for an app that tests it that way.)
  it('sets req.secondFactor on this request only, as a plain property', async () => {
    const t = createApp({ express });
    const seen = (req: Request) => ({
      own: Object.hasOwn(req, 'secondFactor'),
      in: 'secondFactor' in req,
      copied: { ...req }.secondFactor?.method ?? null,
      method: req.secondFactor?.method ?? null,
    });
    t.app.get('/probe/guarded', t.tfa.requireSecondFactor, (req, res) => {
      res.json(seen(req));
    });
    t.app.get('/probe/open', (req, res) => {
      res.json(seen(req));
    });
    t.app.get('/probe/own', (req, res) => {
      req.secondFactor = { verifiedAt: 1, method: 'voice' };
      res.json(seen(req));
    });
    const inner = express();
    inner.get('/in', t.tfa.requireSecondFactor, (_req, _res, next) => next());
    t.app.use('/probe/sub', inner, (req: Request, res: Response) => {
      res.json(seen(req));
    });
    const agent = await signIn(t);
    expect((await agent.get('/probe/guarded').expect(401)).body.error.code).toBe('ERR_2FA_REQUIRED');
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
    const verified = { own: true, in: true, copied: 'sms', method: 'sms' };
    const none = { own: false, in: false, copied: null, method: null };
    expect((await agent.get('/probe/guarded').expect(200)).body).toEqual(verified);
    // The next request of the same browser, without the guard: nothing carried over.
    expect((await agent.get('/probe/open').expect(200)).body).toEqual(none);
    // The app's own assignment reads back, on its request only.
    expect((await agent.get('/probe/own').expect(200)).body).toMatchObject({ own: true, method: 'voice' });
    expect((await agent.get('/probe/open').expect(200)).body).toEqual(none);
    // A guard inside a mounted app: what it found is read in the parent app after it.
    expect((await agent.get('/probe/sub/in').expect(200)).body).toEqual(verified);
    expect((await request(t.app).get('/probe/open').expect(200)).body.method).toBeNull();
  });

  it('adds no property to a request passing through twoFactor() (its routes are kept aside)', async () => {
    const t = createApp({ express });
    t.app.get('/probe/keys', (req, res) => {
      res.json(Reflect.ownKeys(req).filter((key) => String(key).includes('express-sms-2fa')).length);
    });
    const agent = await signIn(t);
    expect((await agent.get('/probe/keys').expect(200)).body).toBe(0);
    // The guard still finds where the routes are: its redirect names them.
    const res = await agent.get('/api/data').set('Accept', 'text/html').expect(303);
    expect(res.headers.location).toBe('/2fa?returnTo=%2Fapi%2Fdata');
  });

  it('treats a getUser answer without an id or a phone as no first factor', async () => {
    const phone = '+32470123401';
    for (const user of [
      {},
      { id: '' },
      { phone },
      'alice',
      42,
      { id: 'u', phone, sessionId: {} },
      { id: 'u', phone, version: [] },
    ]) {
      const t = createApp({ express, options: { getUser: () => user as never } });
      const res = await request(t.app).get('/api/data').expect(401);
      expect(res.body.error.code).toBe('ERR_2FA_UNAUTHENTICATED');
    }
  });

  it('tells isVerified(req) the same as the guard', async () => {
    const t = createApp({ express });
    t.app.get('/probe', async (req, res) => {
      res.json({ verified: await t.tfa.isVerified(req) });
    });
    const agent = await signIn(t);
    expect((await agent.get('/probe')).body.verified).toBe(false);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
    expect((await agent.get('/probe')).body.verified).toBe(true);
  });

  it('works when mounted under a prefix with a matching path', async () => {
    const t = createApp({ express, options: { path: '/auth/2fa' } });
    const agent = await signIn(t);
    const redirect = await agent.get('/account').set('Accept', 'text/html').expect(303);
    expect(redirect.headers.location).toBe('/auth/2fa?returnTo=%2Faccount');
    await json(agent, '/auth/2fa/send').expect(200);
    await json(agent, '/2fa/send').expect(404);
  });
});
