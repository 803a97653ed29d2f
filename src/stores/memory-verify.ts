import { safeEqual } from '../crypto.js';
import type { VerifyAttemptInput, VerifyAttemptResult } from './store.js';

/** A store's own operations as plain synchronous calls (memoryStore's, before its promises). */
export interface SyncStore {
  get(key: string): string | undefined;
  set(key: string, value: string, ttlMs: number): void;
  delete(key: string): void;
  increment(key: string, ttlMs: number): number;
}

/** The fields of a challenge record `verifyAttempt` reads, when it is this user's, session's and number's. */
function readRecord(raw: string, input: VerifyAttemptInput): { hash: string; expiresAt: number } | null {
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch {
    return null;
  }
  const f = input.challengeFields;
  if (!Array.isArray(record) || record.length !== f.length || input.phone === '') return null;
  const field = (position: number): unknown => record[position - 1];
  if (field(f.userId) !== input.userId || field(f.session) !== input.session) return null;
  if (field(f.phone) !== input.phone) return null;
  const hash = field(f.hash);
  const expiresAt = field(f.expiresAt);
  return typeof hash === 'string' && typeof expiresAt === 'number' ? { hash, expiresAt } : null;
}

/**
 * `verifyAttempt` over a store that answers synchronously: the steps of `VerifyAttemptInput`
 * (store.ts) run to the end within one call, so nothing can come between them (atomic in-process).
 * An in-process store cannot run late: the `deadline` is not consulted.
 */
export function verifyAttemptNow(store: SyncStore, input: VerifyAttemptInput): VerifyAttemptResult {
  const { keys, lockout, now } = input;
  if (store.get(keys.lock) !== undefined) return { outcome: 'busy' };
  const failures = Number(store.get(keys.failures)) || 0;
  const failedAt = Number(store.get(keys.failedAt)) || 0;
  if (failures >= lockout.hardLimit) return { outcome: 'locked', failures, failedAt };
  if (failures >= lockout.threshold) {
    const delay = Math.min(lockout.maxDelayMs, lockout.baseMs * 2 ** (failures - lockout.threshold));
    if (failedAt + delay - now > 0) return { outcome: 'locked', failures, failedAt };
  }
  const raw = store.get(keys.challenge);
  const record = raw === undefined ? null : readRecord(raw, input);
  if (raw === undefined || !record) return { outcome: 'missing' };
  if (now >= record.expiresAt) return { outcome: 'expired' };
  const attempts = store.increment(keys.attempts, Math.max(1, Math.ceil(record.expiresAt - now)));
  if (attempts > input.maxAttempts) return { outcome: 'exhausted' };
  let match = false;
  for (const hash of input.hashes) match = safeEqual(hash, record.hash) || match;
  if (!match) {
    const count = store.increment(keys.failures, input.failureTtlMs);
    store.set(keys.failedAt, String(now), input.failureTtlMs);
    if (count === lockout.hardLimit) store.set(keys.failures, String(count), input.failureTtlMs);
    return { outcome: 'wrong', challenge: raw, attempts, failures: count };
  }
  const state = store.get(keys.state);
  for (const key of [keys.challenge, keys.state, keys.attempts, keys.failures, keys.failedAt]) {
    store.delete(key);
  }
  return { outcome: 'right', challenge: raw, state };
}
