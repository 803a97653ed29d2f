/**
 * The send budgets as sliding windows ("5 per hour" is any 60 minutes, "10 per day" any 24 hours),
 * spent all-or-nothing (a try one budget refuses spends nothing of any other), and the app-wide
 * limit, on every kind of store: the memory store, Redis, and a custom store that has only the five
 * required methods (the budgets then lock each record with `increment`).
 */
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { TwoFactorOptions } from '../../src/options.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { redisStore } from '../../src/stores/redis-store.js';
import type { Store } from '../../src/stores/store.js';
import { createApp, createClock, type TestApp, type TestClock, USERS } from '../helpers/create-app.js';
import { headerUser, numberInOwnPrefix, numberInSharedPrefix } from '../helpers/faults.js';
import { REDIS_CLIENTS, requireRedis, uniquePrefix, useRedis } from '../helpers/redis.js';
import { slowStore } from '../helpers/stores.js';

const redisUp = await requireRedis();
const FILE_PREFIX = uniquePrefix('sliding-budgets');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A custom store with the five required methods only: no getMany, no compareAndSet. */
function fiveMethods(inner: Store): Store {
  return {
    get: (k) => inner.get(k),
    set: (k, v, ttl) => inner.set(k, v, ttl),
    delete: (k) => inner.delete(k),
    consume: (k) => inner.consume(k),
    increment: (k, ttl) => inner.increment(k, ttl),
  };
}

type StoreKind = { name: string; create: (clock: TestClock, run: string) => Store };

const redisConnection = REDIS_CLIENTS[0];
const STORES: StoreKind[] = [
  { name: 'memoryStore()', create: (clock) => memoryStore({ now: clock.now }) },
  { name: 'a five-method store', create: (clock) => fiveMethods(memoryStore({ now: clock.now })) },
];

function suite(kind: StoreKind) {
  /** Many users and numbers: the user comes from `X-Test-User`, each request is a new browser. */
  function budgetApp(clock: TestClock, options: Partial<TwoFactorOptions> = {}): TestApp {
    const store = kind.create(clock, uniquePrefix('run'));
    const t: TestApp = createApp({
      clock,
      store,
      options: { getUser: headerUser(() => t.phones), ...options },
    });
    t.app.set('trust proxy', true);
    return t;
  }

  function sendAs(t: TestApp, userId: string, phone: string, ip = '198.51.100.1') {
    t.phones.set(userId, phone);
    return request(t.app)
      .post('/2fa/send')
      .set('Content-Type', 'application/json')
      .set('X-Test-User', userId)
      .set('X-Forwarded-For', ip)
      .send('{}');
  }

  describe(`on ${kind.name}`, () => {
    it('lets 5 SMS reach a number in any 60 minutes, not 10 around the hour', async () => {
      const clock = createClock(Date.UTC(2026, 10, 27, 9, 59, 30));
      const t = budgetApp(clock);
      for (let i = 0; i < 5; i++) expect((await sendAs(t, `a${i}`, USERS.alice.phone)).status).toBe(200);
      clock.advance(40_000); // 10:00:10: a new clock hour, the same 60 minutes
      const after = [];
      for (let i = 0; i < 5; i++) after.push(await sendAs(t, `b${i}`, USERS.alice.phone));
      expect(after.map((r) => r.status)).toEqual(Array(5).fill(429));
      expect(after[0]?.body.error.code).toBe('ERR_2FA_RATE_LIMITED');
      // Free again when the 09:59 sends have left the window: 11:00:00, 59 min 50 s from now.
      expect(after[0]?.headers['retry-after']).toBe(String(59 * 60 + 50));
      expect(t.transport.messages).toHaveLength(5);
      clock.advance((59 * 60 + 50) * 1000);
      expect((await sendAs(t, 'c0', USERS.alice.phone)).status).toBe(200);
    });

    it('lets 10 SMS reach a number in any 24 hours, not 20 around midnight', async () => {
      const clock = createClock(Date.UTC(2026, 10, 27, 23, 0, 0));
      const t = budgetApp(clock, { limits: { phonePerHour: 100, ipPerHour: 1000, prefixPerHour: 1000 } });
      for (let i = 0; i < 10; i++) expect((await sendAs(t, `a${i}`, USERS.alice.phone)).status).toBe(200);
      clock.advance(2 * HOUR); // 01:00 the next day
      const res = await sendAs(t, 'b0', USERS.alice.phone);
      expect(res.status).toBe(429);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(21 * 3600);
      expect(t.transport.messages).toHaveLength(10);
    });

    it("never spends the prefix's budget on tries the number's own budget refused", async () => {
      const clock = createClock();
      const t = budgetApp(clock, { limits: { phonePerHour: 2, prefixPerHour: 4 } });
      const own = numberInSharedPrefix(1);
      await sendAs(t, 'a', own).expect(200);
      await sendAs(t, 'b', own).expect(200);
      // Ten more tries for that number: refused by its own budget, they cost its neighbours nothing.
      for (let i = 0; i < 10; i++) expect((await sendAs(t, `x${i}`, own)).status).toBe(429);
      await sendAs(t, 'n1', numberInSharedPrefix(2)).expect(200);
      await sendAs(t, 'n2', numberInSharedPrefix(3)).expect(200);
      const full = await sendAs(t, 'n3', numberInSharedPrefix(4));
      expect(full.status).toBe(429);
      expect(t.events.at(-1)).toMatchObject({ type: 'send.blocked', reason: 'prefix' });
    });

    it("never spends the IP's budget on tries another budget refused", async () => {
      const clock = createClock();
      const t = budgetApp(clock, { limits: { phonePerHour: 1, ipPerHour: 3 } });
      await sendAs(t, 'a', USERS.alice.phone, '203.0.113.9').expect(200);
      for (let i = 0; i < 5; i++)
        expect((await sendAs(t, `x${i}`, USERS.alice.phone, '203.0.113.9')).status).toBe(429);
      await sendAs(t, 'b', numberInOwnPrefix(1), '203.0.113.9').expect(200);
      await sendAs(t, 'c', numberInOwnPrefix(2), '203.0.113.9').expect(200);
      expect((await sendAs(t, 'd', numberInOwnPrefix(3), '203.0.113.9')).status).toBe(429);
    });

    it('spends nothing of the prefix when parallel tries for one number are refused', async () => {
      const clock = createClock();
      const base = kind.create(clock, uniquePrefix('run'));
      const t: TestApp = createApp({
        clock,
        store: slowStore(base, 5),
        options: { getUser: headerUser(() => t.phones), limits: { phonePerHour: 5, prefixPerHour: 7 } },
      });
      t.app.set('trust proxy', true);
      const own = numberInSharedPrefix(10);
      for (let i = 0; i < 4; i++) await sendAs(t, `a${i}`, own).expect(200);
      const burst = await Promise.all(
        Array.from({ length: 10 }, (_, i) => sendAs(t, `burst${i}`, own, `192.0.2.${i + 1}`)),
      );
      expect(burst.filter((r) => r.status === 200)).toHaveLength(1);
      // The prefix has spent 5 of 7: two neighbours still get their codes, the third does not.
      await sendAs(t, 'n1', numberInSharedPrefix(11)).expect(200);
      await sendAs(t, 'n2', numberInSharedPrefix(12)).expect(200);
      expect((await sendAs(t, 'n3', numberInSharedPrefix(13))).status).toBe(429);
    });

    it('never lets more than the limit through when 20 sends to one number race', async () => {
      const clock = createClock();
      const t: TestApp = createApp({
        clock,
        store: slowStore(kind.create(clock, uniquePrefix('run')), 5),
        options: { getUser: headerUser(() => t.phones), limits: { phonePerHour: 5 } },
      });
      t.app.set('trust proxy', true);
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => sendAs(t, `u${i}`, USERS.alice.phone, `192.0.2.${i + 1}`)),
      );
      // A racer that held a budget for a moment, then lost another, may have turned a third away:
      // under a burst, fewer than 5 may pass; more never do, and nobody gets a 503.
      const admitted = answers.filter((r) => r.status === 200).length;
      expect(admitted).toBeGreaterThanOrEqual(1);
      expect(admitted).toBeLessThanOrEqual(5);
      expect(answers.filter((r) => r.status === 429)).toHaveLength(20 - admitted);
      expect(t.transport.messages).toHaveLength(admitted);
      // The racers turned away spent nothing: the number's budget fills to exactly 5.
      for (let i = admitted; i < 5; i++) await sendAs(t, `later${i}`, USERS.alice.phone).expect(200);
      expect((await sendAs(t, 'sixth', USERS.alice.phone)).status).toBe(429);
      expect(t.transport.messages).toHaveLength(5);
    });

    it('lets a burst of 100 sends from one address through, each budget written once per send', async () => {
      // 100 users behind one NAT address signing in at once, all on the IP and app-wide records:
      // they take turns within the process instead of failing each other's compare-and-set (which
      // turned 28 of them into 503s on Redis). Counted in writes, not in time.
      const clock = createClock();
      const base = kind.create(clock, uniquePrefix('run'));
      let writes = 0;
      const store: Store = {
        get: (k) => base.get(k),
        set: (k, v, ttl) => base.set(k, v, ttl),
        delete: (k) => base.delete(k),
        consume: (k) => base.consume(k),
        increment: (k, ttl) => {
          if (k.endsWith(':lock')) writes++; // a five-method store's compare-and-set
          return base.increment(k, ttl);
        },
      };
      if (base.getMany) store.getMany = (keys) => base.getMany?.(keys) ?? Promise.resolve([]);
      const cas = base.compareAndSet?.bind(base);
      if (cas) {
        store.compareAndSet = (k, expected, v, ttl) => {
          writes++;
          return cas(k, expected, v, ttl);
        };
      }
      const t: TestApp = createApp({
        clock,
        store,
        options: {
          getUser: headerUser(() => t.phones),
          limits: { ipPerHour: 1000, globalPerHour: 1000 },
          storeTimeoutMs: 10_000, // a loaded machine must not turn slow calls into 503s here
        },
      });
      t.app.set('trust proxy', true);
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) => sendAs(t, `u${i}`, numberInOwnPrefix(i), '203.0.113.50')),
      );
      expect(answers.map((r) => r.status)).toEqual(Array(100).fill(200));
      expect(t.transport.messages).toHaveLength(100);
      // Four budget records a send (IP, prefix, the number's hour and day in one record, the app):
      // 400 writes, no retry.
      expect(writes).toBe(400);
    });

    describe('limits.globalPerHour and globalPerDay', () => {
      it('caps the sends of the whole app, whatever the numbers, prefixes and addresses', async () => {
        const clock = createClock();
        const t = budgetApp(clock, { limits: { globalPerHour: 3 } });
        for (let i = 0; i < 3; i++)
          await sendAs(t, `u${i}`, numberInOwnPrefix(i), `192.0.2.${i}`).expect(200);
        const refused = await sendAs(t, 'u3', numberInOwnPrefix(3), '192.0.2.3');
        expect(refused.status).toBe(429);
        expect(refused.body.error.code).toBe('ERR_2FA_RATE_LIMITED');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
        expect(t.events.filter((e) => e.type === 'send.blocked').at(-1)).toMatchObject({ reason: 'global' });
        expect(t.transport.messages).toHaveLength(3);
      });

      it('fires global_limit.reached once when it trips, and says so once in the log', async () => {
        const clock = createClock();
        const t = budgetApp(clock, { limits: { globalPerDay: 2 } });
        await sendAs(t, 'u0', numberInOwnPrefix(0)).expect(200);
        await sendAs(t, 'u1', numberInOwnPrefix(1)).expect(200);
        for (let i = 2; i < 6; i++) expect((await sendAs(t, `u${i}`, numberInOwnPrefix(i))).status).toBe(429);
        const reached = t.events.filter((e) => e.type === 'global_limit.reached');
        expect(reached).toHaveLength(1);
        expect(reached[0]).toMatchObject({ userId: 'u2', reason: 'global' });
        expect(t.logs.filter((line) => /app-wide send limit/.test(line))).toHaveLength(1);
      });

      it('is off by default and refuses a value that is not a positive integer', () => {
        const t = createApp();
        expect(t.tfa).toBeTypeOf('function');
        for (const bad of [0, -1, 1.5, '10']) {
          expect(() => createApp({ options: { limits: { globalPerHour: bad as number } } })).toThrow(
            /limits\.globalPerHour/,
          );
        }
      });
    });
  });
}

for (const kind of STORES) suite(kind);

if (redisConnection) {
  describe.skipIf(!redisUp)('with Redis', () => {
    const sendCommand = useRedis(() => redisConnection.connect(), FILE_PREFIX);
    suite({
      name: `redisStore() (${redisConnection.name})`,
      // Redis keeps its own time: the records' TTLs follow the real clock, the decisions the app's.
      create: (_clock, run) => redisStore({ sendCommand, prefix: `${FILE_PREFIX}${run}` }),
    });
  });
}
