import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { safeReturnTo } from '../../src/http.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { createApp, createClock, json, sendCode, signIn } from '../helpers/create-app.js';
import { recordingStore } from '../helpers/stores.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

function expectContractError(res: request.Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(res.headers['cache-control']).toBe('no-store');
}

describe('open redirects (R-38)', () => {
  const hostile = [
    '//evil.example',
    '///evil.example',
    '/\\evil.example',
    '\\\\evil.example',
    'https://evil.example',
    'https:evil.example',
    'javascript:alert(1)',
    '%2F%2Fevil.example',
    '/%2F/evil.example',
    '/%2f%2fevil.example',
    '/%5Cevil.example',
    '/%255C%255Cevil.example',
    '/%252F%252Fevil.example',
    '/\tevil.example',
    '/%25252525252Fevil.example',
    '/\n/evil.example',
    ' //evil.example',
    '',
  ];
  for (const value of hostile) {
    it(`sends ${JSON.stringify(value)} to /`, () => {
      expect(safeReturnTo(value)).toBe('/');
    });
  }

  it('keeps a same-origin path with its query', () => {
    expect(safeReturnTo('/account?tab=security&x=%2F')).toBe('/account?tab=security&x=%2F');
  });

  it('lands on / after verify when the send carried a hostile returnTo', async () => {
    const t = createApp();
    for (const value of ['//evil.example', '/%5Cevil.example', 'https:evil.example']) {
      const agent = await signIn(t);
      await json(agent, '/2fa/send', { returnTo: value }).expect(200);
      const code = t.transport.messages.at(-1)?.text.match(/\d{6}/)?.[0];
      expect((await json(agent, '/2fa/verify', { code }).expect(200)).body.returnTo).toBe('/');
    }
  });
});

describe('bad input never crashes anything', () => {
  it('answers malformed JSON with 400', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const res = await agent.post('/2fa/verify').set('Content-Type', 'application/json').send('{"code": "12');
    expectContractError(res, 400, 'ERR_2FA_BAD_REQUEST');
  });

  for (const code of [['123456'], { $gt: '' }, 123456, null, true, '', 'abcdef', '1234567890123']) {
    it(`answers code=${JSON.stringify(code)} with 400 and counts no attempt`, async () => {
      const t = createApp();
      const agent = await signIn(t);
      await sendCode(t, agent);
      expectContractError(await json(agent, '/2fa/verify', { code }), 400, 'ERR_2FA_BAD_REQUEST');
      expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(0);
    });
  }

  it('answers a JSON array or scalar body with 400', async () => {
    const t = createApp();
    const agent = await signIn(t);
    for (const body of ['[1,2]', '"code"', '42', 'null']) {
      expectContractError(
        await agent.post('/2fa/verify').set('Content-Type', 'application/json').send(body),
        400,
        'ERR_2FA_BAD_REQUEST',
      );
    }
  });

  it('refuses a huge body with 413 without buffering it', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const res = await agent
      .post('/2fa/verify')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ code: '1'.repeat(2_000_000) }));
    expectContractError(res, 413, 'ERR_2FA_BAD_REQUEST');
  });

  it('refuses a huge body sent without a length (chunked) with 413', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const req = agent.post('/2fa/verify').set('Content-Type', 'application/json');
    req.write('{"code":"');
    for (let i = 0; i < 32; i++) req.write('1'.repeat(65_536));
    req.write('"}');
    expectContractError(await req, 413, 'ERR_2FA_BAD_REQUEST');
  });

  it('refuses a repeated form field (parameter pollution, R-49)', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const res = await agent
      .post('/2fa/verify')
      .set('Content-Type', 'application/x-www-form-urlencoded')
      .send('code=111111&code=222222');
    expectContractError(res, 400, 'ERR_2FA_BAD_REQUEST');
  });

  it('answers an unsupported content type with 415', async () => {
    const t = createApp();
    const agent = await signIn(t);
    expectContractError(
      await agent.post('/2fa/verify').set('Content-Type', 'text/xml').send('<code>1</code>'),
      415,
      'ERR_2FA_BAD_REQUEST',
    );
  });

  it('treats garbage and tampered challenge cookies as "no challenge"', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const session = (await agent.get('/2fa/status')).request.cookies;
    for (const garbage of ['%', 'x.y', 'AAAAAAAAAAAAAAAAAAAAAAAA.forged', '\u00ff\u00fe', 'a'.repeat(5000)]) {
      const res = await request(t.app)
        .post('/2fa/verify')
        .set(
          'Cookie',
          `${session}; 2fa-challenge=${encodeURIComponent(garbage)}; 2fa=${encodeURIComponent(garbage)}`,
        )
        .set('Content-Type', 'application/json')
        .send('{"code":"123456"}');
      expectContractError(res, 409, 'ERR_2FA_NO_CHALLENGE');
    }
  });

  it('answers unknown methods on known routes with 405', async () => {
    const t = createApp();
    const res = await request(t.app).put('/2fa/send').send('{}');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });

  it('forwards a getUser failure to the app error handler (fail closed), never to the route', async () => {
    const t = createApp({ options: { getUser: () => Promise.reject(new Error('db down')) } });
    t.app.use(
      (
        _err: unknown,
        _req: unknown,
        res: { status: (n: number) => { send: (s: string) => void } },
        _next: unknown,
      ) => {
        res.status(500).send('Internal Server Error');
      },
    );
    const res = await request(t.app).post('/2fa/send').set('Content-Type', 'application/json').send('{}');
    expect(res.status).toBe(500);
    expect(res.text).not.toContain('db down');
    expect(t.transport.messages).toHaveLength(0);
    expect((await request(t.app).get('/account')).status).toBe(500);
  });
});

describe('cross-site requests (R-26)', () => {
  const crossSite: [string, Record<string, string>][] = [
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site: same-site', { 'Sec-Fetch-Site': 'same-site' }],
    ['a foreign Origin', { Origin: 'https://evil.example' }],
    ['Origin: null', { Origin: 'null' }],
  ];
  for (const [name, headers] of crossSite) {
    for (const route of ['/2fa/send', '/2fa/resend', '/2fa/voice', '/2fa/verify']) {
      it(`refuses ${route} with ${name}, sending nothing`, async () => {
        const t = createApp();
        const agent = await signIn(t);
        const res = await json(agent, route, { code: '123456' }).set(headers);
        expectContractError(res, 403, 'ERR_2FA_FORBIDDEN_ORIGIN');
        expect(t.transport.messages).toHaveLength(0);
      });
    }
  }

  it('trusts Sec-Fetch-Site over Origin: null (a page with Referrer-Policy: no-referrer)', async () => {
    const t = createApp();
    const agent = await signIn(t);
    await json(agent, '/2fa/send').set({ 'Sec-Fetch-Site': 'same-origin', Origin: 'null' }).expect(200);
  });

  it('refuses Sec-Fetch-Site: cross-site even with a same-host Origin', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const res = await json(agent, '/2fa/send').set({
      'Sec-Fetch-Site': 'cross-site',
      Origin: 'http://localhost',
    });
    expectContractError(res, 403, 'ERR_2FA_FORBIDDEN_ORIGIN');
  });

  it('accepts a same-origin request with Origin and Sec-Fetch-Site', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const res = await json(agent, '/2fa/send')
      .set({ 'Sec-Fetch-Site': 'same-origin', Origin: 'http://localhost' })
      .set('Host', 'localhost');
    expect(res.status).toBe(200);
  });
});

describe('posts that are not JSON: a form token, or the browser vouching for the origin (R-26)', () => {
  const post = (agent: Awaited<ReturnType<typeof signIn>>, route: string) =>
    agent.post(route).set('Host', 'localhost');

  it('refuses an empty or form body that neither carries its token nor proves its origin', async () => {
    const t = createApp();
    const agent = await signIn(t);
    for (const res of [
      await post(agent, '/2fa/send'),
      await post(agent, '/2fa/send').type('form').send({ returnTo: '/' }),
      await post(agent, '/2fa/send').type('form').send({ tfa_csrf: 'forged' }),
      await post(agent, '/2fa/send').set('Sec-Fetch-Site', 'none'),
    ]) {
      expectContractError(res, 403, 'ERR_2FA_FORBIDDEN_ORIGIN');
      expect(res.body.error.message).toBe('Send JSON, or a form with its tfa_csrf token.');
    }
    expect(t.transport.messages).toHaveLength(0);
  });

  it('counts the scheme: an Origin of the same host over another scheme proves nothing', async () => {
    const t = createApp();
    const agent = await signIn(t);
    // This server speaks http: an https Origin (or, for an https site, an http one) is another origin.
    for (const origin of ['https://localhost', 'http://localhost:8080', 'http://localhost.evil.example']) {
      expectContractError(
        await post(agent, '/2fa/send').set('Origin', origin),
        403,
        'ERR_2FA_FORBIDDEN_ORIGIN',
      );
    }
    expect(t.transport.messages).toHaveLength(0);
    // Behind a TLS proxy the app trusts, the scheme is the proxy's: the https Origin matches.
    t.app.set('trust proxy', 'loopback');
    const proxied = await post(agent, '/2fa/send').set({
      Origin: 'https://localhost',
      'X-Forwarded-Proto': 'https',
    });
    expect(proxied.status, JSON.stringify(proxied.body)).toBe(200);
    const plain = await post(agent, '/2fa/resend').set({
      Origin: 'http://localhost',
      'X-Forwarded-Proto': 'https',
    });
    expectContractError(plain, 403, 'ERR_2FA_FORBIDDEN_ORIGIN');
  });

  for (const [name, headers] of [
    ['Sec-Fetch-Site: same-origin', { 'Sec-Fetch-Site': 'same-origin' }],
    ['an Origin naming this host (a browser without Fetch Metadata)', { Origin: 'http://localhost' }],
  ] as const) {
    it(`accepts a body-less POST /send and /resend with ${name}`, async () => {
      const t = createApp();
      const agent = await signIn(t);
      const sent = await post(agent, '/2fa/send').set(headers);
      expect(sent.status, JSON.stringify(sent.body)).toBe(200);
      expect(t.transport.messages).toHaveLength(1);
      t.clock.advance(30_000);
      expect((await post(agent, '/2fa/resend').set(headers)).status).toBe(200);
      expect(t.transport.messages).toHaveLength(2);
    });
  }
});

describe('what the store holds (R-06)', () => {
  it('never holds the code or the phone number in clear', async () => {
    const clock = createClock();
    const store = recordingStore(memoryStore({ now: clock.now }));
    const t = createApp({ clock, store });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    t.clock.advance(30_000);
    await json(agent, '/2fa/resend').expect(200);
    await json(agent, '/2fa/verify', { code: code === '000000' ? '000001' : '000000' });
    await json(agent, '/2fa/verify', { code }).expect(200);
    expect(store.written.length).toBeGreaterThan(5);
    const everything = store.written.map((w) => `${w.key} ${w.value}`).join('\n');
    expect(everything).not.toContain(code);
    expect(everything).not.toContain('32470123401');
    // Keys name users and numbers only by keyed hashes.
    expect(store.written.map((w) => w.key).join('\n')).not.toContain('u-alice');
    // The provider did get the code.
    expect(t.transport.messages[0]?.text).toContain(code);
  });
});
