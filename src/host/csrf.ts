import type { Request } from 'express';
import type { WarnOnce } from './warn-once.js';

/**
 * The package's own form token field. Not `_csrf`: that name belongs to the host app's CSRF
 * middleware (csurf, lusca, csrf-sync, csrf-csrf), whose token the page carries alongside.
 */
export const FORM_TOKEN_FIELD = 'tfa_csrf';
/** Where host CSRF middleware looks for its token in a form. */
export const HOST_CSRF_FIELD = '_csrf';

/**
 * The host app's CSRF token for this request, when its middleware ran before us and offers
 * `req.csrfToken()`; `null` otherwise (then it has not run, and will not see our posts either).
 */
export function hostCsrfToken(req: Request, warnOnce: WarnOnce): string | null {
  const csrfToken = (req as { csrfToken?: unknown }).csrfToken;
  if (typeof csrfToken !== 'function') return null;
  try {
    const token: unknown = csrfToken.call(req);
    if (typeof token === 'string' && token !== '') return token;
  } catch {
    // reported below
  }
  warnOnce(
    'host-csrf-token',
    "req.csrfToken() did not return a token, so the challenge page cannot carry your CSRF middleware's token and its posts will be refused: mount twoFactor() before that middleware, or check its setup",
    'error',
  );
  return null;
}
