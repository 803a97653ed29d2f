import type { Request, Response } from 'express';
import { type Challenge, parseChallenge } from '../challenge.js';
import type { Runtime } from '../context.js';
import { sessionFingerprint } from '../cookie.js';
import { codeMatches } from '../crypto.js';
import { codeFormatMessage } from '../error-messages.js';
import { TwoFactorError } from '../errors.js';
import { userAgentOf } from '../events.js';
import { withVerifyLock } from '../lock.js';
import { assertNotLocked, recordFailure, resetFailures } from '../lockout.js';
import type { Locale } from '../messages.js';
import type { CheckedUser } from '../options.js';
import { ipKey } from '../phone.js';
import { type Loaded, load } from './load.js';
import type { RouteResult } from './result.js';

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
  /** Ends the route's challenge in this browser. */
  clear(rt: Runtime, res: Response): void;
}

/** Sign-in: this browser's challenge, bound to the number on file. */
const SIGN_IN: VerifyFlow = {
  load: (rt, req, user) => load(rt, req, user),
  clear: (rt, res) => rt.cookies.clearChallenge(res),
};

/**
 * POST /verify. The order is the defence: refuse while locked, count the attempt atomically,
 * only then compare; on success consume the challenge atomically before the cookie is issued.
 */
export async function verifyCode(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  rawCode: unknown,
  flow: VerifyFlow = SIGN_IN,
): Promise<RouteResult> {
  const { config, store, keys, cookies, emit } = rt;
  const code = readCode(rawCode, config.codeLength, config.locale);
  const userKey = keys.user(user.id);
  return withVerifyLock(
    rt,
    userKey,
    () => flow.load(rt, req, user),
    async (loaded) => {
      assertNotLocked(rt, loaded.lock);
      const { challenge } = loaded;
      if (!challenge) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
      if (config.now() >= challenge.expiresAt) throw new TwoFactorError('ERR_2FA_CODE_EXPIRED');

      const who = {
        userId: user.id,
        phone: challenge.masked,
        country: challenge.country,
        ip: ipKey(req.ip),
        ...userAgentOf(req),
      };
      const attempts = await store.increment(keys.attempts(challenge.id), challenge.expiresAt - config.now());
      if (attempts > config.maxAttempts) throw new TwoFactorError('ERR_2FA_TOO_MANY_ATTEMPTS');

      if (!codeMatches(config.secrets, challenge.id, code, challenge.hash)) {
        const failures = await recordFailure(rt, userKey);
        const attemptsLeft = config.maxAttempts - attempts;
        emit({ type: 'verify.failed', ...who, attemptsLeft, failures });
        if (attemptsLeft === 0) emit({ type: 'challenge.exhausted', ...who, failures });
        if (failures === config.lockout.hardLimit) emit({ type: 'user.locked', ...who, failures });
        throw new TwoFactorError('ERR_2FA_CODE_INVALID', { details: { attemptsLeft } });
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

      const holder = flow.confirm ? await flow.confirm(consumed) : user;
      const now = config.now();
      const method = loaded.state?.lastChannel === 'voice' ? 'voice' : 'sms';
      if (holder) {
        cookies.writeVerified(res, {
          userId: holder.id,
          session: holder === user ? challenge.session : sessionFingerprint(holder),
          version: String(holder.version ?? ''),
          verifiedAt: now,
          expiresAt: now + config.verifiedTtlMs,
          method,
        });
      }
      flow.clear(rt, res);
      const sentAt = loaded.state?.firstSmsAt || loaded.state?.lastSentAt;
      emit({ type: 'verify.succeeded', ...who, channel: method, ...(sentAt ? { sentAt } : {}) });
      return { verified: true, returnTo: consumed.returnTo };
    },
  );
}
