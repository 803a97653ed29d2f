import type { Request, Response } from 'express';
import { type Challenge, parseChallenge, sharesUserSlot } from '../challenge.js';
import type { Runtime } from '../context.js';
import { codeMatches } from '../crypto.js';
import { codeFormatMessage } from '../error-messages.js';
import { TwoFactorError } from '../errors.js';
import { withVerifyLock } from '../lock.js';
import { assertNotLocked, recordFailure, resetFailures } from '../lockout.js';
import type { Locale } from '../messages.js';
import type { CheckedUser } from '../options.js';
import { verifyAttemptUnavailable } from '../stores/verify-unavailable.js';
import { type Loaded, load } from './load.js';
import type { Refusal, RouteResult } from './result.js';
import { verifyInOneCall } from './verify-one-call.js';
import { verified, verifyWho, wrongCode } from './verify-outcome.js';

/** The typed code: digits only, spaces and dashes forgiven; anything else is not a code at all. */
export function readCode(value: unknown, length: number, locale: Locale = 'en'): string {
  if (typeof value !== 'string')
    throw new TwoFactorError('ERR_2FA_BAD_REQUEST', { message: '`code` must be a string.' });
  const code = value.replace(/[\s-]/g, '');
  if (!/^\d+$/.test(code) || code.length !== length) {
    throw new TwoFactorError('ERR_2FA_BAD_REQUEST', { message: codeFormatMessage(locale, length) });
  }
  return code;
}

/** Which challenge a verify route checks, and what a right code does besides the verified cookie. */
export interface VerifyFlow {
  /** This browser's challenge for the route (sign-in: the one bound to the number on file). */
  load(rt: Runtime, req: Request, user: CheckedUser): Promise<Loaded>;
  /**
   * Runs once the challenge is consumed, before the verified cookie is written: returns the user
   * the cookie is for (enrollment: after `save`, with its new version), or `null` for no cookie.
   */
  confirm?(consumed: Challenge): Promise<CheckedUser | null>;
  /** Ends the route's challenge in this browser (`secure`: the cookies' scheme, when known). */
  clear(rt: Runtime, res: Response, secure?: boolean): void;
}

/** Sign-in: this browser's challenge, bound to the number on file. */
const SIGN_IN: VerifyFlow = {
  load: (rt, req, user) => load(rt, req, user),
  clear: (rt, res, secure) => rt.cookies.clearChallenge(res, secure),
};

/** POST /verify for a flow that takes its refusals thrown (enrollment): `attemptVerify`, a refusal thrown. */
export async function verifyCode(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  rawCode: unknown,
  flow: VerifyFlow = SIGN_IN,
): Promise<RouteResult> {
  const result = await attemptVerify(rt, req, res, user, rawCode, flow);
  if ('refused' in result) throw result.refused;
  return result;
}

/**
 * POST /verify. The order is the defence: refuse while locked, count the attempt atomically,
 * only then compare; on success consume the challenge atomically before the cookie is issued.
 * A sign-in verify on a store with `verifyAttempt` does all of it in one store call
 * (`verify-one-call.ts`); other stores and flows take the five-method path below. A wrong code
 * and the store's refusals come back as a `Refusal` (the router answers it as it would the error
 * thrown); the other refusals are thrown.
 */
export async function attemptVerify(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  rawCode: unknown,
  flow: VerifyFlow = SIGN_IN,
): Promise<RouteResult | Refusal> {
  const { config, store, keys } = rt;
  const code = readCode(rawCode, config.codeLength, config.locale);
  const userKey = keys.user(user.id);
  // Read once: the getter checks on every read that the store's methods are still its own.
  const verifyAttempt = flow === SIGN_IN ? store.verifyAttempt : undefined;
  if (verifyAttempt) {
    // The scheme asked once for the challenge cookie read here and the two a right code writes.
    const secure = rt.cookies.isSecure(req);
    const id = rt.cookies.readChallenge(req, secure);
    // A challenge from before the hash tags keeps the generic path: its keys may span slots.
    if (id && sharesUserSlot(id, userKey)) {
      try {
        return await verifyInOneCall(rt, req, res, user, userKey, id, code, verifyAttempt, flow, secure);
      } catch (error) {
        // The store could not run it and changed nothing (a PostgreSQL schema from the previous
        // release, without the verify function): this verify takes the generic path below.
        const unavailable = verifyAttemptUnavailable(error);
        if (!unavailable) throw error;
        rt.warnOnce(
          'verifyAttempt:unavailable',
          `${unavailable.message}; until then every verify takes the slower generic path`,
        );
      }
    }
  }
  return withVerifyLock(
    rt,
    userKey,
    () => flow.load(rt, req, user),
    async (loaded) => {
      assertNotLocked(rt, loaded.lock);
      const { challenge } = loaded;
      if (!challenge) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
      if (config.now() >= challenge.expiresAt) throw new TwoFactorError('ERR_2FA_CODE_EXPIRED');

      const who = verifyWho(rt, req, user, challenge);
      const attempts = await store.increment(keys.attempts(challenge.id), challenge.expiresAt - config.now());
      if (attempts > config.maxAttempts) throw new TwoFactorError('ERR_2FA_TOO_MANY_ATTEMPTS');

      if (!codeMatches(config.secrets, challenge.id, code, challenge.hash)) {
        return wrongCode(rt, who, attempts, await recordFailure(rt, userKey));
      }

      // Single use: of any number of right answers racing here, exactly one gets the challenge.
      // The right code resets the failure count even for a racer that loses: it knew the code.
      const [rawConsumed] = await Promise.all([
        store.consume(keys.challenge(challenge.id)),
        resetFailures(rt, userKey),
      ]);
      const consumed = parseChallenge(rawConsumed, challenge.id);
      if (!consumed) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
      store.delete(keys.state(challenge.id), keys.attempts(challenge.id)).catch(() => {});
      return verified(rt, res, user, loaded.state, who, consumed, flow);
    },
  );
}
