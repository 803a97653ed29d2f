import { textMatches } from '../crypto.js';
import { decodeExpiry, EXPIRY_CHARS, entryOf, entryValue } from './memory-entries.js';
import type { VerifyAttemptInput, VerifyAttemptResult } from './store.js';

/**
 * The memory store's entries (expiry + value, memory-entries.ts) as plain synchronous calls, for
 * `verifyAttemptNow`: it reads each key once and writes the counters from what it read, instead of
 * the generic methods' read-again in every increment.
 */
export interface EntryStore {
  /** The live entry of `key`, or undefined (an expired one is dropped, as a read does). */
  entry(key: string): string | undefined;
  /** Keeps `entry` for `key`; a new key needs room (the store refuses with 503 when it is full). */
  put(key: string, entry: string): void;
  /** Makes room for `count` new keys, as `put` would for one (the store's 503 when full), writing nothing. */
  makeRoom(count: number): void;
  delete(key: string): void;
  /**
   * Deletes a challenge's record, state and attempts (one delete for the record and state's shared
   * entry); `attempts` undefined: the challenge has no attempt counter (read live in this call).
   */
  consume(challenge: string, state: string, attempts: string | undefined): void;
  /** The store's clock (its TTLs run on it, not on the app's `now`). */
  now(): number;
}

/** A challenge record's fields `verifyAttempt` reads, and the record itself (already parsed). */
interface ChallengeRecord {
  hash: string;
  expiresAt: number;
  fields: unknown[];
}

/** The record when it is this user's, session's and number's; null for anything else. */
function readRecord(raw: string, input: VerifyAttemptInput): ChallengeRecord | null {
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch {
    return null;
  }
  const f = input.challengeFields;
  if (!Array.isArray(record) || record.length !== f.length || input.phone === '') return null;
  // Positions are one-based (as in Lua). Indexed in place: no closure made per attempt.
  if (record[f.userId - 1] !== input.userId || record[f.session - 1] !== input.session) return null;
  if (record[f.phone - 1] !== input.phone) return null;
  const hash: unknown = record[f.hash - 1];
  const expiresAt: unknown = record[f.expiresAt - 1];
  return typeof hash === 'string' && typeof expiresAt === 'number'
    ? { hash, expiresAt, fields: record }
    : null;
}

/** Equal hashes, in time independent of where they differ (their length is not secret). */
const sameHash = (a: string, b: string): boolean => a.length === b.length && textMatches(a, b, 0, a.length);

/** A counter's value as `increment` reads it (anything else counts as 0). */
const countOf = (entry: string | undefined): number =>
  entry === undefined ? 0 : Number.parseInt(entryValue(entry), 10) || 0;

/** An entry written now with a TTL of `ttlMs` (at least 1 ms, rounded up), as `set` writes it. */
const fresh = (store: EntryStore, value: string, ttlMs: number): string =>
  entryOf(value, store.now() + Math.max(1, Math.ceil(ttlMs)));

/**
 * `increment` of a counter whose entry was read earlier in this attempt, without reading it again:
 * the TTL is set on creation only; one that expired since (the store's clock moved on) starts at 1.
 */
function increment(store: EntryStore, key: string, entry: string | undefined, ttlMs: number): number {
  if (entry === undefined || decodeExpiry(entry) <= store.now()) {
    store.put(key, fresh(store, '1', ttlMs));
    return 1;
  }
  const next = countOf(entry) + 1;
  store.put(key, entry.slice(0, EXPIRY_CHARS) + next);
  return next;
}

/**
 * `verifyAttempt` over the memory store's entries: the steps of `VerifyAttemptInput` (store.ts) run
 * to the end within one call, so nothing can come between them (atomic in-process). An in-process
 * store cannot run late: the `deadline` is not consulted. A counter already at `maxAttempts` is
 * left as it is (store.ts allows it): a refused attempt writes nothing.
 */
export function verifyAttemptNow(store: EntryStore, input: VerifyAttemptInput): VerifyAttemptResult {
  const { keys, lockout, now } = input;
  if (store.entry(keys.lock) !== undefined) return { outcome: 'busy' };
  const failuresEntry = store.entry(keys.failures);
  const failures = failuresEntry === undefined ? 0 : Number(entryValue(failuresEntry)) || 0;
  const failedAtEntry = store.entry(keys.failedAt);
  const failedAt = failedAtEntry === undefined ? 0 : Number(entryValue(failedAtEntry)) || 0;
  if (failures >= lockout.hardLimit) return { outcome: 'locked', failures, failedAt };
  if (failures >= lockout.threshold) {
    const delay = Math.min(lockout.maxDelayMs, lockout.baseMs * 2 ** (failures - lockout.threshold));
    if (failedAt + delay - now > 0) return { outcome: 'locked', failures, failedAt };
  }
  const challengeEntry = store.entry(keys.challenge);
  if (challengeEntry === undefined) return { outcome: 'missing' };
  const raw = entryValue(challengeEntry);
  const record = readRecord(raw, input);
  if (!record) return { outcome: 'missing' };
  if (now >= record.expiresAt) return { outcome: 'expired' };

  // The attempt is counted before any compare; the TTL is set when the counter is created.
  const attemptsEntry = store.entry(keys.attempts);
  const before = countOf(attemptsEntry);
  if (before >= input.maxAttempts) return { outcome: 'exhausted' };
  // A wrong code writes the counter, the failure count and its time, each a key of its own made when
  // absent: a full store refuses here, before the compare, for a right code too. After it, a wrong
  // code's 503 beside a right code's pass would tell them apart with nothing counted.
  const absent =
    (attemptsEntry === undefined ? 1 : 0) +
    (failuresEntry === undefined ? 1 : 0) +
    (failedAtEntry === undefined ? 1 : 0);
  if (absent > 0) store.makeRoom(absent);

  // Constant time over the text, compared in place (no Buffer per hash): exact equality.
  let match = false;
  for (const hash of input.hashes) match = sameHash(hash, record.hash) || match;
  if (!match) {
    const attempts = increment(store, keys.attempts, attemptsEntry, record.expiresAt - now);
    const count = increment(store, keys.failures, failuresEntry, input.failureTtlMs);
    store.put(keys.failedAt, fresh(store, String(now), input.failureTtlMs));
    if (count === lockout.hardLimit)
      store.put(keys.failures, fresh(store, String(count), input.failureTtlMs));
    return { outcome: 'wrong', challenge: raw, record: record.fields, attempts, failures: count };
  }
  // A right code's attempt is not written: the counter goes with the challenge (store.ts allows it).
  const stateEntry = store.entry(keys.state);
  // Read live above (an expired one was dropped then): nothing to delete when there was none.
  store.consume(keys.challenge, keys.state, attemptsEntry === undefined ? undefined : keys.attempts);
  if (failuresEntry !== undefined) store.delete(keys.failures);
  if (failedAtEntry !== undefined) store.delete(keys.failedAt);
  return {
    outcome: 'right',
    challenge: raw,
    record: record.fields,
    state: stateEntry === undefined ? undefined : entryValue(stateEntry),
  };
}
