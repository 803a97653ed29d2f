/**
 * POST /2fa/verify takes one of two paths: the store's `verifyAttempt` (one call; one Lua script on
 * Redis, one SQL function on PostgreSQL) or the five generic methods under a lock. A scripted run through every outcome (wrong
 * codes to exhaustion, the lockout delay, its doubling, the hard lock and unlock, expiry, replay, no
 * challenge, another number on file) must answer the same on both, byte for byte in status, error
 * code, attemptsLeft, Retry-After and events, on the memory store, a real Redis and a real PostgreSQL.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { memoryStore } from '../../src/stores/memory-store.js';
import { postgresStore } from '../../src/stores/postgres-store.js';
import { redisStore } from '../../src/stores/redis-store.js';
import type { Store } from '../../src/stores/store.js';
import {
  type Agent,
  createApp,
  createClock,
  json,
  sendCode,
  signIn,
  type TestApp,
  wrongCode,
} from '../helpers/create-app.js';
import { POSTGRES_CLIENTS, requirePostgres, uniqueTable, usePostgres } from '../helpers/postgres.js';
import {
  flushPrefix,
  REDIS_CLIENTS,
  type RedisConnection,
  requireRedis,
  uniquePrefix,
} from '../helpers/redis.js';
import { runStoreContract } from '../helpers/store-contract.js';
import { withoutVerifyAttempt, withVerifyAttempt } from '../helpers/verify-attempt.js';

const redisUp = await requireRedis();
const postgresUp = await requirePostgres();
const OPTIONS = { maxAttempts: 3, lockout: { threshold: 4, baseMs: 60_000, hardLimit: 6 } };

/** Everything a client and a listener can see of one verify. */
type Seen = {
  step: string;
  status: number;
  code?: string;
  attemptsLeft?: number;
  retryAfter?: string;
  events: string[];
};

/** Counts the one-call verifies, to show which path ran. */
function counting(store: Store) {
  const counter = { calls: 0 };
  const verifyAttempt = store.verifyAttempt?.bind(store);
  const counted = Object.create(store) as Store;
  counted.verifyAttempt =
    verifyAttempt &&
    ((input) => {
      counter.calls++;
      return verifyAttempt(input);
    });
  return { store: counted, counter };
}

async function scenario(store: Store): Promise<Seen[]> {
  const t: TestApp = createApp({ store, clock: createClock(), options: OPTIONS });
  const seen: Seen[] = [];
  let eventsBefore = 0;
  async function verify(step: string, agent: Agent, code: string) {
    const res = await json(agent, '/2fa/verify', { code });
    const events = t.events.slice(eventsBefore).map((e) => {
      const { type, attemptsLeft, failures, channel } = e as unknown as Record<string, unknown>;
      return JSON.stringify({ type, attemptsLeft, failures, channel });
    });
    eventsBefore = t.events.length;
    seen.push({
      step,
      status: res.status,
      code: res.body?.error?.code,
      attemptsLeft: res.body?.error?.attemptsLeft,
      retryAfter: res.headers['retry-after'],
      events,
    });
  }
  const alice = await signIn(t);
  await verify('no challenge yet', alice, '000000');
  let code = await sendCode(t, alice);
  for (let i = 1; i <= 3; i++) await verify(`wrong ${i}`, alice, wrongCode(code));
  await verify('right code after exhaustion', alice, code);
  t.clock.advance(5 * 60_000);
  code = await sendCode(t, alice);
  eventsBefore = t.events.length;
  await verify('wrong 4: the delay starts', alice, wrongCode(code));
  await verify('right code inside the delay', alice, code);
  t.clock.advance(60_000);
  await verify('wrong 5: the delay doubles', alice, wrongCode(code));
  t.clock.advance(120_000);
  await verify('right code after the delay', alice, code);
  await verify('replay', alice, code);

  const bob = await signIn(t, 'bob');
  const bobCode = await sendCode(t, bob, 'bob');
  eventsBefore = t.events.length;
  t.clock.advance(5 * 60_000 + 1);
  await verify('expired', bob, bobCode);
  t.clock.advance(60_000);
  const fresh = await sendCode(t, bob, 'bob');
  eventsBefore = t.events.length;
  t.phones.set('u-bob', '+32470000999');
  await verify('another number on file', bob, fresh);
  t.phones.set('u-bob', '+32470123402');
  for (let i = 1; i <= 3; i++) await verify(`bob wrong ${i}`, bob, wrongCode(fresh));
  for (const wait of [60_000, 120_000, 240_000]) {
    t.clock.advance(5 * 60_000 + wait);
    const next = await sendCode(t, bob, 'bob').catch(() => '');
    eventsBefore = t.events.length;
    await verify(`bob wrong after ${wait} ms`, bob, next ? wrongCode(next) : '000000');
  }
  await verify('hard lock: the right code is refused', bob, fresh);
  await t.tfa.unlock('u-bob');
  t.clock.advance(25 * 3600_000); // past the number's daily send budget
  const last = await sendCode(t, bob, 'bob');
  eventsBefore = t.events.length;
  await verify('after unlock', bob, last);
  return seen;
}

// The test helper's verifyAttempt (the route tests' one-call path on the memory store) keeps the contract.
runStoreContract('memoryStore() with the test helper verifyAttempt', async () => {
  let time = 1_000_000;
  return {
    store: withVerifyAttempt(memoryStore({ now: () => time })),
    advance: (ms) => {
      time += ms;
    },
  };
});

describe('POST /2fa/verify: the one-call path and the generic path answer alike', () => {
  it('on the memory store: its own verifyAttempt, the test helper one, and none', async () => {
    const generic = await scenario(withoutVerifyAttempt(memoryStore({ now: createClock().now })));
    const own = counting(memoryStore({ now: createClock().now }));
    const helper = counting(withVerifyAttempt(memoryStore({ now: createClock().now })));
    expect(await scenario(own.store)).toEqual(generic);
    expect(await scenario(helper.store)).toEqual(generic);
    expect(own.counter.calls).toBeGreaterThanOrEqual(8);
    expect(helper.counter.calls).toBeGreaterThanOrEqual(8);
    // The run reaches every outcome.
    const codes = new Set(generic.map((s) => s.code ?? String(s.status)));
    for (const code of [
      'ERR_2FA_NO_CHALLENGE',
      'ERR_2FA_CODE_INVALID',
      'ERR_2FA_TOO_MANY_ATTEMPTS',
      'ERR_2FA_LOCKED',
      'ERR_2FA_CODE_EXPIRED',
      '200',
    ]) {
      expect(codes, code).toContain(code);
    }
    expect(generic.flatMap((s) => s.events).join()).toContain('user.locked');
  });

  it('verifies a number on file spelt in E.164 shape but not canonically (+320…), on both paths', async () => {
    for (const store of [memoryStore(), withoutVerifyAttempt(memoryStore())]) {
      const t = createApp({ store });
      t.phones.set('u-alice', '+320470123401'); // libphonenumber: +32470123401
      const alice = await signIn(t);
      expect((await json(alice, '/2fa/send')).status).toBe(200);
      const code = t.transport.lastCode('+32470123401') as string;
      expect((await json(alice, '/2fa/verify', { code: wrongCode(code) })).status).toBe(400);
      expect((await json(alice, '/2fa/verify', { code })).status).toBe(200);
    }
  });

  it('memoryStore() as built verifies in one call, without the lock and counters of the generic path', async () => {
    const store = memoryStore();
    const oneCall = vi.spyOn(store, 'verifyAttempt');
    const generic = ['get', 'getMany', 'set', 'delete', 'consume', 'increment'] as const;
    const spies = generic.map((name) => vi.spyOn(store, name));
    const t = createApp({ store, options: OPTIONS });
    const alice = await signIn(t);
    const code = await sendCode(t, alice);
    for (const spy of spies) spy.mockClear();
    expect((await json(alice, '/2fa/verify', { code: wrongCode(code) })).status).toBe(400);
    expect((await json(alice, '/2fa/verify', { code })).status).toBe(200);
    expect(oneCall).toHaveBeenCalledTimes(2);
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });

  for (const { name, connect } of REDIS_CLIENTS) {
    describe.skipIf(!redisUp)(`on Redis (${name})`, () => {
      const prefix = uniquePrefix('verify-paths');
      let connection: RedisConnection | undefined;
      afterAll(async () => {
        if (!connection) return;
        await flushPrefix(connection.sendCommand, prefix);
        await connection.close();
      });

      it('the Lua script answers as the generic path does', async () => {
        connection = await connect();
        const { sendCommand } = connection;
        const reference = await scenario(memoryStore({ now: createClock().now }));
        const generic = await scenario(
          withoutVerifyAttempt(redisStore({ sendCommand, prefix: `${prefix}g:` })),
        );
        const { store, counter } = counting(redisStore({ sendCommand, prefix: `${prefix}s:` }));
        const script = await scenario(store);
        expect(counter.calls).toBeGreaterThanOrEqual(8);
        expect(generic).toEqual(reference);
        expect(script).toEqual(reference);
      });
    });
  }

  for (const { name, connect } of POSTGRES_CLIENTS) {
    describe.skipIf(!postgresUp)(`on PostgreSQL (${name})`, () => {
      const tables = [uniqueTable('verify_paths_generic'), uniqueTable('verify_paths_function')];
      const query = usePostgres(connect, () => tables);

      it('the PL/pgSQL function answers as the generic path does', async () => {
        const [genericTable, functionTable] = tables as [string, string];
        const genericStore = postgresStore({ query, table: genericTable });
        const functionStore = postgresStore({ query, table: functionTable });
        await genericStore.migrate();
        await functionStore.migrate();
        const reference = await scenario(memoryStore({ now: createClock().now }));
        const generic = await scenario(withoutVerifyAttempt(genericStore));
        const { store, counter } = counting(functionStore);
        const oneCall = await scenario(store);
        expect(counter.calls).toBeGreaterThanOrEqual(8);
        expect(generic).toEqual(reference);
        expect(oneCall).toEqual(reference);
      });
    });
  }
});
