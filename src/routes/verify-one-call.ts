import type { Request, Response } from 'express';
import { CHALLENGE_RECORD_FIELDS, challengeOf, parseChallenge, parseSendState } from '../challenge.js';
import { FAILURE_MEMORY_MS } from '../constants.js';
import type { Runtime } from '../context.js';
import { sessionFingerprint } from '../cookie.js';
import { TwoFactorError } from '../errors.js';
import { verifyBusy } from '../lock.js';
import { assertNotLocked, MAX_DELAY_MS } from '../lockout.js';
import type { CheckedUser } from '../options.js';
import { parseDestination } from '../phone.js';
import type { VerifyAttemptInput, VerifyAttemptResult } from '../stores/store.js';
import { E164 } from './load.js';
import type { Refusal, RouteResult } from './result.js';
import type { VerifyFlow } from './verify.js';
import { verified, verifiedFor, verifyWho, wrongCode } from './verify-outcome.js';

/** The lockout rule as `verifyAttempt` takes it, made once per configuration (stores only read it). */
const lockouts = new WeakMap<Runtime['config'], VerifyAttemptInput['lockout']>();
function lockoutOf(config: Runtime['config']): VerifyAttemptInput['lockout'] {
  let lockout = lockouts.get(config);
  if (!lockout) {
    lockout = Object.freeze({ ...config.lockout, maxDelayMs: MAX_DELAY_MS });
    lockouts.set(config, lockout);
  }
  return lockout;
}

/** The keyed hash of the number on file as libphonenumber writes it, or '' for none (never matches). */
function parsedPhoneKey(keys: Runtime['keys'], phone: unknown): string {
  const onFile = parseDestination(phone);
  return onFile ? keys.phone(onFile.e164) : '';
}

/** The challenge a wrong or right attempt read: the store's parsed record when it handed it back. */
function recordOf(result: { challenge: string; record?: readonly unknown[] }, id: string) {
  return result.record === undefined ? parseChallenge(result.challenge, id) : challengeOf(result.record, id);
}

/**
 * POST /verify on a store with `verifyAttempt`: the lock check, the attempt count, the compare and
 * the failure count or the consume happen in the store as one operation (one round trip on
 * Redis), in the order of the generic path, with the same answers and events.
 */
export async function verifyInOneCall(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  userKey: string,
  id: string,
  code: string,
  verifyAttempt: (input: VerifyAttemptInput) => Promise<VerifyAttemptResult>,
  flow: Pick<VerifyFlow, 'confirm' | 'clear'>,
  secure?: boolean,
): Promise<RouteResult | Refusal> {
  const { config, keys } = rt;
  // A number on file in E.164 is hashed as written, like `sameNumber` does, without libphonenumber.
  // (No closure for the parsed number: one made per verify costs more than the call.)
  const asWritten = typeof user.phone === 'string' && E164.test(user.phone);
  const input: VerifyAttemptInput = {
    keys: {
      lock: keys.verifyLock(userKey),
      challenge: keys.challenge(id),
      state: keys.state(id),
      attempts: keys.attempts(id),
      failures: keys.failures(userKey),
      failedAt: keys.failedAt(userKey),
    },
    challengeFields: CHALLENGE_RECORD_FIELDS,
    userId: user.id,
    session: sessionFingerprint(user),
    phone: asWritten ? keys.phone(user.phone as string) : parsedPhoneKey(keys, user.phone),
    hashes: keys.codeHashes(id, code),
    now: config.now(),
    maxAttempts: config.maxAttempts,
    lockout: lockoutOf(config),
    failureTtlMs: FAILURE_MEMORY_MS,
    deadline: Date.now() + config.storeTimeoutMs,
  };
  let result = await verifyAttempt(input);
  // E.164 in shape but not as libphonenumber writes it (`+320470…`): `missing` changed nothing in
  // the store, so the attempt is made once more with the parsed number's hash.
  if (result.outcome === 'missing' && asWritten) {
    const phone = parsedPhoneKey(keys, user.phone);
    if (phone !== input.phone) {
      // Copied, then `phone` set (same keys, same order): `{ ...input, phone }` is slow on Node 20.
      const again = Object.assign({}, input);
      again.phone = phone;
      result = await verifyAttempt(again);
    }
  }
  switch (result.outcome) {
    case 'late':
      return { refused: new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE') };
    case 'busy':
      return { refused: verifyBusy() };
    case 'locked':
      assertNotLocked(rt, result);
      // The store's clock rule said locked where ours says not: refuse for a moment all the same.
      return { refused: new TwoFactorError('ERR_2FA_LOCKED', { retryAfter: 1 }) };
    case 'expired':
      return { refused: new TwoFactorError('ERR_2FA_CODE_EXPIRED') };
    case 'exhausted':
      return { refused: new TwoFactorError('ERR_2FA_TOO_MANY_ATTEMPTS') };
    case 'wrong': {
      const challenge = recordOf(result, id);
      if (!challenge) break;
      return wrongCode(rt, verifyWho(rt, req, user, challenge), result.attempts, result.failures);
    }
    case 'right': {
      const challenge = recordOf(result, id);
      if (!challenge) break;
      const state = parseSendState(result.state);
      const who = verifyWho(rt, req, user, challenge);
      // Sign-in has no confirmation: its answer comes back as it is, not as a promise to unwrap.
      return flow.confirm
        ? verified(rt, res, user, state, who, challenge, flow, secure)
        : verifiedFor(rt, res, user, state, who, challenge, flow, secure ?? rt.cookies.isSecure(req));
    }
  }
  throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
}
