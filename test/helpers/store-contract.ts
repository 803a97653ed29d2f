import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/stores/store.js';
import { verifyAttemptContract } from './verify-attempt-contract.js';

export interface StoreUnderTest {
  store: Store;
  /** Moves the store's clock forward; when absent the suite waits in real time. */
  advance?: (ms: number) => void | Promise<void>;
  /** Called after each test (close connections, flush keys). */
  cleanup?: () => Promise<void>;
}

/** TTLs short enough to wait out in real time when the store's clock cannot be moved. */
const TTL = 400;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A real-time wait overran on a loaded machine: the scenario proved nothing and runs again. */
class Late extends Error {}
const ATTEMPTS = 3;

/**
 * Marks a moment; `within(ms)` throws Late when more than `ms` of real time has passed since. A check
 * that a key is still alive is only meaningful when it ran before the key's TTL could have run out.
 * With a store whose clock the suite moves, time never overruns.
 */
type Mark = () => { within: (ms: number) => void };

/**
 * The behaviour every `Store` must have. Run it against a custom store:
 * `runStoreContract('my store', async () => ({ store: myStore() }))`.
 */
export function runStoreContract(name: string, create: () => Promise<StoreUnderTest>): void {
  describe(`Store contract: ${name}`, () => {
    async function withStore(
      fn: (s: StoreUnderTest, pass: (ms: number) => Promise<void>, mark: Mark) => Promise<void>,
    ) {
      for (let attempt = 1; ; attempt++) {
        const subject = await create();
        const pass = async (ms: number) => {
          if (subject.advance) await subject.advance(ms);
          else await sleep(ms);
        };
        const mark: Mark = () => {
          const start = performance.now();
          return {
            within: (ms) => {
              if (!subject.advance && performance.now() - start >= ms) throw new Late();
            },
          };
        };
        try {
          await fn(subject, pass, mark);
          return;
        } catch (error) {
          if (!(error instanceof Late) || attempt === ATTEMPTS) throw error;
        } finally {
          await subject.cleanup?.();
        }
      }
    }

    describe('get / set / delete', () => {
      it('answers undefined for a key never set', () =>
        withStore(async ({ store }) => {
          expect(await store.get('contract:missing')).toBeUndefined();
        }));

      it('returns exactly the string that was set, JSON and non-ASCII included', () =>
        withStore(async ({ store }) => {
          const value = JSON.stringify({ a: 1, text: 'héllo •• 01', nested: { b: [1, 2] } });
          await store.set('contract:value', value, 10_000);
          expect(await store.get('contract:value')).toBe(value);
        }));

      it('replaces the value and the TTL on a second set', () =>
        withStore(async ({ store }, pass, mark) => {
          await store.set('contract:replace', 'one', TTL);
          await pass(TTL / 2);
          const replaced = mark();
          await store.set('contract:replace', 'two', TTL);
          await pass((TTL * 3) / 4);
          const value = await store.get('contract:replace');
          replaced.within(TTL);
          expect(value).toBe('two');
        }));

      it('forgets a value once its TTL has passed', () =>
        withStore(async ({ store }, pass, mark) => {
          const written = mark();
          await store.set('contract:ttl', 'v', TTL);
          await pass(TTL / 4);
          const value = await store.get('contract:ttl');
          written.within(TTL);
          expect(value).toBe('v');
          await pass(TTL + 50);
          expect(await store.get('contract:ttl')).toBeUndefined();
        }));

      it('deletes a key, and deleting a missing key does not throw', () =>
        withStore(async ({ store }) => {
          await store.set('contract:delete', 'v', 10_000);
          await store.delete('contract:delete');
          expect(await store.get('contract:delete')).toBeUndefined();
          await expect(store.delete('contract:never-there')).resolves.toBeUndefined();
        }));

      it('keeps keys apart', () =>
        withStore(async ({ store }) => {
          await store.set('contract:a', 'A', 10_000);
          await store.set('contract:b', 'B', 10_000);
          expect(await store.get('contract:a')).toBe('A');
          expect(await store.get('contract:b')).toBe('B');
        }));
    });

    describe('consume', () => {
      it('returns the value once, then undefined', () =>
        withStore(async ({ store }) => {
          await store.set('contract:once', 'secret-hash', 10_000);
          expect(await store.consume('contract:once')).toBe('secret-hash');
          expect(await store.consume('contract:once')).toBeUndefined();
          expect(await store.get('contract:once')).toBeUndefined();
        }));

      it('returns undefined for a missing or expired key', () =>
        withStore(async ({ store }, pass) => {
          expect(await store.consume('contract:none')).toBeUndefined();
          await store.set('contract:old', 'v', TTL);
          await pass(TTL + 50);
          expect(await store.consume('contract:old')).toBeUndefined();
        }));

      it('gives the value to exactly one of 50 concurrent callers', () =>
        withStore(async ({ store }) => {
          await store.set('contract:race', 'winner', 10_000);
          const results = await Promise.all(Array.from({ length: 50 }, () => store.consume('contract:race')));
          expect(results.filter((r) => r === 'winner')).toHaveLength(1);
          expect(results.filter((r) => r === undefined)).toHaveLength(49);
        }));
    });

    describe('increment', () => {
      it('starts at 1 and counts up', () =>
        withStore(async ({ store }) => {
          expect(await store.increment('contract:count', 10_000)).toBe(1);
          expect(await store.increment('contract:count', 10_000)).toBe(2);
          expect(await store.increment('contract:count', 10_000)).toBe(3);
        }));

      it('sets the TTL when the key is created and does not extend it later', () =>
        withStore(async ({ store }, pass, mark) => {
          const created = mark();
          expect(await store.increment('contract:window', TTL)).toBe(1);
          await pass((TTL * 3) / 4);
          const second = await store.increment('contract:window', TTL);
          created.within(TTL);
          expect(second).toBe(2);
          await pass(TTL / 2);
          // 1.25 TTL after creation: a store that refreshed the TTL on the second call would still count.
          expect(await store.increment('contract:window', TTL)).toBe(1);
        }));

      it('loses no update among 50 concurrent increments', () =>
        withStore(async ({ store }) => {
          const results = await Promise.all(
            Array.from({ length: 50 }, () => store.increment('contract:parallel', 10_000)),
          );
          expect([...results].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
          expect(await store.get('contract:parallel')).toBe('50');
        }));
    });

    describe('compareAndSet (optional)', () => {
      it('sets only over the expected value (undefined: no key), and answers whether it did', (ctx) =>
        withStore(async ({ store }) => {
          if (!store.compareAndSet) return ctx.skip('the store has no compareAndSet');
          expect(await store.compareAndSet('contract:cas', undefined, 'a', 10_000)).toBe(true);
          expect(await store.compareAndSet('contract:cas', undefined, 'b', 10_000)).toBe(false);
          expect(await store.compareAndSet('contract:cas', 'x', 'b', 10_000)).toBe(false);
          expect(await store.get('contract:cas')).toBe('a');
          expect(await store.compareAndSet('contract:cas', 'a', 'b', 10_000)).toBe(true);
          expect(await store.get('contract:cas')).toBe('b');
        }));
      it('lets exactly one of 50 concurrent callers win', (ctx) =>
        withStore(async ({ store }) => {
          const cas = store.compareAndSet?.bind(store);
          if (!cas) return ctx.skip('the store has no compareAndSet');
          await store.set('contract:cas-race', 'start', 10_000);
          const won = await Promise.all(
            Array.from({ length: 50 }, (_, i) => cas('contract:cas-race', 'start', `r${i}`, 10_000)),
          );
          expect(won.filter(Boolean)).toHaveLength(1);
          expect(await store.get('contract:cas-race')).toBe(`r${won.indexOf(true)}`);
        }));
      it('sets the TTL it is given', (ctx) =>
        withStore(async ({ store }, pass) => {
          if (!store.compareAndSet) return ctx.skip('the store has no compareAndSet');
          expect(await store.compareAndSet('contract:cas-ttl', undefined, 'v', TTL)).toBe(true);
          await pass(TTL + 100);
          expect(await store.get('contract:cas-ttl')).toBeUndefined();
        }));
    });

    verifyAttemptContract((fn) => withStore(({ store }) => fn(store)));

    describe('getMany (optional)', () => {
      it('returns values in the order of the keys, undefined for missing ones', (ctx) =>
        withStore(async ({ store }) => {
          if (!store.getMany) return ctx.skip('the store has no getMany');
          await store.set('contract:m1', 'one', 10_000);
          await store.set('contract:m3', 'three', 10_000);
          expect(await store.getMany(['contract:m1', 'contract:m2', 'contract:m3'])).toEqual([
            'one',
            undefined,
            'three',
          ]);
        }));
    });
  });
}
