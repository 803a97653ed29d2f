import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp, json, sendCode, signIn } from '../../helpers/create-app.js';
import { EXPRESS_MATRIX } from '../apps/kit.js';

const setCookies = (res: { headers: Record<string, unknown> }) =>
  (res.headers['set-cookie'] as string[] | undefined) ?? [];

afterEach(() => vi.unstubAllEnvs());

describe.each(EXPRESS_MATRIX)("cookie.secure: 'auto' (the default) on %s", (_name, express) => {
  // Defect: with NODE_ENV unset (plain `node app.js`, mocha) the cookies were Secure over HTTP; the
  // browser (and a supertest agent) dropped them, so every verify answered 409 and the page looped.
  it('completes the flow over plain HTTP with NODE_ENV unset: plain cookies, no __Host- prefix', async () => {
    vi.stubEnv('NODE_ENV', '');
    const t = createApp({ express });
    const agent = await signIn(t);
    const sent = await json(agent, '/2fa/send').expect(200);
    const challenge = setCookies(sent).find((c) => c.startsWith('2fa-challenge='));
    expect(challenge).toBeDefined();
    expect(challenge).not.toMatch(/Secure/);
    const code = t.transport.lastCode('+32470123401') ?? '';
    const verified = await json(agent, '/2fa/verify', { code }).expect(200);
    expect(setCookies(verified).find((c) => c.startsWith('2fa='))).not.toMatch(/Secure/);
    await agent.get('/api/data').expect(200);
    expect(t.logs).toEqual([]);
  });

  it('uses Secure __Host- cookies when Express sees HTTPS (trust proxy + X-Forwarded-Proto)', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const t = createApp({ express, options: { warnings: { memoryStore: false } } });
    t.app.set('trust proxy', 'loopback');
    // supertest keeps no Secure cookie over http: this browser hands its cookies back by hand.
    const login = await request(t.app)
      .post('/login')
      .type('form')
      .send({ username: 'alice', password: 'alice-pw' });
    const sid = setCookies(login)[0]?.split(';')[0] ?? '';
    const https = (req: request.Test, ...cookies: string[]) =>
      req.set('X-Forwarded-Proto', 'https').set('Cookie', [sid, ...cookies].join('; '));
    const sent = await https(request(t.app).post('/2fa/send').type('json').send('{}')).expect(200);
    const challenge = setCookies(sent).find((c) => c.startsWith('__Host-2fa-challenge='));
    expect(challenge).toMatch(/; Secure/);
    expect(challenge).not.toMatch(/Domain=/);
    const code = t.transport.lastCode('+32470123401') ?? '';
    const verified = await https(
      request(t.app).post('/2fa/verify').type('json').send({ code }),
      challenge?.split(';')[0] ?? '',
    ).expect(200);
    const pass = setCookies(verified).find((c) => c.startsWith('__Host-2fa='));
    expect(pass).toMatch(/; Secure/);
    // The same browser over HTTPS passes the guard with its __Host- cookie...
    await https(request(t.app).get('/api/data'), pass?.split(';')[0] ?? '').expect(200);
    // ...and a plain-HTTP request does not read a __Host- cookie at all.
    await request(t.app)
      .get('/api/data')
      .set('Cookie', [sid, pass?.split(';')[0]].join('; '))
      .expect(401);
  });

  it('honours an explicit secure: false even over HTTPS', async () => {
    const t = createApp({ express, options: { cookie: { secure: false } } });
    t.app.set('trust proxy', 'loopback');
    const agent = await signIn(t);
    const sent = await json(agent, '/2fa/send').set('X-Forwarded-Proto', 'https').expect(200);
    expect(setCookies(sent).find((c) => c.startsWith('2fa-challenge='))).not.toMatch(/Secure/);
  });

  it('clears the cookies under the name the request uses (tfa.clear on HTTPS)', async () => {
    const t = createApp({ express });
    t.app.set('trust proxy', 'loopback');
    const agent = await signIn(t);
    const res = await agent.post('/logout').set('X-Forwarded-Proto', 'https').expect(200);
    const cleared = setCookies(res).filter((c) => c.includes('Expires=Thu, 01 Jan 1970'));
    expect(cleared.map((c) => c.split('=')[0])).toEqual(
      expect.arrayContaining(['__Host-2fa', '__Host-2fa-challenge']),
    );
  });
});

describe.each(EXPRESS_MATRIX)('trust proxy and X-Forwarded-For on %s', (_name, express) => {
  it('budgets each client by its forwarded address, without a warning', async () => {
    const t = createApp({ express, options: { limits: { ipPerHour: 1 } } });
    t.app.set('trust proxy', 'loopback');
    const alice = await signIn(t, 'alice');
    const bob = await signIn(t, 'bob');
    await json(alice, '/2fa/send').set('X-Forwarded-For', '203.0.113.7').expect(200);
    await json(bob, '/2fa/send').set('X-Forwarded-For', '198.51.100.9').expect(200);
    expect(t.events.filter((e) => e.type === 'code.sent').map((e) => e.ip)).toEqual([
      '203.0.113.7',
      '198.51.100.9',
    ]);
    expect(t.logs).toEqual([]);
  });

  it('without trust proxy: every user has the proxy address, and the log says so once', async () => {
    const t = createApp({ express, options: { limits: { ipPerHour: 1 } } });
    const alice = await signIn(t, 'alice');
    const bob = await signIn(t, 'bob');
    await json(alice, '/2fa/send').set('X-Forwarded-For', '203.0.113.7').expect(200);
    const second = await json(bob, '/2fa/send').set('X-Forwarded-For', '198.51.100.9').expect(429);
    expect(second.body.error.code).toBe('ERR_2FA_RATE_LIMITED');
    expect(t.logs).toHaveLength(1);
    expect(t.logs[0]).toMatch(/X-Forwarded-For/);
  });
});

describe('one-time warnings about HTTPS and proxies', () => {
  it('warns once under NODE_ENV=production when a request arrives over plain HTTP, naming the fix', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const t = createApp({ options: { warnings: { memoryStore: false } } });
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    await agent.get('/2fa/status').expect(200);
    expect(t.logs).toHaveLength(1);
    expect(t.logs[0]).toMatch(/plain HTTP/);
    expect(t.logs[0]).toMatch(/HTTPS/);
    expect(t.logs[0]).toMatch(/trust proxy/);
  });

  it('warns once, naming trust proxy, for X-Forwarded-Proto: https that Express does not trust', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const t = createApp({ options: { warnings: { memoryStore: false } } });
    const agent = await signIn(t);
    for (let i = 0; i < 3; i++) await agent.get('/2fa/status').set('X-Forwarded-Proto', 'https').expect(200);
    expect(t.logs).toHaveLength(1);
    expect(t.logs[0]).toMatch(/X-Forwarded-Proto/);
    expect(t.logs[0]).toMatch(/app\.set\('trust proxy'/);
  });

  it('says nothing about HTTPS outside production', async () => {
    vi.stubEnv('NODE_ENV', '');
    const t = createApp();
    const agent = await signIn(t);
    await agent.get('/2fa/status').set('X-Forwarded-Proto', 'https').expect(200);
    expect(t.logs).toEqual([]);
  });

  it('warns once when cookie.secure is true but the request is plain HTTP (the browser drops the cookie)', async () => {
    const t = createApp({ options: { cookie: { secure: true } } });
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    await json(agent, '/2fa/send').expect(200);
    expect(t.logs).toHaveLength(1);
    expect(t.logs[0]).toMatch(/cookie\.secure/);
    expect(t.logs[0]).toMatch(/'auto'/);
  });

  // Defect 13: behind a proxy without trust proxy every user has the proxy's address: one IP budget.
  it('warns once when X-Forwarded-For arrives and trust proxy is off, naming the fix', async () => {
    const t = createApp();
    const agent = await signIn(t);
    for (const ip of ['203.0.113.7', '198.51.100.9'])
      await agent.get('/2fa/status').set('X-Forwarded-For', ip).expect(200);
    expect(t.logs).toHaveLength(1);
    expect(t.logs[0]).toMatch(/X-Forwarded-For/);
    expect(t.logs[0]).toMatch(/app\.set\('trust proxy'/);
    expect(t.logs[0]).toMatch(/IP/);
  });

  it('keeps the flow working for a user whose code arrives (no regression from the checks)', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
    expect(t.logs).toEqual([]);
  });
});
