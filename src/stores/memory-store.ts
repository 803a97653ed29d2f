import { LRUCache } from 'lru-cache';
import { IP_BUDGET_KEY } from '../challenge.js';
import { TwoFactorError } from '../errors.js';
import type { Store } from './store.js';

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
/** When full, stale entries are swept at most this often before a write is refused. */
const PURGE_INTERVAL_MS = 1000;

/**
 * A flat, one-byte-per-character copy when the text allows it: keys built by concatenation are
 * otherwise kept as trees of pieces, and ASCII that passed through two-byte strings stays two-byte.
 * Halves what a pending challenge costs in memory.
 */
const compact = (text: string): string => Buffer.from(text, 'utf8').toString('utf8');

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
}

/**
 * Per-process store for development and single-instance apps. It never evicts a live entry
 * unless `evictable` says so: an LRU that dropped lockout counters under a flood would reset them
 * for an attacker, so when it is full of live entries a new key is refused (503) instead.
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const max = options.max ?? DEFAULT_MEMORY_STORE_MAX;
  if (!Number.isInteger(max) || max < 1) {
    throw new TypeError('memoryStore: `max` must be a positive integer, e.g. 100_000');
  }
  const now = options.now ?? Date.now;
  const evictable = options.evictable ?? isIpBudgetKey;
  // lru-cache reads its clock once per `ttlResolution`; 0 makes every TTL decision use `now()`.
  const cache = new LRUCache<string, string>({ max, ttlResolution: 0, perf: { now } });
  let lastPurge = Number.NEGATIVE_INFINITY;

  function makeRoomFor(key: string): void {
    if (cache.size < max || cache.has(key)) return;
    if (now() - lastPurge >= PURGE_INTERVAL_MS) {
      lastPurge = now();
      cache.purgeStale();
    }
    if (cache.size < max) return;
    for (const candidate of cache.rkeys()) {
      if (!evictable(candidate)) continue;
      cache.delete(candidate);
      return;
    }
    // Full of live entries that must stay: refuse (the route answers 503) rather than forget one.
    throw new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE', { cause: 'memory store full' });
  }

  function set(key: string, value: string, ttlMs: number): void {
    makeRoomFor(key);
    cache.set(compact(key), compact(value), { ttl: Math.max(1, Math.ceil(ttlMs)) });
  }

  // Each method runs synchronously inside one tick, which is what makes consume and increment atomic.
  return {
    [MEMORY_STORE]: true,
    get size() {
      return cache.size;
    },
    async get(key) {
      return cache.get(key);
    },
    async getMany(keys) {
      return keys.map((key) => cache.get(key));
    },
    async set(key, value, ttlMs) {
      set(key, value, ttlMs);
    },
    async delete(key) {
      cache.delete(key);
    },
    async consume(key) {
      const value = cache.get(key);
      if (value !== undefined) cache.delete(key);
      return value;
    },
    async compareAndSet(key, expected, value, ttlMs) {
      if (cache.get(key) !== expected) return false;
      set(key, value, ttlMs);
      return true;
    },
    async increment(key, ttlMs) {
      const current = cache.get(key);
      if (current === undefined) {
        set(key, '1', ttlMs);
        return 1;
      }
      const next = (Number.parseInt(current, 10) || 0) + 1;
      cache.set(key, String(next), { noUpdateTTL: true });
      return next;
    },
    async shutdown() {
      cache.clear();
    },
  };
}
