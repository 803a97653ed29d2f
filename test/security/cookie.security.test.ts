import { sign } from 'cookie-signature';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import {
  createApp,
  json,
  SECRET,
  sendCode,
  signIn,
  type TestApp,
  USERS,
  type Username,
} from '../helpers/create-app.js';
import { sessionIdOf, verifiedCookie } from '../helpers/verified-cookie.js';

/** A verified browser, with its session cookie and its verified cookie (raw, URL-decoded). */
async function verifiedBrowser(t: TestApp, who: Username = 'alice') {
  const agent = await signIn(t, who);
  const code = await sendCode(t, agent, who);
  const res = await json(agent, '/2fa/verify', { code }).expect(200);
  const setCookies = (res.headers['set-cookie'] as unknown as string[]) ?? [];
  const verified = setCookies.find((c) => c.startsWith('2fa='));
  const raw = decodeURIComponent(verified?.split(';')[0]?.slice('2fa='.length) ?? '');
  const session = (await agent.get('/api/data').expect(200)).request.cookies
    .split('; ')
    .find((c: string) => c.startsWith('connect.sid='));
  expect(raw).toMatch(/^v2\.sms\.\d+\.\d+\.[A-Za-z0-9_-]{43}$/);
  expect(session).toBeTruthy();
  return { agent, raw, session: session as string };
}

const withCookie = (t: TestApp, session: string, value: string) =>
  request(t.app)
    .get('/api/data')
    .set('Cookie', `${session}; 2fa=${encodeURIComponent(value)}`);

describe('the verified cookie (R-32, R-33)', () => {
  it('passes the guard as issued (the control for the cases below)', async () => {
    const t = createApp();
    const { raw, session } = await verifiedBrowser(t);
    await withCookie(t, session, raw).expect(200);
  });

  const tampered: [string, (raw: string) => string][] = [
    ['a flipped payload character', (raw) => raw.replace(/\.(\d)/, (_, d) => `.${(Number(d) + 1) % 10}`)],
    ['a flipped signature character', (raw) => raw.slice(0, -1) + (raw.endsWith('A') ? 'B' : 'A')],
    ['a truncated signature', (raw) => raw.slice(0, -3)],
    ['trailing garbage after the signature', (raw) => `${raw}xyz`],
    ['an extra signature segment', (raw) => `${raw}.${raw.slice(-43)}`],
    ['the payload alone', (raw) => raw.slice(0, raw.lastIndexOf('.'))],
    ['an empty value', () => ''],
    ['garbage', () => '%%%not-a-cookie\u0000'],
  ];
  for (const [name, mutate] of tampered) {
    it(`refuses ${name}`, async () => {
      const t = createApp();
      const { raw, session } = await verifiedBrowser(t);
      const res = await withCookie(t, session, mutate(raw)).expect(401);
      expect(res.body.error.code).toBe('ERR_2FA_REQUIRED');
    });
  }

  it('refuses the same text signed with another secret, or for another session', async () => {
    const t = createApp();
    const { raw, session } = await verifiedBrowser(t);
    const [, method, verifiedAt, expiresAt] = raw.split('.');
    const claim = { method: method as 'sms', verifiedAt: Number(verifiedAt), expiresAt: Number(expiresAt) };
    const alice = { id: USERS.alice.id, sessionId: sessionIdOf(session), version: 0 };
    expect(verifiedCookie(SECRET, alice, claim)).toBe(raw);
    const other = 'another-secret-of-sufficient-length-0000';
    await withCookie(t, session, verifiedCookie(other, alice, claim)).expect(401);
    await withCookie(t, session, verifiedCookie(SECRET, { ...alice, sessionId: 'another' }, claim)).expect(
      401,
    );
    await withCookie(t, session, verifiedCookie(SECRET, { ...alice, version: 1 }, claim)).expect(401);
  });

  it("refuses Alice's verified cookie in Bob's session", async () => {
    const t = createApp();
    const alice = await verifiedBrowser(t, 'alice');
    const bob = await signIn(t, 'bob');
    const bobSession = (await bob.get('/2fa/status')).request.cookies
      .split('; ')
      .find((c: string) => c.startsWith('connect.sid='));
    expect(bobSession).toBeTruthy();
    await withCookie(t, bobSession as string, alice.raw).expect(401);
  });

  it("refuses a cookie signed with the real secret for Bob's id in Alice's session", async () => {
    const t = createApp();
    const { raw, session } = await verifiedBrowser(t);
    const [, , verifiedAt, expiresAt] = raw.split('.');
    const claim = { method: 'sms' as const, verifiedAt: Number(verifiedAt), expiresAt: Number(expiresAt) };
    const forged = verifiedCookie(
      SECRET,
      { id: USERS.bob.id, sessionId: sessionIdOf(session), version: 0 },
      claim,
    );
    await withCookie(t, session, forged).expect(401);
  });

  it('refuses a cookie of the earlier format (cookie-signature over JSON), even correctly signed', async () => {
    const t = createApp();
    const { raw, session } = await verifiedBrowser(t);
    const [, , verifiedAt, expiresAt] = raw.split('.');
    const payload = ['u-alice', 'a-session-fingerprint', '0', Number(verifiedAt), Number(expiresAt), 'sms'];
    const old = sign(Buffer.from(JSON.stringify(payload)).toString('base64url'), SECRET);
    const res = await withCookie(t, session, old).expect(401);
    expect(res.body.error.code).toBe('ERR_2FA_REQUIRED');
  });
});

describe('a browser holding a cookie of the earlier format', () => {
  it('is asked to verify once, then passes with the new cookie that replaces it', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const session = (await agent.get('/2fa/status')).request.cookies
      .split('; ')
      .find((c: string) => c.startsWith('connect.sid=')) as string;
    const now = t.clock.now();
    const payload = ['u-alice', 'a-session-fingerprint', '0', now, now + 3_600_000, 'sms'];
    const old = sign(Buffer.from(JSON.stringify(payload)).toString('base64url'), SECRET);
    const refused = await withCookie(t, session, old).expect(401);
    expect(refused.body.error.code).toBe('ERR_2FA_REQUIRED');
    const code = await sendCode(t, agent);
    const res = await json(agent, '/2fa/verify', { code }).expect(200);
    const fresh = ((res.headers['set-cookie'] as unknown as string[]) ?? []).find((c) =>
      c.startsWith('2fa='),
    );
    const raw = decodeURIComponent(fresh?.split(';')[0]?.slice('2fa='.length) ?? '');
    expect(raw.startsWith('v2.')).toBe(true);
    await withCookie(t, session, raw).expect(200);
  });
});

describe('secret rotation (F-13)', () => {
  it('signs with the first secret and accepts cookies signed with any listed secret', async () => {
    const oldSecret = SECRET;
    const newSecret = 'the-new-secret-after-rotation-0123456789';
    const t = createApp({ options: { secret: [newSecret, oldSecret] } });
    const { raw, session } = await verifiedBrowser(t);
    const [, , verifiedAt, expiresAt] = raw.split('.');
    const claim = { method: 'sms' as const, verifiedAt: Number(verifiedAt), expiresAt: Number(expiresAt) };
    const alice = { id: USERS.alice.id, sessionId: sessionIdOf(session), version: 0 };
    expect(raw).toBe(verifiedCookie(newSecret, alice, claim));
    // A browser verified before the rotation holds the same claim signed with the old secret.
    await withCookie(t, session, verifiedCookie(oldSecret, alice, claim)).expect(200);
    await withCookie(
      t,
      session,
      verifiedCookie('a-secret-that-was-never-listed-000000000', alice, claim),
    ).expect(401);
  });
});

describe('cookie attributes (R-34)', () => {
  it('sets HttpOnly, SameSite=Lax, Path=/ and a Max-Age no longer than verifiedTtlMs', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const res = await json(agent, '/2fa/verify', { code }).expect(200);
    const verified =
      (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('2fa=')) ?? '';
    expect(verified).toMatch(/; HttpOnly/);
    expect(verified).toMatch(/; SameSite=Lax/);
    expect(verified).toMatch(/; Path=\//);
    expect(verified).toMatch(/; Max-Age=43200/);
  });

  it('uses the __Host- prefix and Secure outside development and test', async () => {
    const t = createApp({ options: { cookie: { secure: true } } });
    const agent = await signIn(t);
    const res = await json(agent, '/2fa/send').expect(200);
    const challenge = (res.headers['set-cookie'] as unknown as string[]).find((c) =>
      c.startsWith('__Host-2fa-challenge='),
    );
    expect(challenge).toMatch(/; Secure/);
    expect(challenge).toMatch(/; HttpOnly/);
    expect(challenge).not.toMatch(/Domain=/);
  });

  it('holds only a random id in the challenge cookie', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const res = await json(agent, '/2fa/send').expect(200);
    const challenge =
      (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('2fa-challenge=')) ?? '';
    const value = decodeURIComponent(challenge.split(';')[0]?.slice('2fa-challenge='.length) ?? '');
    expect(value).toMatch(/^[A-Za-z0-9_-]{27}\.[A-Za-z0-9+/]{43}$/);
  });
});
