import { TwoFactorError } from '../errors.js';
import type { Store } from './store.js';

/**
 * The store as the routes use it: every call bounded by a timeout, every failure turned into
 * ERR_2FA_STORE_UNAVAILABLE (fail closed), every odd answer from a custom store read as "nothing".
 */
export interface GuardedStore {
  get(key: string): Promise<string | undefined>;
  getMany(keys: string[]): Promise<(string | undefined)[]>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(...keys: string[]): Promise<void>;
  consume(key: string): Promise<string | undefined>;
  increment(key: string, ttlMs: number): Promise<number>;
}

const asString = (value: unknown) => (typeof value === 'string' ? value : undefined);

export function guardStore(store: Store, timeoutMs: number): GuardedStore {
  function call<T>(operation: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(operation());
    } catch (error) {
      pending = Promise.reject(error);
    }
    // A late rejection after the timeout must not become an unhandled rejection.
    pending.catch(() => {});
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`store call timed out after ${timeoutMs} ms`)), timeoutMs);
      timer.unref?.();
    });
    return Promise.race([pending, timeout])
      .catch((cause: unknown) => {
        throw cause instanceof TwoFactorError && cause.code === 'ERR_2FA_STORE_UNAVAILABLE'
          ? cause
          : new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE', { cause });
      })
      .finally(() => clearTimeout(timer));
  }

  return {
    get: (key) => call(() => store.get(key)).then(asString),
    async getMany(keys) {
      if (store.getMany) {
        const values = await call(() => store.getMany?.(keys) ?? Promise.resolve([]));
        return keys.map((_, i) => asString(Array.isArray(values) ? values[i] : undefined));
      }
      return Promise.all(keys.map((key) => call(() => store.get(key)).then(asString)));
    },
    set: (key, value, ttlMs) => call(() => store.set(key, value, Math.max(1, Math.ceil(ttlMs)))),
    delete: async (...keys) => {
      await Promise.all(keys.map((key) => call(() => store.delete(key))));
    },
    consume: (key) => call(() => store.consume(key)).then(asString),
    async increment(key, ttlMs) {
      const count = Number(await call(() => store.increment(key, Math.max(1, Math.ceil(ttlMs)))));
      if (!Number.isInteger(count) || count < 1) {
        throw new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE', { message: 'The store returned a bad count.' });
      }
      return count;
    },
  };
}
