import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { json, signIn, USERS } from '../helpers/create-app.js';
import { createLifecycleApp, generateCodes, verifiedAgent } from '../helpers/lifecycle.js';

const POSTS = ['/2fa/recovery/verify', '/2fa/recovery/generate'] as const;

describe('the recovery routes keep §5 (API.md): first factor, POST only, same origin, no-store', () => {
  it('answers every route with the same 401 ERR_2FA_UNAUTHENTICATED without a first factor, no-store', async () => {
    const t = createLifecycleApp();
    await t.tfa.recovery.generate(USERS.alice.id);
    const anonymous = request(t.app);
    const answers = await Promise.all([
      ...POSTS.map((path) =>
        anonymous.post(path).set('Content-Type', 'application/json').send('{"code":"aaaa-bbbb-cccc"}'),
      ),
      ...POSTS.map((path) =>
        anonymous.post(path).type('form').set('Accept', 'text/html').send({ code: 'x' }),
      ),
      anonymous.get('/2fa/recovery').set('Accept', 'text/html'),
    ]);
    for (const res of answers) {
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('ERR_2FA_UNAUTHENTICATED');
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect(new Set(answers.map((res) => JSON.stringify(res.body))).size).toBe(1);
    expect(t.vault.saves).toHaveLength(1);
    expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(0);
  });

  it('takes POST only on the POST routes and GET only on the page (405 with Allow), no-store', async () => {
    const t = createLifecycleApp();
    const agent = await verifiedAgent(t);
    for (const path of POSTS) {
      for (const method of ['get', 'put', 'delete'] as const) {
        const res = await agent[method](path).set('Accept', 'application/json');
        expect(res.status, `${method} ${path}`).toBe(405);
        expect(res.headers.allow).toBe('POST');
        expect(res.headers['cache-control']).toBe('no-store');
      }
    }
    const post = await json(agent, '/2fa/recovery');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(t.vault.saves).toHaveLength(0);
  });

  it('refuses cross-site requests before anything is checked or generated (403 ERR_2FA_FORBIDDEN_ORIGIN)', async () => {
    const t = createLifecycleApp();
    const agent = await verifiedAgent(t);
    const codes = await generateCodes(agent);
    const other = await signIn(t);
    const attempts = [
      json(agent, '/2fa/recovery/generate').set('Sec-Fetch-Site', 'cross-site'),
      json(agent, '/2fa/recovery/generate').set('Origin', 'https://evil.example'),
      json(other, '/2fa/recovery/verify', { code: codes[0] }).set('Sec-Fetch-Site', 'cross-site'),
      // A plain form needs its token, unless the browser vouches for the origin.
      agent.post('/2fa/recovery/generate').type('form').send({ returnTo: '/' }),
      other.post('/2fa/recovery/verify').type('form').send({ code: codes[0] }),
      other
        .post('/2fa/recovery/verify')
        .type('form')
        .set('Sec-Fetch-Site', 'same-site')
        .send({ code: codes[0] }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('ERR_2FA_FORBIDDEN_ORIGIN');
      expect(res.headers['cache-control']).toBe('no-store');
    }
    expect(t.vault.saves).toHaveLength(1);
    expect(t.vault.saved.get(USERS.alice.id)).toHaveLength(10);
    expect(t.events.filter((e) => e.type === 'recovery.used' || e.type === 'verify.failed')).toHaveLength(0);
  });

  it('sends no-store on every answer of the routes, successes and pages included', async () => {
    const t = createLifecycleApp();
    const agent = await verifiedAgent(t);
    const generated = await json(agent, '/2fa/recovery/generate').expect(200);
    const other = await signIn(t);
    const page = await other.get('/2fa/recovery').set('Accept', 'text/html').expect(200);
    const verified = await json(other, '/2fa/recovery/verify', { code: generated.body.codes[0] }).expect(200);
    for (const res of [generated, page, verified]) expect(res.headers['cache-control']).toBe('no-store');
    expect(page.headers['x-frame-options']).toBe('DENY');
  });

  it('reads identity only from getUser: a userId in the body changes nothing', async () => {
    const t = createLifecycleApp();
    const bobCodes = await t.tfa.recovery.generate(USERS.bob.id);
    const alice = await signIn(t);
    await json(alice, '/2fa/recovery/verify', { code: bobCodes[0], userId: USERS.bob.id }).expect(400);
    expect(t.vault.saved.get(USERS.bob.id)).toHaveLength(10);
  });
});
