import { sign } from 'cookie-signature';
import type { RequestHandler } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/crypto.js';
import { deviceKey } from '../../src/lifecycle/devices/records.js';
import { json, SECRET, signIn, USERS } from '../helpers/create-app.js';
import { createLifecycleApp, signInAgain, verifiedAgent } from '../helpers/lifecycle.js';

type Agent = Awaited<ReturnType<typeof verifiedAgent>>;

/** The device cookie's value in a browser's jar. */
function deviceCookieOf(agent: Agent): string {
  const jar = (
    agent as unknown as { jar: { getCookie(name: string, access: object): { value: string } | undefined } }
  ).jar;
  const cookie = jar.getCookie('2fa-device', {
    domain: '127.0.0.1',
    path: '/',
    secure: false,
    script: false,
  });
  if (!cookie) throw new Error('no device cookie');
  return decodeURIComponent(cookie.value);
}

/** A remembered device for `username`, then a fresh sign-in on it (no verified state yet). */
async function rememberedThenNewSession(
  t: ReturnType<typeof createLifecycleApp>,
  username: 'alice' | 'bob' = 'alice',
) {
  const agent = await verifiedAgent(t, username, { remember: true });
  await signInAgain(agent, username);
  return agent;
}

/** The guard's status for a JSON client with exactly this device cookie, in a new session of `username`. */
async function withDeviceCookie(
  t: ReturnType<typeof createLifecycleApp>,
  value: string,
  username: 'alice' | 'bob' = 'alice',
): Promise<number> {
  const agent = await signIn(t, username);
  const res = await agent
    .get('/api/data')
    .set('Accept', 'application/json')
    .set('Cookie', `2fa-device=${encodeURIComponent(value)}`);
  return res.status;
}

/** The signed payload of a device cookie (`payload.signature`, cookie-signature's format). */
const payloadOf = (cookie: string) => cookie.slice(0, cookie.lastIndexOf('.'));

const cleared = (res: { headers: Record<string, unknown> }) =>
  ([] as string[])
    .concat((res.headers['set-cookie'] as string[] | undefined) ?? [])
    .some((c) => c.startsWith('2fa-device=;'));

describe('a remembered device stops working', () => {
  it('after tfa.devices.revoke: the replayed cookie is refused and cleared', async () => {
    const t = createLifecycleApp();
    const agent = await rememberedThenNewSession(t);
    const cookie = deviceCookieOf(agent);
    const [device] = await t.tfa.devices.list(USERS.alice.id);
    expect(await t.tfa.devices.revoke(USERS.alice.id, device?.id as string)).toBe(true);

    const refused = await agent.get('/api/data').set('Accept', 'application/json').expect(401);
    expect(refused.body.error.code).toBe('ERR_2FA_REQUIRED');
    expect(cleared(refused)).toBe(true);
    // The same cookie, replayed from elsewhere after the revoke.
    expect(await withDeviceCookie(t, cookie)).toBe(401);
    expect(t.events.filter((e) => e.type === 'device.revoked')).toEqual([
      expect.objectContaining({ userId: USERS.alice.id, deviceId: device?.id }),
    ]);
  });

  it('after a revoke, a session it already let in keeps its verified state until verifiedTtlMs or a version bump (as documented)', async () => {
    // README "Remembered devices" and API.md section 8: the revoke stops the cookie from opening new
    // sessions; the guard reads no store on a verified request, so an admitted session lasts until
    // its verified state ends, and a version bump ends it at once.
    const t = createLifecycleApp();
    const admitted = await rememberedThenNewSession(t);
    await admitted.get('/api/data').expect(200);
    const [device] = await t.tfa.devices.list(USERS.alice.id);
    expect(await t.tfa.devices.revoke(USERS.alice.id, device?.id as string)).toBe(true);
    await admitted.get('/api/data').expect(200);
    // Past verifiedTtlMs (12 h by default) the revoked device cannot let it in again.
    t.clock.advance(12 * 3_600_000);
    await admitted.get('/api/data').set('Accept', 'application/json').expect(401);
    // A version bump ends an admitted session at once.
    const other = await rememberedThenNewSession(t);
    await other.get('/api/data').expect(200);
    t.versions.set(USERS.alice.id, 1);
    await other.get('/api/data').set('Accept', 'application/json').expect(401);
  });

  it('after tfa.devices.revokeAll', async () => {
    const t = createLifecycleApp();
    const one = await rememberedThenNewSession(t);
    const two = await rememberedThenNewSession(t);
    expect(await t.tfa.devices.revokeAll(USERS.alice.id)).toBe(2);
    await one.get('/api/data').set('Accept', 'application/json').expect(401);
    await two.get('/api/data').set('Accept', 'application/json').expect(401);
  });

  it('after a version bump (password or phone change), for every device', async () => {
    const t = createLifecycleApp();
    const agent = await rememberedThenNewSession(t);
    const cookie = deviceCookieOf(agent);
    t.versions.set(USERS.alice.id, 1);
    const refused = await agent.get('/api/data').set('Accept', 'application/json').expect(401);
    expect(cleared(refused)).toBe(true);
    expect(await withDeviceCookie(t, cookie)).toBe(401);
    // Back to the old version: the record went with the bump, so nothing comes back.
    t.versions.set(USERS.alice.id, 0);
    expect(await withDeviceCookie(t, cookie)).toBe(401);
  });

  it('after its ttlMs, whatever the cookie says', async () => {
    const t = createLifecycleApp({ options: { rememberDevice: { ttlMs: 86_400_000 } } });
    const agent = await rememberedThenNewSession(t);
    t.clock.advance(86_400_000);
    await agent.get('/api/data').set('Accept', 'application/json').expect(401);
  });

  it('does not satisfy a freshness check: requireSecondFactor.within(ms), new recovery codes', async () => {
    const t = createLifecycleApp();
    // within(ms) is step-up's (issue 11, part 1): mounted here when it exists; it judges freshness
    // with src/lifecycle/fresh.ts, as POST /2fa/recovery/generate does.
    const within = (t.tfa.requireSecondFactor as { within?: (ms: number) => RequestHandler }).within;
    if (within) t.app.get('/sensitive', within(300_000), (_req, res) => res.send('ok'));
    const agent = await rememberedThenNewSession(t);
    const passed = await agent.get('/account').expect(200);
    expect(passed.text).toBe('account of u-alice via device');
    const res = await json(agent, '/2fa/recovery/generate').expect(401);
    expect(res.body.error.code).toBe('ERR_2FA_REQUIRED');
    expect(t.vault.saves).toHaveLength(0);
    if (within) await agent.get('/sensitive').set('Accept', 'application/json').expect(401);
    // A code typed in this session makes it fresh again.
    const coded = await verifiedAgent(t);
    await json(coded, '/2fa/recovery/generate').expect(200);
    if (within) await coded.get('/sensitive').expect(200);
  });
});

describe('a device cookie that is not this user’s own, intact and live is refused', () => {
  it("another user's device cookie in alice's session", async () => {
    const t = createLifecycleApp();
    const bob = await rememberedThenNewSession(t, 'bob');
    await bob.get('/api/data').expect(200);
    expect(await withDeviceCookie(t, deviceCookieOf(bob), 'alice')).toBe(401);
    expect(await withDeviceCookie(t, deviceCookieOf(bob), 'bob')).toBe(200);
  });

  it('a tampered cookie: one character changed, trailing garbage, signed with another secret, unsigned', async () => {
    const t = createLifecycleApp();
    const alice = await rememberedThenNewSession(t);
    const cookie = deviceCookieOf(alice);
    const payload = payloadOf(cookie);
    const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
    const claim = JSON.parse(Buffer.from(payload, 'base64url').toString()) as unknown[];
    const forged = Buffer.from(
      JSON.stringify(['u-alice', '0', claim[2], 'guessed-secret', claim[4]]),
    ).toString('base64url');
    for (const bad of [
      flip(cookie, 10),
      flip(cookie, cookie.length - 3),
      `${cookie}x`,
      payload,
      sign(payload, 'another-secret-that-is-long-enough-0123456789'),
      // Correctly signed, but a secret the store never saw.
      sign(forged, SECRET),
    ]) {
      expect(await withDeviceCookie(t, bad), bad).toBe(401);
    }
    // The genuine one still works.
    expect(await withDeviceCookie(t, cookie)).toBe(200);
  });

  it('a device cookie alone is not a session: without a first factor the answer is 401 ERR_2FA_UNAUTHENTICATED', async () => {
    const t = createLifecycleApp();
    const alice = await rememberedThenNewSession(t);
    const res = await request(t.app)
      .get('/api/data')
      .set('Accept', 'application/json')
      .set('Cookie', `2fa-device=${encodeURIComponent(deviceCookieOf(alice))}`)
      .expect(401);
    expect(res.body.error.code).toBe('ERR_2FA_UNAUTHENTICATED');
  });

  it('keeps the device secret out of the store, events and logs (the store holds its hash only)', async () => {
    const t = createLifecycleApp();
    const alice = await rememberedThenNewSession(t);
    await alice.get('/api/data').expect(200);
    const cookie = deviceCookieOf(alice);
    const claim = JSON.parse(Buffer.from(payloadOf(cookie), 'base64url').toString()) as string[];
    const token = claim[3] as string;
    expect(token.length).toBeGreaterThanOrEqual(24);
    const events = JSON.stringify(t.events);
    expect(events).not.toContain(token);
    expect(t.logs.join('\n')).not.toContain(token);
    const [device] = await t.tfa.devices.list(USERS.alice.id);
    const stored = await t.store.get(deviceKey(fingerprint(`user:${USERS.alice.id}`), device?.id as string));
    expect(stored).toBeDefined();
    expect(stored).not.toContain(token);
    expect(JSON.stringify(device)).not.toContain(token);
    expect(device?.ipPrefix).toBe('127.0.0.0/24');
  });
});
