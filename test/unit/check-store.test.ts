import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/stores/memory-store.js';
import { redisStore } from '../../src/stores/redis-store.js';
import type { Store, VerifyAttemptInput } from '../../src/stores/store.js';
import { checkStore } from '../../src/testing/index.js';
import { keysWithPrefix, REDIS_CLIENTS, requireRedis, uniquePrefix, useRedis } from '../helpers/redis.js';
import { withVerifyAttempt } from '../helpers/verify-attempt.js';

const redisUp = await requireRedis();
const FILE_PREFIX = uniquePrefix('check-store');

/**
 * A small store on a Map with its own expiry, every method synchronous inside its promise (so
 * atomic). Correct as written; each broken store below replaces one method with a classic mistake.
 */
function mapStore(): Store & { shutdowns: number } {
  const entries = new Map<string, { value: string; expiresAt: number }>();
  const read = (key: string) => {
    const entry = entries.get(key);
    if (entry && entry.expiresAt <= Date.now()) entries.delete(key);
    return entries.get(key);
  };
  const store = {
    shutdowns: 0,
    async get(key: string) {
      return read(key)?.value;
    },
    async getMany(keys: string[]) {
      return keys.map((key) => read(key)?.value);
    },
    async set(key: string, value: string, ttlMs: number) {
      entries.set(key, { value, expiresAt: Date.now() + ttlMs });
    },
    async delete(key: string) {
      entries.delete(key);
    },
    async consume(key: string) {
      const value = read(key)?.value;
      entries.delete(key);
      return value;
    },
    async increment(key: string, ttlMs: number) {
      const entry = read(key);
      if (!entry) {
        entries.set(key, { value: '1', expiresAt: Date.now() + ttlMs });
        return 1;
      }
      entry.value = String(Number(entry.value) + 1);
      return Number(entry.value);
    },
    async shutdown() {
      store.shutdowns++;
    },
  };
  return store;
}

/** `mapStore()` with some methods replaced; the replacements may call the correct ones. */
function broken(replace: (base: Store) => Partial<Store>): () => Store & { shutdowns: number } {
  return () => {
    const base = mapStore();
    return Object.assign(base, replace({ ...base }));
  };
}

describe('checkStore()', () => {
  describe('on stores that keep the contract', () => {
    it('passes memoryStore()', async () => {
      await expect(checkStore(() => memoryStore())).resolves.toBeUndefined();
    });

    it('passes a store built by an async factory, and calls its shutdown() once', async () => {
      const store = mapStore();
      await expect(checkStore(async () => store, { prefix: 'custom:' })).resolves.toBeUndefined();
      expect(store.shutdowns).toBe(1);
    });

    it('passes a store too slow for its shortest TTL (each increment 150 ms) by retrying with longer TTLs', async () => {
      const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
      const slow = broken((base) => ({
        async increment(key, ttlMs) {
          await sleep(150);
          return base.increment(key, ttlMs);
        },
      }));
      await expect(checkStore(slow)).resolves.toBeUndefined();
    });

    it('deletes the keys it wrote', async () => {
      const store = memoryStore();
      await checkStore(() => ({ ...store, shutdown: undefined }));
      expect(store.size).toBe(0);
    });
  });

  for (const { name, connect } of REDIS_CLIENTS) {
    describe.skipIf(!redisUp)(`on redisStore() over ${name}`, () => {
      const prefix = `${FILE_PREFIX}${name}:`;
      const sendCommand = useRedis(connect, prefix);

      it('passes, and leaves no key behind', async () => {
        await expect(checkStore(() => redisStore({ sendCommand, prefix }))).resolves.toBeUndefined();
        expect(await keysWithPrefix(sendCommand, prefix)).toEqual([]);
      });
    });
  }

  describe('on a broken store', () => {
    const cases: { bug: string; create: () => Store & { shutdowns: number }; message: RegExp }[] = [
      {
        bug: 'a consume that is not atomic (get, then delete after an await)',
        create: broken((base) => ({
          async consume(key) {
            const value = await base.get(key);
            await base.delete(key);
            return value;
          },
        })),
        message: /^checkStore: consume: 50 of 50 concurrent callers got the value; exactly one must$/,
      },
      {
        bug: 'an increment that loses updates (read, then write after an await)',
        create: broken((base) => ({
          async increment(key, ttlMs) {
            const next = Number((await base.get(key)) ?? '0') + 1;
            await base.set(key, String(next), ttlMs);
            return next;
          },
        })),
        message:
          /^checkStore: increment: 50 concurrent increments returned 1 distinct values \(1\); each caller must get its own count, 1 to 50$/,
      },
      {
        bug: 'an increment that resets the TTL on every call',
        create: broken((base) => ({
          async increment(key, ttlMs) {
            const next = await base.increment(key, ttlMs);
            await base.set(key, String(next), ttlMs);
            return next;
          },
        })),
        message:
          /^checkStore: increment: a later increment extended the TTL: .* still counted .*\(returned 3, expected 1\); the TTL is set only when the key is created$/,
      },
      {
        bug: 'a set that ignores the TTL',
        create: broken((base) => ({
          async set(key, value) {
            await base.set(key, value, Number.POSITIVE_INFINITY);
          },
        })),
        message:
          /^checkStore: set: a value set with ttlMs 100 still answered "v" 400 ms later; it must expire$/,
      },
      {
        bug: 'a get that answers null for a missing key',
        create: broken((base) => ({
          async get(key) {
            return (await base.get(key)) ?? (null as never);
          },
        })),
        message: /^checkStore: get: a key never set answered null; it must answer undefined/,
      },
      {
        bug: 'a TTL read as seconds',
        create: broken((base) => ({
          async set(key, value, ttlMs) {
            await base.set(key, value, ttlMs * 1000);
          },
        })),
        message: /^checkStore: set: a value set with ttlMs 100 still answered/,
      },
      {
        bug: 'an increment that ignores the TTL',
        create: broken((base) => ({
          async increment(key) {
            return base.increment(key, Number.POSITIVE_INFINITY);
          },
        })),
        message: /^checkStore: increment: a counter created with ttlMs 100 still counted 400 ms later/,
      },
      {
        bug: 'a consume that does not delete',
        create: broken((base) => ({ consume: (key) => base.get(key) })),
        message: /^checkStore: consume: a second call answered "single-use"; the value must be gone$/,
      },
      {
        bug: 'a set that keeps the first value',
        create: broken((base) => ({
          async set(key, value, ttlMs) {
            if ((await base.get(key)) === undefined) await base.set(key, value, ttlMs);
          },
        })),
        message: /^checkStore: set: a second set must replace the value; get answered "\{/,
      },
      {
        bug: 'a delete that throws for a missing key',
        create: broken((base) => ({
          async delete(key) {
            if ((await base.get(key)) === undefined) throw new Error('no such key');
            await base.delete(key);
          },
        })),
        message: /^checkStore: delete of a missing key threw: no such key$/,
      },
      {
        bug: 'a getMany that leaves out missing keys',
        create: broken((base) => ({
          async getMany(keys) {
            const values = await Promise.all(keys.map((key) => base.get(key)));
            return values.filter((value) => value !== undefined);
          },
        })),
        message: /^checkStore: getMany: answered \["one", "three", "one"\] for keys/,
      },
      {
        bug: 'a compareAndSet that is not atomic (get, then set after an await)',
        create: broken((base) => ({
          async compareAndSet(key, expected, value, ttlMs) {
            if ((await base.get(key)) !== expected) return false;
            await base.set(key, value, ttlMs);
            return true;
          },
        })),
        message:
          /^checkStore: compareAndSet: 50 of 50 concurrent callers expecting one value won; exactly one must$/,
      },
      {
        bug: 'a compareAndSet that sets whatever the value',
        create: broken((base) => ({
          async compareAndSet(key, _expected, value, ttlMs) {
            await base.set(key, value, ttlMs);
            return true;
          },
        })),
        message: /^checkStore: compareAndSet: answered true expecting no key, true expecting another value/,
      },
      {
        bug: 'a counter that reads back as a number, not a string',
        create: broken((base) => ({
          async get(key) {
            const value = await base.get(key);
            return value !== undefined && /^\d+$/.test(value) ? (Number(value) as never) : value;
          },
        })),
        message: /^checkStore: get: a counter at 3 read as 3; counters must read as decimal strings/,
      },
      {
        bug: 'a missing required method',
        create: broken(() => ({ consume: undefined as never })),
        message: /^checkStore: store: `consume` is required and is not a function$/,
      },
    ];

    for (const { bug, create, message } of cases) {
      it(`catches ${bug}, and still calls shutdown()`, async () => {
        const store = create();
        await expect(checkStore(() => store)).rejects.toThrow(message);
        expect(store.shutdowns).toBe(1);
      });
    }

    it('names the method and keeps the cause when the store throws', async () => {
      const cause = new Error('connection refused');
      const error = await checkStore(
        broken(() => ({
          set: async () => {
            throw cause;
          },
        })),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toBe('checkStore: set threw: connection refused');
      expect((error as Error).cause).toBe(cause);
    });

    it('reports a shutdown() that throws once every check passed', async () => {
      const store = mapStore();
      store.shutdown = async () => {
        throw new Error('still connected');
      };
      await expect(checkStore(() => store)).rejects.toThrow('checkStore: shutdown threw: still connected');
    });
  });

  describe('on a store with verifyAttempt', () => {
    it('passes the test helper’s verifyAttempt over memoryStore()', async () => {
      await checkStore(() => withVerifyAttempt(memoryStore()));
    });

    it('catches a verifyAttempt that lets two of 50 concurrent right answers in', async () => {
      const inner = withVerifyAttempt(mapStore());
      let rights = 0;
      let extra = 0;
      const broken = Object.assign(Object.create(inner) as Store, {
        async verifyAttempt(input: VerifyAttemptInput) {
          const result = await inner.verifyAttempt(input);
          if (result.outcome === 'right') rights++;
          // Not atomic: in the race (after the rotation check's success and the race's), one more racer wins.
          return result.outcome === 'missing' && rights === 2 && ++extra === 1
            ? { outcome: 'right' as const, challenge: '[]', state: undefined }
            : result;
        },
      });
      await expect(checkStore(() => broken)).rejects.toThrow(/exactly one must/);
    });

    it('catches a verifyAttempt that does not consume the challenge', async () => {
      const inner = withVerifyAttempt(mapStore());
      const broken = Object.assign(Object.create(inner) as Store, {
        async verifyAttempt(input: VerifyAttemptInput) {
          const record = await inner.get(input.keys.challenge);
          const result = await inner.verifyAttempt(input);
          if (result.outcome === 'right' && record !== undefined)
            await inner.set(input.keys.challenge, record, 60_000);
          return result;
        },
      });
      await expect(checkStore(() => broken)).rejects.toThrow(/challenge key is still there/);
    });
  });

  it('throws a TypeError when given a store instead of a function that creates one', async () => {
    const error = await checkStore(memoryStore() as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/^checkStore: pass a function that creates the store/);
  });
});
