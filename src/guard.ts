import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type Runtime, resolveUser } from './context.js';
import { claimMatches } from './cookie.js';
import { TwoFactorError } from './errors.js';
import { isHtmlClient, noStore, sendError } from './http.js';

/** What the guard puts on `req.secondFactor` for a verified request. */
export interface SecondFactorInfo {
  /** When the code was verified (ms). */
  verifiedAt: number;
  method: 'sms' | 'voice';
}

declare global {
  namespace Express {
    interface Request {
      /** Set by `requireSecondFactor` when the request carries a valid verified state. */
      secondFactor?: SecondFactorInfo;
    }
  }
}

/** The verified claim of this request, checked against the current user: one HMAC, no store. */
export async function verifiedInfo(rt: Runtime, req: Request): Promise<SecondFactorInfo | null> {
  const claim = rt.cookies.readVerified(req);
  if (!claim) return null;
  const user = await resolveUser(rt.config, req);
  if (!user || !claimMatches(claim, user, rt.config.now())) return null;
  return { verifiedAt: claim.verifiedAt, method: claim.method };
}

export function createGuard(rt: Runtime): RequestHandler {
  const { config } = rt;
  return async function requireSecondFactor(req: Request, res: Response, next: NextFunction) {
    let user: Awaited<ReturnType<typeof resolveUser>>;
    try {
      user = await resolveUser(config, req);
    } catch (error) {
      next(error); // fail closed: the app's error handler answers, the route never runs
      return;
    }
    const html = isHtmlClient(req) && (req.method === 'GET' || req.method === 'HEAD');
    if (!user) {
      noStore(res);
      if (html && config.loginPath) res.redirect(303, config.loginPath);
      else sendError(res, new TwoFactorError('ERR_2FA_UNAUTHENTICATED'));
      return;
    }
    const claim = rt.cookies.readVerified(req);
    if (claim && claimMatches(claim, user, config.now())) {
      req.secondFactor = { verifiedAt: claim.verifiedAt, method: claim.method };
      next();
      return;
    }
    const back = req.method === 'GET' ? `?returnTo=${encodeURIComponent(req.originalUrl)}` : '';
    const verifyUrl = `${config.path}${back}`;
    noStore(res);
    if (html) res.redirect(303, verifyUrl);
    else sendError(res, new TwoFactorError('ERR_2FA_REQUIRED', { details: { verifyUrl } }));
  };
}
