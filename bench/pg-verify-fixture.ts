// One right-code verify for the PostgreSQL cost scripts (pg-js-cost.ts, pg-client-cost.ts): the
// challenge record as the send writes it (serializeChallenge) and the verifyAttempt input that matches it.
import { CHALLENGE_RECORD_FIELDS, serializeChallenge } from '../src/challenge.js';
import type { VerifyAttemptInput } from '../src/stores/store.js';

const SESSION = 'sess-fingerprint-0123456789abcdef';
const PHONE = 'phone-hash-0123456789abcdef0123456789abcdef';
const HASH = 'hash-0123456789abcdef0123456789abcdef0123456789ab';

/** The stored challenge of `userId`, whose code hash is the one `verifyInput` sends. */
export function challengeRecord(userId: string, sealed: string): string {
  return serializeChallenge({
    id: '',
    userId,
    session: SESSION,
    hash: HASH,
    sealed,
    expiresAt: Date.now() + 600_000,
    returnTo: '/',
    country: 'DE',
    masked: '+49 *** *** 12',
    ip: '127.0.0.1',
    phone: PHONE,
  });
}

/** A right-code verifyAttempt of `userId`'s challenge under `keys`. */
export function verifyInput(keys: VerifyAttemptInput['keys'], userId: string): VerifyAttemptInput {
  return {
    keys,
    challengeFields: CHALLENGE_RECORD_FIELDS,
    userId,
    session: SESSION,
    phone: PHONE,
    hashes: [HASH],
    now: Date.now(),
    maxAttempts: 5,
    lockout: { threshold: 5, baseMs: 1000, maxDelayMs: 3_600_000, hardLimit: 10 },
    failureTtlMs: 3_600_000,
    deadline: Date.now() + 60_000,
  };
}

/** The verifyAttempt of challenge `id` under keys of its own (`l:<id>`, `c:<id>`, …), user `u<id>`. */
export function verifyInputOf(id: string): VerifyAttemptInput {
  return verifyInput(
    {
      lock: `l:${id}`,
      challenge: `c:${id}`,
      state: `s:${id}`,
      attempts: `a:${id}`,
      failures: `f:${id}`,
      failedAt: `fa:${id}`,
    },
    `u${id}`,
  );
}
