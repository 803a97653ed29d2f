// The routes of recovery codes and remembered devices, as twoFactor() mounts them (only when configured).
import type { Request, Response } from 'express';
import type { Runtime } from '../context.js';
import { formToken } from '../crypto.js';
import { TwoFactorError } from '../errors.js';
import { hostCsrfToken } from '../host/csrf.js';
import { type Body, safeReturnTo } from '../http.js';
import type { CheckedUser } from '../options.js';
import { errorText, resolveTexts } from '../page/render.js';
import { takeFlash } from '../routes/flash.js';
import type { RouteResult } from '../routes/result.js';
import { admitDevice, rememberDevice, wantsRemember } from './devices/devices.js';
import { DEFAULT_ENROLL_MAX_AGE_MS } from './enroll/options.js';
import { isFresh, verifiedEnough, withinOfRequest, withWithin } from './fresh.js';
import { renderCodesPage, renderRecoveryForm } from './page.js';
import { appCall } from './recovery/app-calls.js';
import { generateRecoveryCodes, verifyRecoveryCode } from './recovery/recovery.js';

export interface LifecycleRequest {
  req: Request;
  res: Response;
  user: CheckedUser;
  body: Body;
  /** The body's (POST) or the query's (GET) `returnTo`, already a safe same-origin path. */
  returnTo: string;
  /** Where the routes answer for this request, e.g. `/2fa`. */
  routes: string;
  /** A plain HTML form post: answers are pages and redirects. */
  formMode: boolean;
}

export interface Lifecycle {
  /** POST routes by their path below the routes (`/recovery/verify`…); empty when nothing is configured. */
  posts: Record<string, (r: LifecycleRequest) => Promise<RouteResult>>;
  /** GET routes (`/recovery`). */
  gets: Record<string, (r: LifecycleRequest) => Promise<void>>;
  /** Where a refused form post of these routes goes back to; `undefined` for the challenge page. */
  formBack(
    sub: string,
    routes: string,
    returnTo: string,
    error: TwoFactorError,
    within?: number,
  ): string | undefined;
  /**
   * After POST /verify succeeded: remembers the device when the box was checked; `undefined` when
   * `rememberDevice` is off (nothing to do, so the route makes no call and no await).
   */
  afterVerify: ((req: Request, res: Response, user: CheckedUser, body: Body) => Promise<void>) | undefined;
  /** A remembered device's way past the guard (one store read); `undefined` when `rememberDevice` is off. */
  admit: ((req: Request, res: Response, user: CheckedUser) => ReturnType<typeof admitDevice>) | undefined;
}

export function createLifecycle(rt: Runtime): Lifecycle {
  const { config } = rt;
  const posts: Lifecycle['posts'] = {};
  const gets: Lifecycle['gets'] = {};
  const recovery = config.recovery;
  // "A verified state no older than enroll.maxAgeMs" (API.md §8), 5 minutes when enroll is unset.
  const maxAgeMs = config.enroll?.maxAgeMs ?? DEFAULT_ENROLL_MAX_AGE_MS;
  /** The challenge page, told to ask for a code again when the browser's is older than `maxAgeMs`. */
  const verifyUrlFor = (routes: string, returnTo: string) =>
    withWithin(`${routes}?returnTo=${encodeURIComponent(returnTo)}`, maxAgeMs);

  if (recovery) {
    posts['/recovery/verify'] = ({ req, res, user, body, returnTo }) =>
      verifyRecoveryCode(rt, req, res, user, body.code, returnTo);

    // New codes need a fresh verification (API.md §8): a stolen session, or one a remembered
    // device let in, cannot mint itself a way back in.
    posts['/recovery/generate'] = async ({ req, res, user, returnTo, routes, formMode }) => {
      if (!isFresh(rt, req, user, maxAgeMs)) {
        throw new TwoFactorError('ERR_2FA_REQUIRED', {
          details: { verifyUrl: verifyUrlFor(routes, returnTo) },
        });
      }
      const codes = await generateRecoveryCodes(rt, user.id, (hashes) =>
        appCall('save', config.logger, () => recovery.save(user.id, hashes)),
      );
      if (formMode) renderCodesPage(res, config, resolveTexts(config.page, config.locale), codes, returnTo);
      else res.status(200).json({ codes });
      return { answered: true };
    };

    gets['/recovery'] = async ({ req, res, user, returnTo, routes }) => {
      // Verified (with a step-up's `within`: recently enough) has nothing to do here; a stale
      // browser asked to step up is shown the form, not sent back to the route that asked.
      const within = withinOfRequest(req);
      if (verifiedEnough(rt, req, user, within)) {
        res.redirect(303, returnTo);
        return;
      }
      const texts = resolveTexts(config.page, config.locale);
      const flash = takeFlash(rt, req, res);
      renderRecoveryForm(res, config, {
        texts,
        routes,
        returnTo,
        csrfToken: formToken(config.secrets[0] as string, user.id, user.sessionId ?? ''),
        hostCsrfToken: hostCsrfToken(req, rt.warnOnce),
        error: flash ? errorText(texts, flash.code) : '',
        within,
      });
    };
  }

  return {
    posts,
    gets,
    formBack(sub, routes, returnTo, error, within) {
      if (sub === '/recovery/generate' && error.code === 'ERR_2FA_REQUIRED')
        return verifyUrlFor(routes, returnTo);
      if (sub.startsWith('/recovery/'))
        return withWithin(`${routes}/recovery?returnTo=${encodeURIComponent(returnTo)}`, within);
      return undefined;
    },
    afterVerify: config.rememberDevice
      ? async (req, res, user, body) => {
          if (!wantsRemember(body.remember)) return;
          try {
            await rememberDevice(rt, req, res, user);
          } catch {
            // The code was right and the user is verified; only "remember" failed: say so, go on.
            config.logger.error(
              'express-sms-2fa: the device could not be remembered (store unavailable); the sign-in went on',
            );
          }
        }
      : undefined,
    admit: config.rememberDevice ? (req, res, user) => admitDevice(rt, req, res, user) : undefined,
  };
}

/** The query's `returnTo`, safe. */
export const queryReturnTo = (req: Request) => safeReturnTo((req.query as Record<string, unknown>).returnTo);
