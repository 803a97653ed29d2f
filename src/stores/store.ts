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
  /** Optional. Releases connections or timers. */
  shutdown?(): Promise<void>;
}

export const STORE_METHODS = ['get', 'set', 'delete', 'consume', 'increment'] as const;
