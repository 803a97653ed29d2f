/**
 * Recovery codes and remembered devices on a real Redis, two app instances on two clients
 * (node-redis and ioredis) sharing the store and the app's code storage: a code is used once
 * whichever instance the requests reach, and a device revoked on one is refused on the other.
 */
import { describe, expect, it } from 'vitest';
import { redisStore } from '../../src/stores/redis-store.js';
import { json, signIn, USERS } from '../helpers/create-app.js';
import { createLifecycleApp, createVault, signInAgain, verifiedAgent } from '../helpers/lifecycle.js';
import { REDIS_CLIENTS, requireRedis, uniquePrefix, useRedis } from '../helpers/redis.js';

const redisUp = await requireRedis();
const PREFIX = uniquePrefix('lifecycle');

describe.runIf(redisUp)('recovery codes and remembered devices on Redis, two instances', () => {
  const [nodeRedis, ioredis] = REDIS_CLIENTS;
  const first = useRedis(() => (nodeRedis as (typeof REDIS_CLIENTS)[number]).connect(), PREFIX);
  const second = useRedis(() => (ioredis as (typeof REDIS_CLIENTS)[number]).connect(), PREFIX);

  function pair(label: string) {
    const prefix = `${PREFIX}${label}:`;
    const vault = createVault();
    // A real clock: Redis keeps its own time for the TTLs.
    const clock = { now: () => Date.now(), advance: () => {} };
    const a = createLifecycleApp({ clock, vault, store: redisStore({ sendCommand: first, prefix }) });
    const b = createLifecycleApp({ clock, vault, store: redisStore({ sendCommand: second, prefix }) });
    return { a, b, vault };
  }

  it('50 parallel uses of one recovery code over both instances: exactly one succeeds', async () => {
    const { a, b, vault } = pair('codes');
    const codes = await a.tfa.recovery.generate(USERS.alice.id);
    const agents = await Promise.all(Array.from({ length: 50 }, (_, i) => signIn(i % 2 ? a : b)));
    const answers = await Promise.all(
      agents.map((agent) => json(agent, '/2fa/recovery/verify', { code: codes[0] })),
    );
    expect(answers.filter((res) => res.status === 200)).toHaveLength(1);
    expect([...a.events, ...b.events].filter((e) => e.type === 'recovery.used')).toHaveLength(1);
    expect(vault.saved.get(USERS.alice.id)).toHaveLength(9);
  });

  it('a device remembered through one instance is admitted by the other, until revoked there', async () => {
    const { a, b } = pair('devices');
    const agent = await verifiedAgent(a, 'alice', { remember: true });
    await signInAgain(agent);
    // Same cookie jar, the other instance: the sessions live per app, so sign in there too.
    const other = await signIn(b);
    const cookie = (
      agent as unknown as { jar: { getCookie(n: string, o: object): { value: string } } }
    ).jar.getCookie('2fa-device', { domain: '127.0.0.1', path: '/', secure: false, script: false }).value;
    const withDevice = () =>
      other.get('/api/data').set('Accept', 'application/json').set('Cookie', `2fa-device=${cookie}`);
    expect((await withDevice()).status).toBe(200);
    const devices = await b.tfa.devices.list(USERS.alice.id);
    expect(devices).toHaveLength(1);
    expect(await b.tfa.devices.revoke(USERS.alice.id, devices[0]?.id as string)).toBe(true);
    await agent.get('/api/data').set('Accept', 'application/json').expect(401);
    expect(await a.tfa.devices.list(USERS.alice.id)).toEqual([]);
  });
});
