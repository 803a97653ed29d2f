// POST /2fa/enroll/send: a code to the number the user typed, through the sign-in's own machinery
// (delivery.ts: budgets, beforeSend, the provider; lock.ts; lockout.ts; the resend cooldown).
import type { Request } from 'express';
import {
  type Challenge,
  newChallengeId,
  parseSealed,
  serializeChallenge,
  serializeSendState,
} from '../../challenge.js';
import type { Runtime } from '../../context.js';
import { unseal } from '../../crypto.js';
import { challengeTtl, deliver, nextSendAt } from '../../delivery.js';
import { TwoFactorError } from '../../errors.js';
import type { Body } from '../../http.js';
import { withSendLock } from '../../lock.js';
import { assertNotHardLocked, assertNotLocked } from '../../lockout.js';
import type { CheckedUser } from '../../options.js';
import { type Destination, ipKey, parseDestination } from '../../phone.js';
import type { Loaded } from '../../routes/load.js';
import type { RouteResult } from '../../routes/result.js';
import { newChallenge, requireLive } from '../../routes/send.js';
import { requireFreshForChange } from './fresh-change.js';
import { enrollMarker, enrollPointer, enrollView, liveEnrollView, loadEnroll } from './load.js';
import { readTypedNumber } from './number.js';

type View = NonNullable<ReturnType<typeof enrollView>>;

/**
 * `{ phone, country? }` starts a challenge for that number, or answers the live one for the same
 * number (a double click sends once; after the cooldown it sends the same code again). Without
 * `phone` it sends the live challenge's code again, to the number it went to.
 */
export async function sendEnrollCode(
  rt: Runtime,
  req: Request,
  user: CheckedUser,
  body: Body,
  returnTo: string,
  routes: string,
): Promise<RouteResult> {
  requireFreshForChange(rt, req, user, routes, returnTo, rt.config.enroll?.maxAgeMs ?? 0);
  const ip = ipKey(req.ip);
  const first = await loadEnroll(rt, user);
  assertNotHardLocked(rt, first.lock);
  const again = body.phone === undefined;
  if (again) requireLive(rt, first);
  const dest = again ? sentTo(rt, first) : readTypedNumber(rt, user, body.phone, body.country, ip);
  assertNotLocked(rt, first.lock);

  const view = await withSendLock(rt, first.userKey, async (): Promise<View> => {
    // Read again under the lock: a send that just finished may have started or moved the challenge.
    const loaded = await loadEnroll(rt, user);
    assertNotLocked(rt, loaded.lock);
    const live = liveEnrollView(rt, loaded);
    if (live && loaded.challenge?.phone === enrollMarker(rt, dest.e164)) {
      return sendAgain(rt, loaded, dest, ip, again);
    }
    if (again) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
    return start(rt, user, dest, ip, returnTo);
  });
  return { view };
}

/** The number the live challenge's code went to (sealed with it). */
function sentTo(rt: Runtime, loaded: Loaded): Destination {
  const challenge = loaded.challenge as Challenge;
  const sealed = parseSealed(unseal(rt.config.secrets, challenge.id, challenge.sealed));
  const dest = sealed ? parseDestination(sealed.to) : null;
  if (!dest) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
  return dest;
}

async function sendAgain(
  rt: Runtime,
  loaded: Loaded,
  dest: Destination,
  ip: string,
  asked: boolean,
): Promise<View> {
  const challenge = loaded.challenge as Challenge;
  const state = loaded.state;
  const sealed = parseSealed(unseal(rt.config.secrets, challenge.id, challenge.sealed));
  if (!state || !sealed) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
  const waitMs = nextSendAt(rt, state) - rt.config.now();
  if (waitMs > 0) {
    // The same number again before the cooldown is a double click: the code on its way answers.
    if (!asked) return enrollView(rt, loaded) as View;
    throw new TwoFactorError('ERR_2FA_COOLDOWN', { retryAfter: waitMs / 1000 });
  }
  const delivered = await deliver(rt, challenge, state, 'sms', sealed, dest, ip, undefined, 'enroll');
  await rt.store.set(
    rt.keys.state(challenge.id),
    serializeSendState(delivered.state),
    challengeTtl(rt, challenge),
  );
  return enrollView(rt, { ...loaded, state: delivered.state }) as View;
}

async function start(
  rt: Runtime,
  user: CheckedUser,
  dest: Destination,
  ip: string,
  returnTo: string,
): Promise<View> {
  const id = newChallengeId(rt.keys.user(user.id)); // the user's hash tag (Redis Cluster)
  const { challenge, sealed } = newChallenge(rt, user, dest, id, enrollMarker(rt, dest.e164), returnTo, ip);
  const delivered = await deliver(rt, challenge, null, 'sms', sealed, dest, ip, undefined, 'enroll');
  const ttl = challengeTtl(rt, challenge);
  await Promise.all([
    rt.store.set(rt.keys.challenge(id), serializeChallenge(challenge), ttl),
    rt.store.set(rt.keys.state(id), serializeSendState(delivered.state), ttl),
    rt.store.set(enrollPointer(rt, user), id, ttl),
  ]);
  return enrollView(rt, { challenge, state: delivered.state, attempts: 0 }) as View;
}
