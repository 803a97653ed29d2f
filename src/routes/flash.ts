import type { Request, Response } from 'express';
import type { Runtime } from '../context.js';
import { ERROR_CODES, type ErrorCode, type TwoFactorError } from '../errors.js';

/** What a form post left for the page: its error code, and when to try again (seconds from now). */
export interface Flash {
  code: ErrorCode;
  retryIn?: number;
}

/**
 * Keeps a form post's error for the page the browser is redirected to, in a short-lived cookie
 * (`CODE` or `CODE.untilMs`, signed): the page shows it once, and neither the address bar nor a
 * reload brings it back. It holds no secret, and the page accepts only a known code from it.
 */
export function flashError(rt: Runtime, res: Response, error: TwoFactorError): void {
  const until = error.retryAfter ? `.${Math.round(rt.config.now() + error.retryAfter * 1000)}` : '';
  rt.cookies.writeFlash(res, `${error.code}${until}`);
}

/** The error a form post left, read once: the cookie is cleared in the same answer. */
export function takeFlash(rt: Runtime, req: Request, res: Response): Flash | null {
  const raw = rt.cookies.readFlash(req);
  if (raw === null) return null;
  rt.cookies.clearFlash(res);
  const [, code, until] = raw.match(/^(ERR_2FA_[A-Z_]{1,40})(?:\.(\d{1,15}))?$/) ?? [];
  if (!code || !Object.hasOwn(ERROR_CODES, code)) return null;
  const retryIn = until ? Math.ceil((Number(until) - rt.config.now()) / 1000) : 0;
  return { code: code as ErrorCode, ...(retryIn > 0 ? { retryIn } : {}) };
}
