import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type Runtime, resolveUser, userFrom } from './context.js';
import { claimMatches } from './cookie.js';
import { TwoFactorError } from './errors.js';
import type { Mount } from './host/mount.js';
import { isHtmlClient, noStore, safeReturnTo, sendError } from './http.js';
import { hasDeviceCookie } from './lifecycle/devices/devices.js';
import type { CheckedUser } from './options.js';

/** What the guard puts on `req.secondFactor` for a verified request. */
export interface SecondFactorInfo {
  /** When the code was verified (ms); for `device`, when the remembered device let this session in. */
  verifiedAt: number;
  /** `recovery`: a recovery code; `device`: a remembered device, no code in this session (never fresh for step-up). */
  method: 'sms' | 'voice' | 'recovery' | 'device';
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
export function verifiedInfo(rt: Runtime, req: Request, user: CheckedUser): SecondFactorInfo | null {
  const claim = rt.cookies.readVerified(req);
  if (!claim || !claimMatches(claim, user, rt.config.now())) return null;
  return { verifiedAt: claim.verifiedAt, method: claim.method };
}

/** For `tfa.isVerified(req)`: the guard's check, without answering. */
export async function isVerified(rt: Runtime, req: Request): Promise<boolean> {
  const user = await resolveUser(rt, req);
  return user !== null && verifiedInfo(rt, req, user) !== null;
}

/** The page an htmx request came from (`HX-Current-URL`), as a same-origin path; else undefined. */
function htmxPage(req: Request): string | undefined {
  const current = req.headers['hx-current-url'];
  if (typeof current !== 'string' || !URL.canParse(current)) return undefined;
  const url = new URL(current);
  if (url.host !== req.headers.host) return undefined;
  const path = safeReturnTo(`${url.pathname}${url.search}`);
  return path === '/' && url.pathname !== '/' ? undefined : path;
}

/** A remembered device's way in when the session has no verified state (src/lifecycle/devices). */
export type Admit = (req: Request, res: Response, user: CheckedUser) => Promise<SecondFactorInfo | null>;

export function createGuard(rt: Runtime, mount: Mount, admit?: Admit): RequestHandler {
  const { config } = rt;

  /** Answers a request that may not pass: no first factor, or no valid verified state. */
  function refuse(req: Request, res: Response, user: CheckedUser | null): void {
    // htmx ignores a 401 and would swap a redirected page into its target: it gets HX-Redirect.
    const htmx = req.headers['hx-request'] === 'true';
    const html = !htmx && isHtmlClient(req) && (req.method === 'GET' || req.method === 'HEAD');
    noStore(res);
    if (!user) {
      if (html && config.loginPath) res.redirect(303, config.loginPath);
      else {
        if (htmx && config.loginPath) res.setHeader('HX-Redirect', config.loginPath);
        sendError(res, new TwoFactorError('ERR_2FA_UNAUTHENTICATED'), config.locale);
      }
      return;
    }
    const returnTo =
      (htmx ? htmxPage(req) : undefined) ?? (req.method === 'GET' ? req.originalUrl : undefined);
    const verifyUrl = `${mount.routesFor(req)}${returnTo ? `?returnTo=${encodeURIComponent(returnTo)}` : ''}`;
    if (html) {
      res.redirect(303, verifyUrl);
      return;
    }
    if (htmx) res.setHeader('HX-Redirect', verifyUrl);
    sendError(res, new TwoFactorError('ERR_2FA_REQUIRED', { details: { verifyUrl } }), config.locale);
  }

  /** Lets the request through or answers it; any error fails closed into `next(err)`. */
  function decide(req: Request, res: Response, next: NextFunction, user: CheckedUser | null): void {
    let info: SecondFactorInfo | null = null;
    try {
      info = user && verifiedInfo(rt, req, user);
      // Off the verified path: a remembered device gets one store read, then a verified cookie.
      if (!info && user && admit && hasDeviceCookie(rt, req)) {
        admit(req, res, user).then(
          (admitted) => (admitted ? pass(req, next, admitted) : refuse(req, res, user)),
          () => refuse(req, res, user), // store down: no pass; the page says what it can
        );
        return;
      }
      if (!info) refuse(req, res, user);
    } catch (error) {
      next(error);
      return;
    }
    if (!info) return;
    req.secondFactor = info;
    next();
  }

  function pass(req: Request, next: NextFunction, info: SecondFactorInfo): void {
    req.secondFactor = info;
    next();
  }

  // Synchronous when getUser is: a verified request costs no promise, no store, at most one HMAC.
  return function requireSecondFactor(req: Request, res: Response, next: NextFunction) {
    let pending: ReturnType<typeof userFrom>;
    try {
      pending = userFrom(rt, req);
    } catch (error) {
      next(error);
      return;
    }
    if (pending instanceof Promise) pending.then((user) => decide(req, res, next, user), next);
    else decide(req, res, next, pending);
  };
}
