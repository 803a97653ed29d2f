import { TwoFactorError } from '../errors.js';
import { ownsVerifyAttempt, settlesAtOnce, verifyAttemptNowOf } from './memory-store.js';
import type { Store, VerifyAttemptInput, VerifyAttemptResult } from './store.js';

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
  /** The store's own atomic compare-and-set, or one under a short lock made from `increment`. */
  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean>;
  /** The store's one-call verify attempt, when it has one (bounded by the timeout like the rest). */
  verifyAttempt?: (input: VerifyAttemptInput) => Promise<VerifyAttemptResult>;
}

/** Store calls made while holding a compare-and-set lock (get, set), with room. */
const LOCKED_ROUNDS = 4;

const asString = (value: unknown) => (typeof value === 'string' ? value : undefined);

/** The store error the routes answer 503 for, keeping the store's own one as it is. */
function unavailable(cause: unknown): TwoFactorError {
  return cause instanceof TwoFactorError && cause.code === 'ERR_2FA_STORE_UNAVAILABLE'
    ? cause
    : new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE', { cause });
}

/**
 * Deadlines shared by the store calls that start within the same short window: one timer per
 * window (at most one per `slotMs`), not one `setTimeout` per call. A call's deadline falls between
 * `timeoutMs - slotMs` and `timeoutMs` after it started, never later, so the locks' TTLs (built from
 * `timeoutMs` per round) still hold. Returns the function that cancels a call's deadline.
 */
export function sharedDeadlines(timeoutMs: number) {
  const slotMs = Math.max(1, Math.min(10, Math.floor(timeoutMs / 10)));
  let slot = Number.NaN;
  let waiting = new Set<() => void>();
  function deadline(onTimeout: () => void): () => void {
    const now = Date.now();
    const current = Math.floor(now / slotMs);
    if (current !== slot) {
      slot = current;
      const calls = new Set<() => void>();
      waiting = calls;
      const timer = setTimeout(
        () => {
          for (const fire of calls) fire();
        },
        Math.max(0, current * slotMs + timeoutMs - now),
      );
      timer.unref?.();
    }
    const calls = waiting;
    calls.add(onTimeout);
    return () => calls.delete(onTimeout);
  }
  /** When a call that starts now times out: its window's start plus `timeoutMs`. */
  deadline.firesAt = (): number => Math.floor(Date.now() / slotMs) * slotMs + timeoutMs;
  return deadline;
}

export function guardStore(store: Store, timeoutMs: number): GuardedStore {
  const deadline = sharedDeadlines(timeoutMs);
  const timedOut = () => new Error(`store call timed out after ${timeoutMs} ms`);
  function call<T>(operation: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(operation());
    } catch (error) {
      return Promise.reject(unavailable(error));
    }
    // memoryStore() answers within the call (its promises are already settled): it cannot hang,
    // so it gets no deadline at all. Any other store, or a memory store with a method replaced, does.
    if (settlesAtOnce(store)) return pending.catch((error: unknown) => Promise.reject(unavailable(error)));
    return new Promise<T>((resolve, reject) => {
      const cancel = deadline(() => reject(unavailable(timedOut())));
      // Handled either way: a late rejection after the deadline is no unhandled rejection.
      pending.then(
        (value) => {
          cancel();
          resolve(value);
        },
        (error: unknown) => {
          cancel();
          reject(unavailable(error));
        },
      );
    });
  }

  const guarded: GuardedStore = {
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
    async compareAndSet(key, expected, value, ttlMs) {
      const ttl = Math.max(1, Math.ceil(ttlMs));
      if (store.compareAndSet) {
        return (
          (await call(() => store.compareAndSet?.(key, expected, value, ttl) ?? Promise.resolve(false))) ===
          true
        );
      }
      return lockedCompareAndSet(guarded, key, expected, value, ttl, LOCKED_ROUNDS * timeoutMs);
    },
  };
  // A memoryStore()'s own verifyAttempt on a copy of it, or on the store once a method of it was
  // replaced (a fault a test injects after the app was built), would bypass the methods the app
  // gave: checked on every read of `guarded.verifyAttempt`, not once here.
  const own = store.verifyAttempt;
  const verifyAttempt = own?.bind(store);
  // Security F-08: once the call has timed out (503), a verify that runs late must change nothing.
  // The route's deadline is now + timeoutMs, but the shared timer answers 503 up to one window
  // earlier (its window's start + timeoutMs): the store is given the earlier of the two, less 1 ms
  // for the timer's clock (libuv's, whole milliseconds) against Date.now().
  // Copied with Object.assign: `{ ...input, deadline }` takes a slow path in V8 on Node 20 (events.ts).
  const atTimeout = (input: VerifyAttemptInput): VerifyAttemptInput => {
    if (input.deadline === undefined) return input;
    const bounded = Object.assign({}, input);
    bounded.deadline = Math.min(input.deadline, deadline.firesAt() - 1);
    return bounded;
  };
  if (verifyAttempt) {
    const attempt = (input: VerifyAttemptInput) => {
      // A pristine memoryStore() runs the attempt within the call and cannot run late (no deadline,
      // see `call`): run as it is, its input not copied for a deadline it does not read, one
      // settled promise instead of its async method's and a `catch` on it.
      const now = verifyAttemptNowOf(store);
      if (now === undefined) return call(() => verifyAttempt(atTimeout(input)));
      try {
        return Promise.resolve(now(input));
      } catch (error) {
        return Promise.reject(unavailable(error));
      }
    };
    Object.defineProperty(guarded, 'verifyAttempt', {
      enumerable: true,
      get: () => (store.verifyAttempt === own && ownsVerifyAttempt(store) ? attempt : undefined),
    });
  }
  return guarded;
}

/**
 * Compare-and-set for a store that offers only the five required methods: whoever makes the
 * key's lock counter 1 compares and writes; a busy lock answers `false`, like a value that
 * changed, and the caller reads again. The lock's TTL frees it if this process dies holding it.
 */
async function lockedCompareAndSet(
  store: GuardedStore,
  key: string,
  expected: string | undefined,
  value: string,
  ttlMs: number,
  lockTtlMs: number,
): Promise<boolean> {
  const lock = `${key}:lock`;
  let holders: number;
  try {
    holders = await store.increment(lock, lockTtlMs);
  } catch (error) {
    store.delete(lock).catch(() => {}); // a timed-out increment may land later: undo it
    throw error;
  }
  if (holders > 1) return false;
  try {
    if ((await store.get(key)) !== expected) return false;
    await store.set(key, value, ttlMs);
    return true;
  } finally {
    await store.delete(lock).catch(() => {});
  }
}
