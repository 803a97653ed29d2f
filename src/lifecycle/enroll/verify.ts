// POST /2fa/enroll/verify: the code sent to the typed number; only a right one saves that number.
import type { Request, Response } from 'express';
import { type Challenge, parseSealed } from '../../challenge.js';
import { type Runtime, resolveUser } from '../../context.js';
import { unseal } from '../../crypto.js';
import { TwoFactorError } from '../../errors.js';
import { userAgentOf } from '../../events.js';
import type { Body } from '../../http.js';
import type { CheckedUser } from '../../options.js';
import { ipKey, parseDestination } from '../../phone.js';
import { phoneOnFile } from '../../routes/destination.js';
import type { RouteResult } from '../../routes/result.js';
import { verifyCode } from '../../routes/verify.js';
import { requireFreshForChange } from './fresh-change.js';
import { enrollPointer, loadEnroll } from './load.js';
import { notifyOldNumber } from './notice.js';
import type { EnrollConfig } from './options.js';

/**
 * Checks the code with the sign-in's verify (lock, attempt count, account lockout, constant-time
 * compare, single-use consume); once it is consumed, saves the number the code went to (never one
 * from the request), and the browser is verified for the user as `save` left them.
 */
export async function verifyEnrollCode(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  body: Body,
  returnTo: string,
  routes: string,
): Promise<RouteResult> {
  const enroll = rt.config.enroll as EnrollConfig;
  // The code was sent within maxAgeMs of the verification; it lives codeTtlMs more.
  requireFreshForChange(rt, req, user, routes, returnTo, enroll.maxAgeMs + rt.config.codeTtlMs);
  return verifyCode(rt, req, res, user, body.code, {
    load: (rt, _req, user) => loadEnroll(rt, user),
    clear: (rt) => {
      rt.store.delete(enrollPointer(rt, user)).catch(() => {});
    },
    confirm: (consumed) => complete(rt, req, user, consumed),
  });
}

async function complete(
  rt: Runtime,
  req: Request,
  user: CheckedUser,
  consumed: Challenge,
): Promise<CheckedUser | null> {
  const enroll = rt.config.enroll as EnrollConfig;
  const sealed = parseSealed(unseal(rt.config.secrets, consumed.id, consumed.sealed));
  const next = sealed ? parseDestination(sealed.to) : null;
  if (!sealed || !next) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
  const old = phoneOnFile(rt, user);
  await enroll.save(user, next.e164, req);

  // The user as `save` left them: the verified cookie is issued for their new version.
  const after = await resolveUser(rt, req);
  const holder = after && after.id === user.id ? after : null;
  const changed = old !== null && old.e164 !== next.e164;
  if (changed && holder && String(holder.version ?? '') === String(user.version ?? '')) {
    rt.warnOnce(
      'enroll:version',
      "enroll.save changed a user's number without changing their `version`, so their other verified browsers stay verified: bump the version in save (e.g. user.version += 1) and return it from getUser",
    );
  }
  const notified = changed && enroll.notifyOld ? await notifyOldNumber(rt, user.id, old, next) : false;
  rt.emit({
    type: 'phone.changed',
    userId: user.id,
    phone: next.masked,
    country: next.country,
    ...(old ? { previousPhone: old.masked } : {}),
    ip: ipKey(req.ip),
    reason: old ? 'changed' : 'enrolled',
    ...(changed && enroll.notifyOld ? { notified } : {}),
    ...userAgentOf(req),
  });
  return holder;
}
