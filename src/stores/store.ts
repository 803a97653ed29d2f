/**
 * Where challenges and counters live. Every method is async and values are strings (JSON).
 * Check a custom store with `checkStore` from `express-sms-2fa/testing` before trusting it.
 */
export interface Store {
  /** Required. The value, or `undefined` when missing or expired. */
  get(key: string): Promise<string | undefined>;
  /** Required. Stores the value for `ttlMs` milliseconds, replacing any previous value and TTL. */
  set(key: string, value: string, ttlMs: number): Promise<void>;
  /** Required. Removes the key; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Required. Atomic get-and-delete: of many concurrent callers, exactly one gets the value. */
  consume(key: string): Promise<string | undefined>;
  /** Required. Atomic add-one; returns the new count. The TTL is set only when the key is created. */
  increment(key: string, ttlMs: number): Promise<number>;
  /**
   * Optional. Atomic compare-and-set: when the key's value is `expected` (`undefined`: the key is
   * missing or expired), stores `value` for `ttlMs` and resolves `true`; otherwise changes nothing
   * and resolves `false`. The send budgets use it. Without it they hold a short per-key lock made
   * from `increment` and `delete` instead: just as correct, three more round trips per budget.
   */
  compareAndSet?(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean>;
  /** Optional. Several values in one round trip (`MGET`); same order as `keys`. */
  getMany?(keys: string[]): Promise<(string | undefined)[]>;
  /**
   * Optional. One verify attempt as one atomic operation (one round trip): refuse while the
   * account's lock is held or its lockout runs, count the attempt, compare the stored hash with
   * the ones passed in, then record the failure or consume the challenge. `POST /2fa/verify` uses
   * it when present and the five methods above otherwise, with the same answers and events.
   * See `VerifyAttemptInput` for what it reads and writes; `redisStore()` runs it as one script.
   */
  verifyAttempt?(input: VerifyAttemptInput): Promise<VerifyAttemptResult>;
  /** Optional. Releases connections or timers. */
  shutdown?(): Promise<void>;
}

/**
 * What `verifyAttempt` is given. All keys belong to one user (on Redis Cluster: one hash slot).
 * Steps, in this order, each ending the attempt with its outcome:
 * 0. Past `deadline` (when given): change nothing, `late`.
 * 1. `keys.lock` exists (a verify holding the account's lock the generic way): `busy`.
 * 2. The account is locked (`failures` and `failedAt` with `lockout`, the same rule as the
 *    generic path: hard lock at `hardLimit`, else from `threshold` on a delay of
 *    `min(maxDelayMs, baseMs × 2^(failures − threshold))` after `failedAt`): `locked`.
 * 3. No challenge record, or not a JSON array of `challengeFields` whose `userId`, `session` and
 *    `phone` fields equal those given: `missing`. Its `expiresAt` field ≤ `now`: `expired`.
 * 4. Increment `keys.attempts` (TTL `expiresAt − now` on creation); above `maxAttempts`: `exhausted`.
 *    (A store may leave a counter already at `maxAttempts` as it is, and need not write the count
 *    of a right code it consumes in the same step: the answers are the same.)
 * 5. The record's `hash` equals none of `hashes` (compare in constant time): increment
 *    `keys.failures` (TTL `failureTtlMs` on creation; at exactly `hardLimit` set again with a
 *    full `failureTtlMs`), set `keys.failedAt` to `now` (`failureTtlMs`): `wrong`.
 * 6. Otherwise delete the challenge, its state and attempts, and the failure count and time: `right`.
 */
export interface VerifyAttemptInput {
  keys: {
    lock: string;
    challenge: string;
    state: string;
    attempts: string;
    failures: string;
    failedAt: string;
  };
  /** The one-based positions of the fields the store reads in the challenge record (a JSON array). */
  challengeFields: {
    length: number;
    userId: number;
    session: number;
    hash: number;
    expiresAt: number;
    phone: number;
  };
  userId: string;
  session: string;
  /** Keyed hash of the number on file; `''` when there is none (no challenge can match). */
  phone: string;
  /** HMAC(secret, challenge id + typed code), one per secret (rotation). */
  hashes: string[];
  /** The app's clock (ms since the epoch), not the store's. */
  now: number;
  maxAttempts: number;
  lockout: { threshold: number; baseMs: number; maxDelayMs: number; hardLimit: number };
  failureTtlMs: number;
  /**
   * `Date.now()` time after which the store must change nothing and answer `late`: the app has
   * answered 503 by then (its store timeout), and a call that ran later must not evaluate the code
   * (security F-08). An in-process store, which cannot run late, may ignore it.
   */
  deadline?: number;
}

/**
 * What `verifyAttempt` answers. A store that parsed the challenge record to compare its fields may
 * hand it back as `record` (`JSON.parse(challenge)`, not to be changed afterwards): the route then
 * does not parse it again. Without `record` the route parses `challenge`, as before it existed.
 */
export type VerifyAttemptResult =
  | { outcome: 'late' | 'busy' | 'missing' | 'expired' | 'exhausted' }
  | { outcome: 'locked'; failures: number; failedAt: number }
  /** `challenge`: the record as stored; `attempts` and `failures`: the counts after this one. */
  | { outcome: 'wrong'; challenge: string; record?: readonly unknown[]; attempts: number; failures: number }
  /** `challenge` and `state`: the records as they were before the delete. */
  | { outcome: 'right'; challenge: string; record?: readonly unknown[]; state: string | undefined };

export const STORE_METHODS = ['get', 'set', 'delete', 'consume', 'increment'] as const;
