import { SEND_STORE_ROUNDS, SEND_WORK_MS, VERIFY_STORE_ROUNDS } from './constants.js';
import type { Runtime } from './context.js';
import { TwoFactorError } from './errors.js';

/**
 * Runs `work` while holding a per-user lock in the store (an atomic counter: whoever makes it 1
 * holds it). Others are refused with `busy`, never queued. `preload` runs once the lock is held and
 * hands its result to `work`: read alongside the lock's round trip, it could see the state from
 * before a holder that committed in between (a failure count one behind).
 */
async function withLock<T, P>(
  rt: Runtime,
  key: string,
  ttlMs: number,
  busy: () => TwoFactorError,
  work: (preloaded: P) => Promise<T>,
  preload: () => Promise<P>,
): Promise<T> {
  let holders: number;
  try {
    holders = await rt.store.increment(key, ttlMs);
  } catch (error) {
    // A timed-out increment may still land later and hold the lock for its TTL; a delete queued
    // behind it undoes that (at worst it frees a lock another request holds).
    rt.store.delete(key).catch(() => {});
    throw error;
  }
  if (holders > 1) throw busy();
  try {
    return await work(await preload());
  } finally {
    await rt.store.delete(key).catch(() => {}); // the lock's TTL frees it if the store is down
  }
}

/**
 * How long a send lock lives: past the slowest send that stays within every bound (each store
 * call may take up to `storeTimeoutMs`), so it never lapses under a send still running.
 */
export function sendLockTtl(storeTimeoutMs: number): number {
  return SEND_WORK_MS + SEND_STORE_ROUNDS * storeTimeoutMs;
}

/** How long a verify lock lives: past a verify whose every store call takes up to `storeTimeoutMs`. */
export function verifyLockTtl(storeTimeoutMs: number): number {
  return VERIFY_STORE_ROUNDS * storeTimeoutMs;
}

/** One send at a time per user: parallel sends, resends and calls send once; the others wait. */
export function withSendLock<T>(rt: Runtime, userKey: string, work: () => Promise<T>): Promise<T> {
  const busy = () =>
    new TwoFactorError('ERR_2FA_COOLDOWN', { retryAfter: 2, message: 'A code is being sent. Please wait.' });
  const ttl = sendLockTtl(rt.config.storeTimeoutMs);
  return withLock(rt, rt.keys.sendLock(userKey), ttl, busy, work, async () => undefined);
}

/** The answer to a code check while another one of the same account runs. */
export function verifyBusy(): TwoFactorError {
  return new TwoFactorError('ERR_2FA_COOLDOWN', {
    retryAfter: 1,
    message: 'A code is being checked. Please wait.',
  });
}

/**
 * One code check at a time per account. The account's failure count is read before the compare
 * and written after it; without this, parallel guesses would all read the same count and slip
 * past the exponential delay and the hard lock.
 */
export function withVerifyLock<T, P>(
  rt: Runtime,
  userKey: string,
  preload: () => Promise<P>,
  work: (preloaded: P) => Promise<T>,
): Promise<T> {
  const ttl = verifyLockTtl(rt.config.storeTimeoutMs);
  return withLock(rt, rt.keys.verifyLock(userKey), ttl, verifyBusy, work, preload);
}
