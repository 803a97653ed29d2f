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
  type Username,
} from '../helpers/create-app.js';

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
  expect(raw).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9+/]+$/);
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
    ['a flipped payload character', (raw) => (raw[0] === 'A' ? 'B' : 'A') + raw.slice(1)],
    ['a flipped signature character', (raw) => raw.slice(0, -1) + (raw.endsWith('A') ? 'B' : 'A')],
    ['a truncated signature', (raw) => raw.slice(0, -3)],
    ['trailing garbage after the signature', (raw) => `${raw}xyz`],
    ['an extra signature segment', (raw) => `${raw}.${raw.split('.')[1]}`],
    ['the payload alone', (raw) => raw.split('.')[0] ?? ''],
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

  it('refuses a payload signed with another secret', async () => {
    const t = createApp();
    const { raw, session } = await verifiedBrowser(t);
    const payload = raw.slice(0, raw.lastIndexOf('.'));
    await withCookie(t, session, sign(payload, 'another-secret-of-sufficient-length-0000')).expect(401);
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

  it('refuses a forged payload for another user, even when signed with the real secret but a stale session', async () => {
    const t = createApp();
    const { raw, session } = await verifiedBrowser(t);
    const [userId, sid, version, at, exp, method] = JSON.parse(
      Buffer.from(raw.split('.')[0] ?? '', 'base64url').toString(),
    );
    expect(userId).toBe('u-alice');
    const forged = Buffer.from(JSON.stringify(['u-bob', sid, version, at, exp, method])).toString(
      'base64url',
    );
    // Signed with the real secret, it names Bob while the session belongs to Alice.
    await withCookie(t, session, sign(forged, SECRET)).expect(401);
  });

  it('refuses a non-array or oddly typed payload signed with the real secret', async () => {
    const t = createApp();
    const { session } = await verifiedBrowser(t);
    for (const payload of [{ u: 'u-alice' }, ['u-alice', '', '0', 'x', 'y', 'sms'], 'string', null]) {
      const value = Buffer.from(JSON.stringify(payload)).toString('base64url');
      await withCookie(t, session, sign(value, SECRET)).expect(401);
    }
  });
});

describe('secret rotation (F-13)', () => {
  it('signs with the first secret and accepts cookies signed with any listed secret', async () => {
    const oldSecret = SECRET;
    const newSecret = 'the-new-secret-after-rotation-0123456789';
    const t = createApp({ options: { secret: [newSecret, oldSecret] } });
    const { raw, session } = await verifiedBrowser(t);
    const payload = raw.slice(0, raw.lastIndexOf('.'));
    expect(raw).toBe(sign(payload, newSecret));
    // A browser verified before the rotation holds the same payload signed with the old secret.
    await withCookie(t, session, sign(payload, oldSecret)).expect(200);
    await withCookie(t, session, sign(payload, 'a-secret-that-was-never-listed-000000000')).expect(401);
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
