import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { ownUser, type Runtime, resolveUser, userFrom } from './context.js';
import { TwoFactorConfigError, TwoFactorError } from './errors.js';
import type { Mount } from './host/mount.js';
import { isHtmlClient, noStore, safeReturnTo, sendError } from './http.js';
import { hasDeviceCookie } from './lifecycle/devices/devices.js';
import { isFresh } from './lifecycle/fresh.js';
import type { CheckedUser } from './options.js';
import { parseDestination } from './phone.js';

/** What the guard puts on `req.secondFactor` for a verified request. */
export interface SecondFactorInfo {
  /** When the code was verified (ms). */
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
  const claim = rt.cookies.readVerified(req, user);
  return claim && { verifiedAt: claim.verifiedAt, method: claim.method };
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

/** The guard, and its step-up form for sensitive routes. */
export interface SecondFactorGuard extends RequestHandler {
  /**
   * Passes only when this browser verified a code at most `ms` ago (a remembered device does not
   * count); otherwise the same redirect or 401 as the guard, and `/2fa` asks for a code again.
   */
  within(ms: number): RequestHandler;
}

/** A remembered device's way in when the session has no verified state (src/lifecycle/devices). */
export type Admit = (req: Request, res: Response, user: CheckedUser) => Promise<SecondFactorInfo | null>;

export function createGuard(rt: Runtime, mount: Mount, admit?: Admit): SecondFactorGuard {
  const { config } = rt;

  /** Where the user goes to verify: the challenge page, or enrollment for a user with no usable number. */
  function verifyPath(req: Request, user: CheckedUser): string {
    const routes = mount.routesFor(req);
    if (config.enroll && parseDestination(user.phone) === null) return `${routes}/enroll`;
    return routes;
  }

  /** Answers a request that may not pass: no first factor, or no valid (or no fresh enough) verified state. */
  function refuse(req: Request, res: Response, user: CheckedUser | null, within?: number): void {
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
    const target = verifyPath(req, user);
    const query = [
      ...(returnTo ? [`returnTo=${encodeURIComponent(returnTo)}`] : []),
      ...(within !== undefined && !target.endsWith('/enroll') ? [`within=${within}`] : []),
    ];
    const verifyUrl = `${target}${query.length > 0 ? `?${query.join('&')}` : ''}`;
    if (html) {
      res.redirect(303, verifyUrl);
      return;
    }
    if (htmx) res.setHeader('HX-Redirect', verifyUrl);
    sendError(res, new TwoFactorError('ERR_2FA_REQUIRED', { details: { verifyUrl } }), config.locale);
  }

  /**
   * A remembered device the store could not check: no pass, and no 401 either, which would send a
   * device that needs no SMS to the SMS page: 503 with Retry-After, as the routes answer a store
   * failure. Anything but the store's error (a bug) fails closed into `next(err)`.
   */
  function unavailable(res: Response, next: NextFunction, error: unknown): void {
    if (!(error instanceof TwoFactorError)) {
      next(error);
      return;
    }
    noStore(res);
    sendError(res, error, config.locale);
  }

  /** Lets the request through or answers it; any error fails closed into `next(err)`. */
  function decide(req: Request, res: Response, next: NextFunction, user: CheckedUser | null): void {
    let info: SecondFactorInfo | null = null;
    try {
      info = user && verifiedInfo(rt, req, user);
      // Off the verified path: a remembered device gets one store read, then a verified cookie.
      // The user is copied first: the app's own object may change while the store answers.
      if (!info && user && admit && hasDeviceCookie(rt, req)) {
        const own = ownUser(user);
        admit(req, res, own).then(
          (admitted) => (admitted ? pass(req, next, admitted) : refuse(req, res, own)),
          (error: unknown) => unavailable(res, next, error),
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
  const guard = function requireSecondFactor(req: Request, res: Response, next: NextFunction) {
    let pending: ReturnType<typeof userFrom>;
    try {
      pending = userFrom(rt, req);
    } catch (error) {
      next(error);
      return;
    }
    if (pending instanceof Promise) pending.then((user) => decide(req, res, next, user), next);
    else decide(req, res, next, pending);
  } as SecondFactorGuard;

  guard.within = (ms: number): RequestHandler => {
    if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > config.verifiedTtlMs) {
      throw new TwoFactorConfigError(
        'requireSecondFactor.within',
        `takes the most a verification may be old for this route, in ms, from 1 to verifiedTtlMs (${config.verifiedTtlMs}), e.g. within(5 * 60_000); got ${String(ms)}`,
      );
    }
    /** Step-up: verified, and by a code this browser verified at most `ms` ago. */
    function decideFresh(req: Request, res: Response, next: NextFunction, user: CheckedUser | null): void {
      let info: SecondFactorInfo | null = null;
      try {
        info = user && isFresh(rt, req, user, ms) ? verifiedInfo(rt, req, user) : null;
        if (!info) refuse(req, res, user, ms);
      } catch (error) {
        next(error);
        return;
      }
      if (!info) return;
      req.secondFactor = info;
      next();
    }
    return function requireFreshSecondFactor(req: Request, res: Response, next: NextFunction) {
      Promise.resolve()
        .then(() => resolveUser(rt, req))
        .then((user) => decideFresh(req, res, next, user), next);
    };
  };
  return guard;
}
