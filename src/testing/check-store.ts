import { randomBytes } from 'node:crypto';
import { STORE_METHODS, type Store } from '../stores/store.js';
import { checkVerifyAttempt } from './check-verify-attempt.js';

export interface CheckStoreOptions {
  /**
   * Put in front of every key the check writes; a random part follows, so runs never collide on a
   * shared server. @default 'check-store:'
   */
  prefix?: string;
}

/** The short TTL the expiry checks use, in ms. */
const SHORT_TTL_MS = 100;
/** How long the expiry checks wait after the last write, beyond the short TTL. Only a lower bound. */
const EXPIRY_MARGIN_MS = 300;
/** A TTL no check waits out. */
const LONG_TTL_MS = 60_000;
/** The longest TTL the increment-extension check retries with on a slow machine. */
const MAX_RETRY_TTL_MS = 6_400;
/** Concurrent callers in the consume and increment races. */
const RACERS = 50;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function show(value: unknown): string {
  if (typeof value === 'string') {
    const text = JSON.stringify(value);
    return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
  }
  if (typeof value === 'bigint') return `${value}n`;
  return String(value);
}

function fail(message: string, cause?: unknown): never {
  throw new Error(`checkStore: ${message}`, cause === undefined ? undefined : { cause });
}

/**
 * Runs `run` and, if the store throws or rejects, fails with `what` and the store's message.
 * A method that throws synchronously counts the same as one that rejects.
 */
async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return fail(`${what} threw: ${message}`, error);
  }
}

/**
 * Checks that a store keeps the `Store` contract: read and write, TTLs in milliseconds, single
 * use under concurrent `consume`, no lost update under concurrent `increment` and a TTL set only
 * on creation, and `getMany`, `compareAndSet` (one winner among concurrent callers) and
 * `verifyAttempt` (counts, consumes, one winner) when present. Resolves when it conforms; otherwise rejects with an
 * `Error` whose message names the method and what went wrong. Works in any test runner.
 *
 * It uses real time (about half a second), writes only keys under a random prefix, deletes them
 * at the end, and calls the store's `shutdown()` if it has one.
 *
 * @example
 * import { checkStore } from 'express-sms-2fa/testing';
 * test('my store keeps the contract', () => checkStore(() => myStore({ url: process.env.DB_URL })));
 */
export async function checkStore(
  createStore: () => Store | Promise<Store>,
  options: CheckStoreOptions = {},
): Promise<void> {
  if (typeof createStore !== 'function') {
    throw new TypeError(
      'checkStore: pass a function that creates the store, e.g. `checkStore(() => myStore())`',
    );
  }
  const prefix = options.prefix ?? 'check-store:';
  if (typeof prefix !== 'string') throw new TypeError('checkStore: `prefix` must be a string');

  const store = await createStore();
  if (store === null || typeof store !== 'object') {
    fail(`createStore() returned ${show(store)}; it must return the store (or a promise of it)`);
  }
  const run = `${prefix}${randomBytes(6).toString('hex')}:`;
  const used = new Set<string>();
  const key = (name: string) => {
    const full = `${run}${name}`;
    used.add(full);
    return full;
  };

  let failure: unknown;
  try {
    checkShape(store);
    await checkReadWrite(store, key);
    await checkConsume(store, key);
    await checkIncrement(store, key);
    if (store.getMany) await checkGetMany(store, key);
    if (store.compareAndSet) await checkCompareAndSet(store, key);
    if (store.verifyAttempt) await checkVerifyAttempt(store, key, call, fail);
    await checkExpiry(store, key);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    await Promise.allSettled([...used].map(async (k) => store.delete(k)));
    if (typeof store.shutdown === 'function') {
      try {
        await store.shutdown();
      } catch (error) {
        // A failed check says more than the shutdown after it.
        if (failure === undefined) fail(`shutdown threw: ${(error as Error)?.message ?? error}`, error);
      }
    }
  }
}

type Key = (name: string) => string;

function checkShape(store: Store): void {
  for (const method of STORE_METHODS) {
    if (typeof store[method] !== 'function') fail(`store: \`${method}\` is required and is not a function`);
  }
  for (const method of ['getMany', 'compareAndSet', 'verifyAttempt', 'shutdown'] as const) {
    if (store[method] !== undefined && typeof store[method] !== 'function') {
      fail(`store: \`${method}\` is optional, but when present it must be a function`);
    }
  }
}

async function checkReadWrite(store: Store, key: Key): Promise<void> {
  const missing = await call('get', () => store.get(key('missing')));
  if (missing !== undefined) {
    fail(`get: a key never set answered ${show(missing)}; it must answer undefined (not null or '')`);
  }

  const value = JSON.stringify({ text: 'héllo • 01 ✓', list: [1, 2], nested: { a: null } });
  await call('set', () => store.set(key('value'), value, LONG_TTL_MS));
  const read = await call('get', () => store.get(key('value')));
  if (read !== value) {
    fail(`get: answered ${show(read)} after set(key, ${show(value)}); it must return exactly that string`);
  }

  await call('set', () => store.set(key('other'), 'B', LONG_TTL_MS));
  await call('set', () => store.set(key('value'), 'second', LONG_TTL_MS));
  const replaced = await call('get', () => store.get(key('value')));
  if (replaced !== 'second') fail(`set: a second set must replace the value; get answered ${show(replaced)}`);
  const other = await call('get', () => store.get(key('other')));
  if (other !== 'B') fail(`get: keys must be kept apart; another key answered ${show(other)}, expected "B"`);

  await call('delete', () => store.delete(key('value')));
  const deleted = await call('get', () => store.get(key('value')));
  if (deleted !== undefined) fail(`delete: the key still answered ${show(deleted)}; it must be gone`);
  await call('delete of a missing key', () => store.delete(key('never-set')));
  const kept = await call('get', () => store.get(key('other')));
  if (kept !== 'B') fail(`delete: removed or changed another key (it answered ${show(kept)})`);
}

async function checkConsume(store: Store, key: Key): Promise<void> {
  const missing = await call('consume', () => store.consume(key('consume-missing')));
  if (missing !== undefined)
    fail(`consume: a key never set answered ${show(missing)}; it must answer undefined`);

  await call('set', () => store.set(key('once'), 'single-use', LONG_TTL_MS));
  const first = await call('consume', () => store.consume(key('once')));
  if (first !== 'single-use')
    fail(`consume: answered ${show(first)} for a stored "single-use"; it must return it`);
  const second = await call('consume', () => store.consume(key('once')));
  if (second !== undefined) fail(`consume: a second call answered ${show(second)}; the value must be gone`);
  const after = await call('get', () => store.get(key('once')));
  if (after !== undefined) fail(`consume: get still answered ${show(after)} after consume; it must delete`);

  await call('set', () => store.set(key('race'), 'winner', LONG_TTL_MS));
  const results = await call('consume', () =>
    Promise.all(Array.from({ length: RACERS }, async () => store.consume(key('race')))),
  );
  const winners = results.filter((r) => r === 'winner').length;
  if (winners !== 1) {
    fail(`consume: ${winners} of ${RACERS} concurrent callers got the value; exactly one must`);
  }
  const odd = results.find((r) => r !== 'winner' && r !== undefined);
  if (odd !== undefined) fail(`consume: a caller that lost the race got ${show(odd)}; it must get undefined`);
}

async function checkIncrement(store: Store, key: Key): Promise<void> {
  const counts: unknown[] = [];
  for (let i = 0; i < 3; i++)
    counts.push(await call('increment', () => store.increment(key('count'), LONG_TTL_MS)));
  if (counts[0] !== 1 || counts[1] !== 2 || counts[2] !== 3) {
    fail(
      `increment: three calls on a new key returned ${counts.map(show).join(', ')}; expected the numbers 1, 2, 3`,
    );
  }
  const read = await call('get', () => store.get(key('count')));
  if (read !== '3') {
    fail(`get: a counter at 3 read as ${show(read)}; counters must read as decimal strings ("3")`);
  }

  const results = await call('increment', () =>
    Promise.all(Array.from({ length: RACERS }, async () => store.increment(key('race'), LONG_TTL_MS))),
  );
  const distinct = new Set(results);
  const expected = results.every((n) => Number.isInteger(n) && n >= 1 && n <= RACERS);
  if (distinct.size !== RACERS || !expected) {
    const sorted = [...distinct].sort((a, b) => a - b);
    fail(
      `increment: ${RACERS} concurrent increments returned ${distinct.size} distinct values ` +
        `(${sorted.slice(0, 5).map(show).join(', ')}${sorted.length > 5 ? ', ...' : ''}); ` +
        `each caller must get its own count, 1 to ${RACERS}`,
    );
  }
  const total = await call('get', () => store.get(key('race')));
  if (total !== String(RACERS)) {
    fail(
      `increment: after ${RACERS} concurrent increments the counter reads ${show(total)}; expected "${RACERS}"`,
    );
  }
}

async function checkGetMany(store: Store, key: Key): Promise<void> {
  const getMany = store.getMany?.bind(store);
  if (!getMany) return;
  await call('set', () => store.set(key('m1'), 'one', LONG_TTL_MS));
  await call('set', () => store.set(key('m3'), 'three', LONG_TTL_MS));
  const values = await call('getMany', () => getMany([key('m1'), key('m2'), key('m3'), key('m1')]));
  const expected = ['one', undefined, 'three', 'one'];
  if (
    !Array.isArray(values) ||
    values.length !== expected.length ||
    values.some((value, i) => value !== expected[i])
  ) {
    const got = Array.isArray(values) ? `[${values.map(show).join(', ')}]` : show(values);
    fail(
      `getMany: answered ${got} for keys [m1, m2 (missing), m3, m1]; expected ` +
        `["one", undefined, "three", "one"]: values in key order, undefined for a missing key`,
    );
  }
}

async function checkCompareAndSet(store: Store, key: Key): Promise<void> {
  const cas = store.compareAndSet?.bind(store);
  if (!cas) return;
  const k = key('cas');
  const created = await call('compareAndSet', () => cas(k, undefined, 'one', LONG_TTL_MS));
  if (created !== true)
    fail(`compareAndSet: expecting a missing key on a missing key answered ${show(created)}; expected true`);
  if ((await call('get', () => store.get(k))) !== 'one')
    fail('compareAndSet: the value it set is not what get answers');
  const exists = await call('compareAndSet', () => cas(k, undefined, 'two', LONG_TTL_MS));
  const wrong = await call('compareAndSet', () => cas(k, 'not-it', 'two', LONG_TTL_MS));
  if (exists !== false || wrong !== false) {
    fail(
      `compareAndSet: answered ${show(exists)} expecting no key, ${show(wrong)} expecting another value; ` +
        'both must answer false and change nothing',
    );
  }
  if ((await call('get', () => store.get(k))) !== 'one')
    fail('compareAndSet: a refused call changed the value');
  const swapped = await call('compareAndSet', () => cas(k, 'one', 'two', LONG_TTL_MS));
  if (swapped !== true || (await call('get', () => store.get(k))) !== 'two') {
    fail('compareAndSet: with the current value expected, it must store the new one and answer true');
  }

  const results = await call('compareAndSet', () =>
    Promise.all(Array.from({ length: RACERS }, async (_, i) => cas(k, 'two', `racer-${i}`, LONG_TTL_MS))),
  );
  const winners = results.flatMap((won, i) => (won === true ? [i] : []));
  if (winners.length !== 1) {
    fail(
      `compareAndSet: ${winners.length} of ${RACERS} concurrent callers expecting one value won; exactly one must`,
    );
  }
  const final = await call('get', () => store.get(k));
  if (final !== `racer-${winners[0]}`)
    fail(`compareAndSet: the winner's value was not kept (get answered ${show(final)})`);
}

/**
 * TTLs, in real time. Every key is written first, then one wait of the short TTL plus a margin
 * after the last write, then every check: the wait is a lower bound only, so a slow machine can
 * make the run longer but never make a conforming store fail.
 */
async function checkExpiry(store: Store, key: Key): Promise<void> {
  await call('set', () => store.set(key('ttl-short'), 'v', SHORT_TTL_MS));
  await call('set', () => store.set(key('ttl-consume'), 'v', SHORT_TTL_MS));
  await call('set', () => store.set(key('ttl-long'), 'v', LONG_TTL_MS));
  await call('set', () => store.set(key('ttl-lengthened'), 'short', SHORT_TTL_MS));
  await call('set', () => store.set(key('ttl-lengthened'), 'long', LONG_TTL_MS));
  await call('set', () => store.set(key('ttl-shortened'), 'long', LONG_TTL_MS));
  await call('set', () => store.set(key('ttl-shortened'), 'short', SHORT_TTL_MS));
  const cas = store.compareAndSet?.bind(store);
  if (cas) await call('compareAndSet', () => cas(key('ttl-cas'), undefined, 'v', SHORT_TTL_MS));
  const created = await call('increment', () => store.increment(key('ttl-counter'), SHORT_TTL_MS));
  if (created !== 1) fail(`increment: a new key returned ${show(created)}; expected 1`);
  let extension = await startExtension(store, key, SHORT_TTL_MS);

  const waited = SHORT_TTL_MS + EXPIRY_MARGIN_MS;
  await sleep(waited);
  const after = `${waited} ms later`;

  const long = await call('get', () => store.get(key('ttl-long')));
  if (long !== 'v') {
    fail(`set: a value set with ttlMs ${LONG_TTL_MS} was gone ${after}; ttlMs is in milliseconds`);
  }
  const short = await call('get', () => store.get(key('ttl-short')));
  if (short !== undefined) {
    fail(
      `set: a value set with ttlMs ${SHORT_TTL_MS} still answered ${show(short)} ${after}; it must expire`,
    );
  }
  const consumed = await call('consume', () => store.consume(key('ttl-consume')));
  if (consumed !== undefined) {
    fail(`consume: answered ${show(consumed)} for a value whose ttlMs of ${SHORT_TTL_MS} had passed`);
  }
  const lengthened = await call('get', () => store.get(key('ttl-lengthened')));
  if (lengthened !== 'long') {
    fail(
      `set: a second set must replace the TTL too: a value re-set with ttlMs ${LONG_TTL_MS} ` +
        `answered ${show(lengthened)} ${after}, expected "long"`,
    );
  }
  const shortened = await call('get', () => store.get(key('ttl-shortened')));
  if (shortened !== undefined) {
    fail(
      `set: a second set must replace the TTL too: a value re-set with ttlMs ${SHORT_TTL_MS} ` +
        `still answered ${show(shortened)} ${after}`,
    );
  }
  const recount = await call('increment', () => store.increment(key('ttl-counter'), LONG_TTL_MS));
  if (recount !== 1) {
    fail(
      `increment: a counter created with ttlMs ${SHORT_TTL_MS} still counted ${after} ` +
        `(returned ${show(recount)}, expected 1); the TTL must expire it`,
    );
  }
  if (cas) {
    const expired = await call('get', () => store.get(key('ttl-cas')));
    if (expired !== undefined) {
      fail(
        `compareAndSet: a value it set with ttlMs ${SHORT_TTL_MS} still answered ${show(expired)} ${after}`,
      );
    }
  }
  const getMany = store.getMany?.bind(store);
  if (getMany) {
    const values = await call('getMany', () => getMany([key('ttl-short'), key('ttl-long')]));
    if (!Array.isArray(values) || values[0] !== undefined || values[1] !== 'v') {
      fail(`getMany: answered ${show(values?.[0])} for a value whose ttlMs of ${SHORT_TTL_MS} had passed`);
    }
  }

  // A later increment must not extend the TTL. When the machine was too slow for the second call to
  // land inside the first TTL, the check proved nothing: try again with a longer TTL.
  for (let ttl = SHORT_TTL_MS * 4; extension.inconclusive; ttl *= 4) {
    if (ttl > MAX_RETRY_TTL_MS) {
      fail(`increment: two calls in a row took over ${ttl / 4} ms; the TTL could not be checked`);
    }
    extension = await startExtension(store, key, ttl);
    await sleep(ttl + EXPIRY_MARGIN_MS);
  }
  const extended = await call('increment', () => store.increment(extension.key, LONG_TTL_MS));
  if (extended !== 1) {
    fail(
      `increment: a later increment extended the TTL: a counter created with ttlMs ${extension.ttl} and ` +
        `incremented again with ttlMs ${LONG_TTL_MS} still counted ${extension.ttl + EXPIRY_MARGIN_MS} ms ` +
        `later (returned ${show(extended)}, expected 1); the TTL is set only when the key is created`,
    );
  }
}

/** Creates a counter with `ttl`, then increments it with a long TTL that a conforming store ignores. */
async function startExtension(store: Store, key: Key, ttl: number) {
  const k = key(`ttl-extension-${ttl}`);
  const first = await call('increment', () => store.increment(k, ttl));
  if (first !== 1) fail(`increment: a new key returned ${show(first)}; expected 1`);
  const second = await call('increment', () => store.increment(k, LONG_TTL_MS));
  // 1: the first TTL had already run out, so this call created the key again.
  return { key: k, ttl, inconclusive: second === 1 };
}
