import { IP_BUDGET_KEY } from '../challenge.js';
import { TwoFactorError } from '../errors.js';
import {
  decodeExpiry,
  EXPIRY_CHARS,
  entryOf,
  entryValue,
  flat,
  homeKey,
  memberOf,
  PARTS,
  partIndex,
  sameHome,
  withMember,
} from './memory-entries.js';
import { EntryTable } from './memory-table.js';
import { type EntryStore, verifyAttemptNow } from './memory-verify.js';
import type { Store, VerifyAttemptInput, VerifyAttemptResult } from './store.js';

export interface MemoryStoreOptions {
  /** Most entries held at once. @default 100_000 */
  max?: number;
  /** The clock for TTLs. `twoFactor({ now })` passes its own clock to the default store. */
  now?: () => number;
  /**
   * Keys that may be evicted, least recently used first, when the store is full. Every other
   * live key is kept, and a new one is refused instead. By default the per-IP send counters may
   * go, which an attacker with many addresses could otherwise pile up until every user gets 503.
   * @default the per-IP send counters of `twoFactor()`
   */
  evictable?: (key: string) => boolean;
}

export const DEFAULT_MEMORY_STORE_MAX = 100_000;
/**
 * The writes that need room read at most one lap of the store (every entry once) per this many ms,
 * as a whole purge once a second did before: a store full of live entries is not read over and over
 * by a flood of new keys. A write is refused only when that allowance is spent, so every entry stale
 * for longer than this was swept (the allowance's last lap was read within it).
 */
const PURGE_INTERVAL_MS = 1000;
/**
 * Slots (or evictable entries) a write that needs room sweeps at a time, slice after slice until it
 * has the room or has read the whole store once. About 0.1–0.3 ms a slice (BENCHMARKS.md, s12-lows).
 */
const ROOM_SLICE = 1024;
/** Slots every other write sweeps while a lap a full store started is not over (the stale go early). */
const WRITE_SLICE = 32;

/** A per-IP send counter: losing one under a flood lets one address send a little more, nothing else. */
const isIpBudgetKey = (key: string): boolean => key.startsWith(IP_BUDGET_KEY);

/** Marks stores built by `memoryStore()`, for the production warning. */
export const MEMORY_STORE = Symbol.for('express-sms-2fa.memoryStore');

export interface MemoryStore extends Store {
  readonly [MEMORY_STORE]: true;
  /** Entries held, live or not yet swept. */
  readonly size: number;
  getMany(keys: string[]): Promise<(string | undefined)[]>;
  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean>;
  verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult>;
}

const METHODS = [
  'get',
  'getMany',
  'set',
  'delete',
  'consume',
  'increment',
  'compareAndSet',
  'verifyAttempt',
] as const;
/** Each store built by `memoryStore()`, with its own methods as built. */
const pristine = new WeakMap<object, Record<(typeof METHODS)[number], unknown>>();

/**
 * True for a store built by `memoryStore()` whose methods are still its own: every call settles
 * before it returns, so the routes need no timeout around it. A copy (`{ ...store }`) or a store
 * with a method replaced (a test's fault, a wrapper) is treated like any other store.
 */
export function settlesAtOnce(store: Store): boolean {
  const own = pristine.get(store);
  if (!own) return false;
  const methods = store as unknown as Record<string, unknown>;
  for (const name of METHODS) if (methods[name] !== own[name]) return false;
  return true;
}

/** Every memoryStore()'s own verifyAttempt, by the store it belongs to. */
const verifiers = new WeakMap<object, object>();
/** Every memoryStore()'s verifyAttempt as the synchronous call it runs, by its store. */
const attemptsNow = new WeakMap<object, (input: VerifyAttemptInput) => VerifyAttemptResult>();

/**
 * A pristine memoryStore()'s verifyAttempt without its promise: the result, or the store's refusal
 * thrown. The guard wraps it in one settled promise instead of the async method's and its own.
 * Undefined for any other store, and for a memory store with a method replaced (`settlesAtOnce`).
 */
export function verifyAttemptNowOf(
  store: Store,
): ((input: VerifyAttemptInput) => VerifyAttemptResult) | undefined {
  return settlesAtOnce(store) ? attemptsNow.get(store) : undefined;
}

/**
 * False for memoryStore()'s own verifyAttempt on anything but that store with its methods unreplaced:
 * it reads the store's Maps directly, so on a copy (`{ ...store, get: wrapped }`: a namespace, a
 * fault injected by a test) it would bypass the methods the app wrapped. True for any other store.
 */
export function ownsVerifyAttempt(store: Store): boolean {
  const verify = store.verifyAttempt;
  return verify === undefined || !verifiers.has(verify) || settlesAtOnce(store);
}

/**
 * Per-process store for development and single-instance apps. It never evicts a live entry
 * unless `evictable` says so: an LRU that dropped lockout counters under a flood would reset them
 * for an attacker, so when it is full of live entries a new key is refused (503) instead.
 *
 * Entries are one string each (expiry + value, see memory-entries.ts): the evictable keys in a Map
 * in least-recently-used order (a read moves a key to the end), every other key in a table of its
 * own that keeps key and entry as one string (memory-table.ts), expired entries dropped when read
 * or swept once the store is full: a write that needs room sweeps a slice at a time until it has
 * it, and the writes after it sweep a little each until the lap is over (`makeRoomForNew`). A
 * write is refused only when the whole store was read within the last second without finding room
 * (`PURGE_INTERVAL_MS`). A challenge's record and send state share one Map entry (and count as
 * one towards `max`); its attempt counter, made by the first wrong code, is an entry of its own.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const max = options.max ?? DEFAULT_MEMORY_STORE_MAX;
  if (!Number.isInteger(max) || max < 1) {
    throw new TypeError('memoryStore: `max` must be a positive integer, e.g. 100_000');
  }
  const now = options.now ?? Date.now;
  const evictable = options.evictable ?? isIpBudgetKey;
  const kept = new EntryTable();
  const lru = new Map<string, string>();
  /** Where the purge is in the evictable entries, the second part of its lap; undefined: in the table. */
  let lruSweep: MapIterator<[string, string]> | undefined;
  /** Laps of the purge ended (the table's, then the evictable entries'). */
  let laps = 0;
  /** Every write sweeps `WRITE_SLICE` while `laps` is below this: a lap a write that needed room began. */
  let sweepUntilLap = 0;
  /** Units the writes that need room may still sweep (`PURGE_INTERVAL_MS`), as of `allowanceAt`. */
  let allowance = Number.POSITIVE_INFINITY;
  let allowanceAt = 0;

  const mapOf = (key: string) => (evictable(key) ? lru : kept);
  /** The Map key `key` is kept under (a challenge's keys share one entry, see memory-entries.ts). */
  const homeOf = (key: string) => {
    const part = partIndex(key);
    return part < 0 ? key : homeKey(key, part);
  };

  /**
   * Keeps `entry` for `key`, or drops the key (undefined); an evictable key moves to the end.
   * `narrow`: `entry` is made of stored pieces and digits (see `EntryTable.set`).
   */
  function put(key: string, entry: string | undefined, narrow = false): void {
    const part = partIndex(key);
    const home = part < 0 ? key : homeKey(key, part);
    const map = mapOf(home);
    const next = part < 0 ? entry : withMember(map.get(home), part, entry);
    if (map === lru) {
      lru.delete(home); // re-inserted at the end: most recently used
      if (next !== undefined) lru.set(flat(home), flat(next));
    } else if (next === undefined) kept.delete(home);
    else kept.set(home, next, narrow); // the table keeps key and entry as one flat string
  }

  /** The live entry of `key` (an expired one is dropped), moved to the end if it is evictable. */
  function read(key: string): string | undefined {
    const part = partIndex(key);
    const home = part < 0 ? key : homeKey(key, part);
    const map = mapOf(home);
    const held = map.get(home);
    if (held === undefined) return undefined;
    const entry = part < 0 ? held : memberOf(held, part);
    if (entry === undefined) return undefined;
    if (decodeExpiry(entry) <= now()) {
      put(key, undefined);
      return undefined;
    }
    if (map === lru) {
      lru.delete(home);
      lru.set(home, held);
    }
    return entry;
  }

  /** `entry` without its stale parts at `time` (a shared entry's expire apart), or undefined when none is live. */
  function fresh(home: string, entry: string, time: number): string | undefined {
    if (partIndex(home) < 0) return decodeExpiry(entry) > time ? entry : undefined;
    let next: string | undefined = entry;
    for (let part = 0; part < PARTS && next !== undefined; part++) {
      const member = memberOf(next, part);
      if (member !== undefined && decodeExpiry(member) <= time) next = withMember(next, part, undefined);
    }
    return next;
  }

  /**
   * The purge of stale entries, `units` at a time from where it last stopped: the table's slots
   * (memory-table.ts `sweepSome`: in place, a resize under way neither finished nor moved), then the
   * evictable entries, then the table again. Returns the units read. The table's layout does not
   * change within it, so calls with no write between them that add up to `sweepUnits()` read every
   * entry once.
   */
  function sweepSome(units: number, time: number): number {
    const update = (home: string, entry: string) => fresh(home, entry, time);
    let used = 0;
    while (used < units) {
      if (lruSweep === undefined) {
        const before = kept.laps;
        used += kept.sweepSome(update, units - used);
        if (kept.laps !== before) lruSweep = lru.entries(); // a Map's iterator sees its later changes
        continue;
      }
      const next = lruSweep.next();
      if (next.done) {
        lruSweep = undefined;
        laps++;
        continue;
      }
      used++;
      const [home, entry] = next.value;
      const left = fresh(home, entry, time);
      if (left === undefined) lru.delete(home);
      else if (left !== entry) lru.set(home, left); // in place: an existing key keeps its order
    }
    return used;
  }

  /** The purge's units in one lap: the table's, and one per evictable entry. */
  const sweepUnits = () => kept.sweepUnits + lru.size;

  function makeRoomFor(key: string): void {
    const home = homeOf(key);
    if (kept.size + lru.size < max || mapOf(home).has(home)) return;
    makeRoomForNew(1);
  }

  /**
   * Room for `count` new keys: stale entries swept a slice at a time until there is room, the whole
   * store was read once, or the allowance of one lap a second is spent; then evictable ones dropped.
   */
  function makeRoomForNew(count: number): void {
    if (kept.size + lru.size + count <= max) return;
    const time = now();
    const lap = sweepUnits();
    allowance = Math.min(lap, allowance + (Math.max(0, time - allowanceAt) * lap) / PURGE_INTERVAL_MS);
    allowanceAt = time;
    // Read once, the store held no entry stale now that this write did not sweep: refusing after
    // a whole lap is refusing a store full of live entries. It ends sooner in all but that case.
    let left = Math.floor(Math.min(lap, allowance));
    while (left > 0 && kept.size + lru.size + count > max) {
      const used = sweepSome(Math.min(ROOM_SLICE, left), time);
      left -= used;
      allowance -= used;
    }
    kept.settle();
    if (kept.size + lru.size + count <= max) sweepUntilLap = laps + 1; // the writes after go on to the lap's end
    while (kept.size + lru.size + count > max) {
      const oldest = lru.keys().next();
      // Full of live entries that must stay: refuse (the route answers 503) rather than forget one.
      if (oldest.done) throw new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE', { cause: 'memory store full' });
      lru.delete(oldest.value);
    }
  }

  function write(key: string, value: string, ttlMs: number): void {
    makeRoomFor(key);
    put(key, entryOf(value, now() + Math.max(1, Math.ceil(ttlMs))));
    // After the write, and not in `verifyAttempt`'s: a sweep between a call's read and its write
    // could drop an entry read live a moment before (the clock moved on), and a write counted as an
    // update would then need room.
    if (laps < sweepUntilLap) {
      sweepSome(WRITE_SLICE, now());
      kept.settle(); // a table the lap left sparse shrinks
    }
  }

  function take(key: string): string | undefined {
    const entry = read(key);
    if (entry !== undefined) put(key, undefined);
    return entry === undefined ? undefined : entryValue(entry);
  }

  function add(key: string, ttlMs: number): number {
    const entry = read(key);
    if (entry === undefined) {
      write(key, '1', ttlMs);
      return 1;
    }
    const next = (Number.parseInt(entryValue(entry), 10) || 0) + 1;
    // The TTL is set on creation only: the expiry prefix is kept as it is.
    put(key, entry.slice(0, EXPIRY_CHARS) + next);
    return next;
  }

  /** The store's entries without promises, for `verifyAttempt`. */
  const entries: EntryStore = {
    entry: read,
    put(key, entry) {
      makeRoomFor(key);
      put(key, entry, true); // verifyAttempt writes counters and expiries made from what it read
    },
    makeRoom: makeRoomForNew,
    delete: (key) => put(key, undefined),
    consume(challenge, state, attempts) {
      // A challenge's record and state are its whole shared entry: one delete, not two rewrites of it.
      if (partIndex(challenge) === 0 && partIndex(state) === 1 && sameHome(challenge, state)) {
        mapOf(challenge).delete(challenge);
      } else {
        put(challenge, undefined);
        put(state, undefined);
      }
      if (attempts !== undefined) put(attempts, undefined); // kept apart (memory-entries.ts): absent until a wrong code
    },
    now,
  };

  // Each method runs synchronously inside one tick, which is what makes consume and increment atomic.
  const store: MemoryStore = {
    [MEMORY_STORE]: true,
    get size() {
      return kept.size + lru.size;
    },
    async get(key) {
      const entry = read(key);
      return entry === undefined ? undefined : entryValue(entry);
    },
    async getMany(keys) {
      return keys.map((key) => {
        const entry = read(key);
        return entry === undefined ? undefined : entryValue(entry);
      });
    },
    async set(key, value, ttlMs) {
      write(key, value, ttlMs);
    },
    async delete(key) {
      put(key, undefined);
    },
    async consume(key) {
      return take(key);
    },
    async compareAndSet(key, expected, value, ttlMs) {
      const entry = read(key);
      if ((entry === undefined ? undefined : entryValue(entry)) !== expected) return false;
      write(key, value, ttlMs);
      return true;
    },
    async increment(key, ttlMs) {
      return add(key, ttlMs);
    },
    // The whole attempt in one synchronous run: atomic, one call (see VerifyAttemptInput).
    async verifyAttempt(input) {
      return verifyAttemptNow(entries, input);
    },
    async shutdown() {
      kept.clear();
      lru.clear();
      lruSweep = undefined;
    },
  };
  pristine.set(store, Object.fromEntries(METHODS.map((name) => [name, store[name]])) as never);
  verifiers.set(store.verifyAttempt, store);
  attemptsNow.set(store, (input) => verifyAttemptNow(entries, input));
  return store;
}
