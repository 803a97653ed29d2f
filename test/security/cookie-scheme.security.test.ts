/**
 * The cookie jar takes the scheme from its callers: a route that asks once whether the request is
 * HTTPS (`cookies.isSecure`, about a microsecond on a live request) passes the answer to the
 * cookie reads and writes of the same response (`readChallenge`, `writeVerified`,
 * `clearChallenge`), so a verify checks the scheme once. The jar trusts that argument: a wrong one
 * would write the verified cookie without Secure and `__Host-` over HTTPS (readable then over plain
 * HTTP), or a Secure one over HTTP that the browser drops. This suite holds every caller to the
 * request's own answer: every boolean a jar method receives is compared with the jar's own
 * `isSecure` of the request of that call, on both verify paths and every flow that writes the
 * verified cookie, over plain HTTP and over HTTPS (a trusted proxy's X-Forwarded-Proto).
 */
import type { Request, Response } from 'express';
import request from 'supertest';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { CookieJar } from '../../src/cookie.js';
import type { TestApp } from '../helpers/create-app.js';
import { EXPRESS_VERSIONS, USERS } from '../helpers/create-app.js';
import { TYPED } from '../helpers/enroll-app.js';

/** Each jar call that carried a scheme: the method, the scheme passed, the request's own. */
const calls = vi.hoisted(() => [] as { method: string; passed: boolean; own: boolean }[]);

// The setup file (leak-scan.ts) has loaded the package already: a fresh copy, its jar wrapped.
vi.resetModules();
vi.doMock('../../src/cookie.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/cookie.js')>();
  /** The jar with every method's boolean arguments (the scheme, in this API) checked against `isSecure`. */
  const checked = (jar: CookieJar): CookieJar => {
    const wrapped: Record<string, unknown> = {};
    for (const [method, fn] of Object.entries(jar) as [string, (...args: unknown[]) => unknown][]) {
      wrapped[method] =
        method === 'isSecure'
          ? fn
          : (...args: unknown[]) => {
              // Each method's first argument is the request, or the response (its `req`).
              const first = args[0] as Partial<Response> | undefined;
              const req = first?.req ?? (first as Request | undefined);
              for (const arg of args) {
                if (typeof arg === 'boolean') calls.push({ method, passed: arg, own: jar.isSecure(req) });
              }
              return fn(...args);
            };
    }
    return wrapped as unknown as CookieJar;
  };
  return {
    ...real,
    createCookieJar: (config: Parameters<typeof real.createCookieJar>[0]) =>
      checked(real.createCookieJar(config)),
  };
});

const { memoryStore } = await import('../../src/stores/memory-store.js');
const { createApp, createClock } = await import('../helpers/create-app.js');
const { createEnrollApp } = await import('../helpers/enroll-app.js');
const { withoutVerifyAttempt } = await import('../helpers/verify-attempt.js');

beforeEach(() => {
  calls.length = 0;
});

/**
 * A browser that keeps its cookies by hand (supertest's agent drops Secure ones over the test's
 * plain socket), over HTTPS as the app sees it (`trust proxy` and X-Forwarded-Proto) or plain HTTP.
 */
function browser(t: TestApp, https: boolean) {
  if (https) t.app.set('trust proxy', 'loopback');
  const jar = new Map<string, string>();
  const keep = (res: request.Response) => {
    for (const line of (res.headers['set-cookie'] as string[] | undefined) ?? []) {
      const pair = line.slice(0, line.indexOf(';'));
      const name = pair.slice(0, pair.indexOf('='));
      if (line.includes('Expires=Thu, 01 Jan 1970')) jar.delete(name);
      else jar.set(name, pair);
    }
    return res;
  };
  const send = (req: request.Test) => {
    if (https) req.set('X-Forwarded-Proto', 'https');
    if (jar.size > 0) req.set('Cookie', [...jar.values()].join('; '));
    return req.then(keep);
  };
  return {
    cookies: () => [...jar.keys()],
    post: (path: string, body: object = {}) => send(request(t.app).post(path).type('json').send(body)),
    form: (path: string, body: object) => send(request(t.app).post(path).type('form').send(body)),
    get: (path: string) => send(request(t.app).get(path)),
  };
}

type Browser = ReturnType<typeof browser>;

async function signInAs(b: Browser, username: keyof typeof USERS) {
  const res = await b.form('/login', { username, password: USERS[username].password });
  expect(res.status).toBe(200);
}

/** A wrong code, then the right one: the verified cookie, the challenge cleared, the guard passed. */
async function verifyOnce(t: TestApp, b: Browser, path: string, phone: string) {
  const code = t.transport.lastCode(phone) ?? '';
  const wrong = code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
  const refused = await b.post(path, { code: wrong });
  expect(refused.body).toMatchObject({ error: { code: 'ERR_2FA_CODE_INVALID' } });
  expect((await b.post(path, { code })).status).toBe(200);
  expect((await b.get('/api/data')).status).toBe(200);
}

/** Every scheme a jar method was handed equals the request's own; and some were handed. */
function expectOwnSchemes(https: boolean, methods: string[]) {
  expect(calls.filter((call) => call.passed !== call.own)).toEqual([]);
  expect(calls.every((call) => call.own === https)).toBe(true);
  expect([...new Set(calls.map((call) => call.method))].sort()).toEqual([...methods].sort());
}

describe.each(EXPRESS_VERSIONS)('the cookie scheme every caller hands the jar, on %s', (_name, express) => {
  for (const https of [false, true]) {
    const over = https ? 'over HTTPS' : 'over plain HTTP';

    it(`a sign-in verify in one store call (verifyAttempt) passes the request's own scheme, ${over}`, async () => {
      const clock = createClock();
      const t = createApp({ express, clock, store: memoryStore({ now: clock.now }) });
      const b = browser(t, https);
      await signInAs(b, 'alice');
      expect((await b.post('/2fa/send')).status).toBe(200);
      await verifyOnce(t, b, '/2fa/verify', USERS.alice.phone);
      expectOwnSchemes(https, ['readChallenge', 'writeVerified', 'clearChallenge']);
      expect(b.cookies()).toContain(https ? '__Host-2fa' : '2fa');
    });

    it(`a sign-in verify on the five-method path passes the request's own scheme, ${over}`, async () => {
      const clock = createClock();
      const t = createApp({ express, clock, store: withoutVerifyAttempt(memoryStore({ now: clock.now })) });
      const b = browser(t, https);
      await signInAs(b, 'alice');
      expect((await b.post('/2fa/send')).status).toBe(200);
      await verifyOnce(t, b, '/2fa/verify', USERS.alice.phone);
      expectOwnSchemes(https, ['writeVerified', 'clearChallenge']);
    });

    it(`an enrollment verify passes the request's own scheme, ${over}`, async () => {
      const clock = createClock();
      const t = createEnrollApp({ express, clock, store: memoryStore({ now: clock.now }) });
      const b = browser(t, https);
      await signInAs(b, 'dave');
      const sent = await b.post('/2fa/enroll/send', { phone: TYPED.be.national, country: 'BE' });
      expect(sent.status).toBe(200);
      await verifyOnce(t, b, '/2fa/enroll/verify', TYPED.be.e164);
      expectOwnSchemes(https, ['writeVerified']);
    });
  }
});
