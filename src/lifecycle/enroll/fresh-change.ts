// A change of number is binding a new authenticator: it needs a recent verification on the
// current number (security.md R-42; NIST SP 800-63B §6.1.2). A first enrollment does not.
import type { Request } from 'express';
import type { Runtime } from '../../context.js';
import { TwoFactorError } from '../../errors.js';
import type { CheckedUser } from '../../options.js';
import { parseDestination } from '../../phone.js';
import { isFresh } from '../fresh.js';

/** Where to verify on the current number before coming back to the enrollment page. */
export function reverifyUrl(routes: string, maxAgeMs: number, returnTo: string): string {
  const back = `${routes}/enroll${returnTo === '/' ? '' : `?returnTo=${encodeURIComponent(returnTo)}`}`;
  return `${routes}?returnTo=${encodeURIComponent(back)}&within=${maxAgeMs}`;
}

/** True when the user has a usable number on file and this browser's verification is older than `maxAgeMs`. */
export function needsReverify(rt: Runtime, req: Request, user: CheckedUser, maxAgeMs: number): boolean {
  return parseDestination(user.phone) !== null && !isFresh(rt, req, user, maxAgeMs);
}

/** Refuses a change of number without a fresh verification: 401 ERR_2FA_REVERIFY_REQUIRED, nothing sent. */
export function requireFreshForChange(
  rt: Runtime,
  req: Request,
  user: CheckedUser,
  routes: string,
  returnTo: string,
  maxAgeMs: number,
): void {
  if (!needsReverify(rt, req, user, maxAgeMs)) return;
  const verifyUrl = reverifyUrl(routes, rt.config.enroll?.maxAgeMs ?? maxAgeMs, returnTo);
  throw new TwoFactorError('ERR_2FA_REVERIFY_REQUIRED', { details: { verifyUrl } });
}
