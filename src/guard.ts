import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type Runtime, resolveUser } from './context.js';
import { claimMatches } from './cookie.js';
import { TwoFactorError } from './errors.js';
import { isHtmlClient, noStore, sendError } from './http.js';
import type { User } from './options.js';

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
function verifiedInfo(rt: Runtime, req: Request, user: User): SecondFactorInfo | null {
  const claim = rt.cookies.readVerified(req);
  if (!claim || !claimMatches(claim, user, rt.config.now())) return null;
  return { verifiedAt: claim.verifiedAt, method: claim.method };
}

/** For `tfa.isVerified(req)`: the guard's check, without answering. */
export async function isVerified(rt: Runtime, req: Request): Promise<boolean> {
  const user = await resolveUser(rt.config, req);
  return user !== null && verifiedInfo(rt, req, user) !== null;
}

export function createGuard(rt: Runtime): RequestHandler {
  const { config } = rt;

  /** Answers the request, or returns what it proved; any error fails closed into `next(err)`. */
  async function check(req: Request, res: Response): Promise<SecondFactorInfo | null> {
    const user = await resolveUser(config, req);
    const html = isHtmlClient(req) && (req.method === 'GET' || req.method === 'HEAD');
    if (!user) {
      noStore(res);
      if (html && config.loginPath) res.redirect(303, config.loginPath);
      else sendError(res, new TwoFactorError('ERR_2FA_UNAUTHENTICATED'));
      return null;
    }
    const info = verifiedInfo(rt, req, user);
    if (info) return info;
    noStore(res);
    const back = req.method === 'GET' ? `?returnTo=${encodeURIComponent(req.originalUrl)}` : '';
    const verifyUrl = `${config.path}${back}`;
    if (html) res.redirect(303, verifyUrl);
    else sendError(res, new TwoFactorError('ERR_2FA_REQUIRED', { details: { verifyUrl } }));
    return null;
  }

  return async function requireSecondFactor(req: Request, res: Response, next: NextFunction) {
    let info: SecondFactorInfo | null;
    try {
      info = await check(req, res);
    } catch (error) {
      next(error); // fail closed: the app's error handler answers, the route never runs
      return;
    }
    if (!info) return;
    req.secondFactor = info;
    next();
  };
}
