/**
 * `verifyAttempt` written over the five generic methods, one attempt at a time (a promise queue):
 * the steps of `VerifyAttemptInput` (src/stores/store.ts) in plain TypeScript. It is atomic only
 * against other `verifyAttempt` calls of this process, which is all a test needs: a reference the
 * verify contract (`verify-attempt-contract.ts`) checks like memoryStore()'s own and the Redis script,
 * and a one-call path over stores that have none (check-store's tests).
 */
import { timingSafeEqual } from 'node:crypto';
import { CHALLENGE_RECORD_FIELDS } from '../../src/challenge.js';
import type { Store, VerifyAttemptInput, VerifyAttemptResult } from '../../src/stores/store.js';

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function attempt(store: Store, input: VerifyAttemptInput): Promise<VerifyAttemptResult> {
  const { keys, challengeFields: f, lockout, now } = input;
  if ((await store.get(keys.lock)) !== undefined) return { outcome: 'busy' };
  const failures = Number(await store.get(keys.failures)) || 0;
  const failedAt = Number(await store.get(keys.failedAt)) || 0;
  if (failures >= lockout.hardLimit) return { outcome: 'locked', failures, failedAt };
  if (failures >= lockout.threshold) {
    const delay = Math.min(lockout.maxDelayMs, lockout.baseMs * 2 ** (failures - lockout.threshold));
    if (failedAt + delay - now > 0) return { outcome: 'locked', failures, failedAt };
  }
  const raw = await store.get(keys.challenge);
  if (raw === undefined) return { outcome: 'missing' };
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch {
    return { outcome: 'missing' };
  }
  if (!Array.isArray(record) || record.length !== f.length) return { outcome: 'missing' };
  const field = (position: number): unknown => record[position - 1];
  if (input.phone === '' || field(f.userId) !== input.userId || field(f.session) !== input.session) {
    return { outcome: 'missing' };
  }
  if (field(f.phone) !== input.phone) return { outcome: 'missing' };
  const stored = field(f.hash);
  const expiresAt = field(f.expiresAt);
  if (typeof stored !== 'string' || typeof expiresAt !== 'number') return { outcome: 'missing' };
  if (now >= expiresAt) return { outcome: 'expired' };
  const attempts = await store.increment(keys.attempts, Math.max(1, Math.ceil(expiresAt - now)));
  if (attempts > input.maxAttempts) return { outcome: 'exhausted' };
  let match = false;
  for (const hash of input.hashes) match = equal(hash, stored) || match;
  if (!match) {
    const count = await store.increment(keys.failures, input.failureTtlMs);
    await store.set(keys.failedAt, String(now), input.failureTtlMs);
    if (count === lockout.hardLimit) await store.set(keys.failures, String(count), input.failureTtlMs);
    return { outcome: 'wrong', challenge: raw, attempts, failures: count };
  }
  const state = await store.get(keys.state);
  for (const key of [keys.challenge, keys.state, keys.attempts, keys.failures, keys.failedAt]) {
    await store.delete(key);
  }
  return { outcome: 'right', challenge: raw, state };
}

/** `store` with a `verifyAttempt` made of its own methods, one attempt at a time. */
export function withVerifyAttempt<S extends Store>(store: S): S & Required<Pick<Store, 'verifyAttempt'>> {
  let queue: Promise<unknown> = Promise.resolve();
  const verifyAttempt = (input: VerifyAttemptInput) => {
    const run = queue.then(() => attempt(store, input));
    queue = run.catch(() => {});
    return run;
  };
  return Object.assign(Object.create(store) as S, { verifyAttempt });
}

/** `store` without `verifyAttempt`: a verify takes the five generic methods, as on a custom store. */
export function withoutVerifyAttempt<S extends Store>(store: S): S {
  const generic = Object.create(store) as S;
  generic.verifyAttempt = undefined;
  return generic;
}

/** The route tests take the one-call verify when `TFA_TEST_VERIFY=one-call` (see `.ci/run`). */
export const ONE_CALL_VERIFY = process.env.TFA_TEST_VERIFY === 'one-call';

/** A minimal verifyAttempt input for unit tests of the stores' deadline handling (no real keys). */
export const verifyAttemptInput = (deadline?: number): VerifyAttemptInput => ({
  keys: { lock: 'l', challenge: 'c', state: 's', attempts: 'a', failures: 'f', failedAt: 'fa' },
  challengeFields: CHALLENGE_RECORD_FIELDS,
  userId: 'u1',
  session: 'sess',
  phone: 'p',
  hashes: ['h'],
  now: 1_000,
  maxAttempts: 5,
  lockout: { threshold: 5, baseMs: 1000, maxDelayMs: 3_600_000, hardLimit: 10 },
  failureTtlMs: 60_000,
  ...(deadline === undefined ? {} : { deadline }),
});

/** The clock of the verify tests' inputs, and the hash the challenge record of those tests holds. */
export const VERIFY_NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
export const RIGHT = 'right-hash-aaaaaaaaaaaa';

/** One account's keys (one hash tag, `{u1}`, as the package's), with an optional prefix. */
export function verifyKeys(prefix = ''): VerifyAttemptInput['keys'] {
  return {
    lock: `${prefix}v:{u1}`,
    challenge: `${prefix}c:x{u1}`,
    state: `${prefix}s:x{u1}`,
    attempts: `${prefix}a:x{u1}`,
    failures: `${prefix}f:{u1}`,
    failedAt: `${prefix}fa:{u1}`,
  };
}
export const VERIFY_KEYS = verifyKeys();

/**
 * A verify of user u1's challenge (sess, phone-hash) with a wrong hash, at VERIFY_NOW, 3 attempts,
 * lockout after 5 failures and for good after 10; `over` replaces any of it.
 */
export function verifyInput(over: Partial<VerifyAttemptInput> = {}): VerifyAttemptInput {
  return {
    keys: VERIFY_KEYS,
    challengeFields: CHALLENGE_RECORD_FIELDS,
    userId: 'u1',
    session: 'sess',
    phone: 'phone-hash',
    hashes: ['wrong-hash-bbbbbbbbbbbb'],
    now: VERIFY_NOW,
    maxAttempts: 3,
    lockout: { threshold: 5, baseMs: 1000, maxDelayMs: 3_600_000, hardLimit: 10 },
    failureTtlMs: 60_000,
    ...over,
  };
}
