import { FAILURE_MEMORY_MS, HOUR } from './constants.js';
import type { Runtime } from './context.js';
import { TwoFactorError } from './errors.js';

/** Longest exponential wait between attempts; the hard limit ends the series (NIST SP 800-63B §5.2.2). */
export const MAX_DELAY_MS = HOUR;
/** A hard lock lasts until `tfa.unlock(userId)`; clients are told to come back tomorrow at the earliest. */
const HARD_LOCK_RETRY_S = 24 * 3600;

export interface LockState {
  failures: number;
  failedAt: number;
}

export function lockState(failures: string | undefined, failedAt: string | undefined): LockState {
  return { failures: Number(failures) || 0, failedAt: Number(failedAt) || 0 };
}

export function isHardLocked(rt: Runtime, state: LockState): boolean {
  return state.failures >= rt.config.lockout.hardLimit;
}

/** Refuses a send to an account locked for good: an SMS it can never use would only cost money. */
export function assertNotHardLocked(rt: Runtime, state: LockState): void {
  if (isHardLocked(rt, state)) throw new TwoFactorError('ERR_2FA_LOCKED', { retryAfter: HARD_LOCK_RETRY_S });
}

/** How long the account must still wait after its last failure (0: not at all; Infinity: hard lock). */
export function lockWaitMs(rt: Runtime, state: LockState): number {
  const { threshold, baseMs } = rt.config.lockout;
  if (isHardLocked(rt, state)) return Number.POSITIVE_INFINITY;
  if (state.failures < threshold) return 0;
  const delay = Math.min(MAX_DELAY_MS, baseMs * 2 ** (state.failures - threshold));
  return Math.max(0, state.failedAt + delay - rt.config.now());
}

/**
 * Refuses, unevaluated, an attempt made while the account is locked or inside its delay; the send
 * routes refuse too, so no SMS or call goes out for a code that could not be checked.
 */
export function assertNotLocked(rt: Runtime, state: LockState): void {
  assertNotHardLocked(rt, state);
  const waitMs = lockWaitMs(rt, state);
  if (waitMs > 0) throw new TwoFactorError('ERR_2FA_LOCKED', { retryAfter: waitMs / 1000 });
}

/** Counts one evaluated wrong code against the account; only a success resets it. */
export async function recordFailure(rt: Runtime, userKey: string): Promise<number> {
  const { store, keys, config } = rt;
  const [failures] = await Promise.all([
    store.increment(keys.failures(userKey), FAILURE_MEMORY_MS),
    store.set(keys.failedAt(userKey), String(config.now()), FAILURE_MEMORY_MS),
  ]);
  // The counter's TTL runs from the first failure; a hard lock starts its own full term.
  if (failures === config.lockout.hardLimit) {
    await store.set(keys.failures(userKey), String(failures), FAILURE_MEMORY_MS);
  }
  return failures;
}

export async function resetFailures(rt: Runtime, userKey: string): Promise<void> {
  await rt.store.delete(rt.keys.failures(userKey), rt.keys.failedAt(userKey));
}
