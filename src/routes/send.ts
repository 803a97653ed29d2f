import type { Request, Response } from 'express';
import {
  type Challenge,
  newChallengeId,
  parseSealed,
  type SendState,
  serializeChallenge,
  serializeSealed,
} from '../challenge.js';
import { RECENT_CHALLENGE_TTL_MS } from '../constants.js';
import type { Runtime } from '../context.js';
import { sessionFingerprint } from '../cookie.js';
import { generateCode, hashCode, seal, unseal } from '../crypto.js';
import {
  type ChallengeView,
  type Channel,
  challengeTtl,
  challengeView,
  type Delivered,
  deliver,
  isDestinationRefusal,
  nextSendAt,
  nextVoiceAt,
  saveDelivery,
  voiceAvailable,
} from '../delivery.js';
import { TwoFactorError } from '../errors.js';
import { withSendLock } from '../lock.js';
import { assertNotHardLocked, assertNotLocked } from '../lockout.js';
import type { CheckedUser } from '../options.js';
import type { Destination } from '../phone.js';
import { ipKey } from '../phone.js';
import { takeEarlyReports } from '../reports/early.js';
import { watchForReport } from '../reports/no-report.js';
import { autoCallEnabled, type CallReason, callInBackground } from '../voice-fallback.js';
import { assertAllowedCountry, missingPhone, phoneOnFile } from './destination.js';
import { type Loaded, liveView, load } from './load.js';
import type { RouteResult } from './result.js';

/** The number on file, checked against the allow-list before any provider call. */
function destinationOf(rt: Runtime, user: CheckedUser, ip: string): Destination {
  const dest = phoneOnFile(rt, user);
  if (!dest) throw missingPhone(rt, user, ip);
  assertAllowedCountry(rt, user, dest, ip);
  return dest;
}

/**
 * A new challenge under `id`: a fresh code, its keyed hash, and the code and number sealed for a
 * later call. `phone` is what the record keeps of the number (its keyed hash, or enrollment's marker).
 */
export function newChallenge(
  rt: Runtime,
  user: CheckedUser,
  dest: Destination,
  id: string,
  phone: string,
  returnTo: string,
  ip: string,
): { challenge: Challenge; sealed: { code: string; to: string } } {
  const { config } = rt;
  const code = generateCode(config.codeLength);
  const secret = config.secrets[0] as string;
  const sealed = { code, to: dest.e164 };
  const challenge: Challenge = {
    id,
    userId: user.id,
    session: sessionFingerprint(user),
    hash: hashCode(secret, id, code),
    sealed: seal(secret, id, serializeSealed(sealed)),
    phone,
    expiresAt: config.now() + config.codeTtlMs,
    returnTo,
    country: dest.country,
    masked: dest.masked,
    ip,
  };
  return { challenge, sealed };
}

/** POST /send: starts a challenge for this user in this browser, or reports the live one unchanged. */
export async function startChallenge(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  returnTo: string,
): Promise<RouteResult> {
  const loaded = await load(rt, req, user);
  assertNotHardLocked(rt, loaded.lock);
  // A reload or a double click must not send again: the live challenge answers as it is.
  const live = liveView(rt, loaded);
  if (live) return { view: live };
  // No new code while the account waits after wrong codes: it could not be checked anyway.
  assertNotLocked(rt, loaded.lock);
  const ip = ipKey(req.ip);
  const dest = destinationOf(rt, user, ip);
  const { config } = rt;

  const started = await withSendLock(rt, loaded.userKey, async (): Promise<Started> => {
    // A send of this session that finished just before we got the lock (a double click, a second
    // tab whose request crossed the first answer) already did the work: join its challenge.
    const recentKey = rt.keys.recent(loaded.userKey, sessionFingerprint(user));
    const recentId = user.sessionId ? await rt.store.get(recentKey) : undefined;
    if (recentId && recentId !== loaded.challenge?.id) {
      const recent = await load(rt, req, user, recentId);
      const view = liveView(rt, recent);
      if (view && recent.challenge) {
        rt.cookies.writeChallenge(res, recentId, challengeTtl(rt, recent.challenge));
        return { view, call: null };
      }
    }
    const now = config.now();
    const id = newChallengeId(loaded.userKey);
    const { challenge, sealed } = newChallenge(rt, user, dest, id, rt.keys.phone(dest.e164), returnTo, ip);
    let delivered: Delivered;
    let callNow = false;
    try {
      delivered = await deliver(rt, challenge, null, 'sms', sealed, dest, ip);
    } catch (error) {
      // voice.auto: the provider refused this number for SMS, so a call may reach it, with the same
      // code. It goes out in the background: this answer never waits on a second provider call.
      if (!(autoCallEnabled(rt) && isDestinationRefusal(error))) throw error;
      delivered = { state: pendingCall(now), messageId: undefined };
      callNow = true;
    }
    const ttl = challengeTtl(rt, challenge);
    await Promise.all([
      rt.store.set(rt.keys.challenge(id), serializeChallenge(challenge), ttl),
      saveDelivery(rt, challenge, delivered),
      user.sessionId ? rt.store.set(recentKey, id, RECENT_CHALLENGE_TTL_MS) : undefined,
    ]);
    rt.cookies.writeChallenge(res, id, ttl);
    const early = await takeEarlyReports(rt, challenge, delivered.state, delivered.messageId, dest.e164);
    if (!callNow) watchForReport(rt, challenge, delivered.messageId);
    const view = challengeView(rt, challenge, early.state, 0);
    if (callNow) return { view, call: { challenge, reason: 'sms-failed' } };
    return { view, call: early.callNeeded ? { challenge, reason: 'undelivered' } : null };
  });
  // Once the lock is free: the call takes it for itself.
  if (started.call) callInBackground(rt, started.call.challenge, started.call.reason);
  return { view: started.view };
}

interface Started {
  view: ChallengeView;
  /** The automatic call still to be placed, and why (for `voice.sent`). */
  call: { challenge: Challenge; reason: CallReason } | null;
}

/** A challenge whose SMS the provider refused, with its automatic call still to be placed. */
function pendingCall(now: number): SendState {
  return {
    sends: 0,
    firstSmsAt: now,
    lastSentAt: now,
    voiceCalls: 0,
    lastChannel: 'voice',
    delivery: 'calling',
    messageIds: [],
  };
}

/** The live challenge of this browser, or the error that says why there is none. */
export function requireLive(rt: Runtime, loaded: Loaded): Challenge {
  const { challenge } = loaded;
  if (!challenge || !loaded.state) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
  if (rt.config.now() >= challenge.expiresAt) throw new TwoFactorError('ERR_2FA_CODE_EXPIRED');
  if (loaded.attempts >= rt.config.maxAttempts) throw new TwoFactorError('ERR_2FA_TOO_MANY_ATTEMPTS');
  return challenge;
}

/** POST /resend and POST /voice: the same code again, within the cooldown and every budget. */
export async function sendAgain(
  rt: Runtime,
  req: Request,
  user: CheckedUser,
  channel: Channel,
): Promise<RouteResult> {
  if (channel === 'voice' && !voiceAvailable(rt)) throw new TwoFactorError('ERR_2FA_VOICE_UNAVAILABLE');
  const ip = ipKey(req.ip);
  const dest = destinationOf(rt, user, ip);

  // A first read before the lock fails fast, and with a store that is down it fails before the
  // lock's increment is queued (one that lands late would block this user's sends for its TTL).
  const first = await load(rt, req, user);
  requireLive(rt, first);
  const sent = await withSendLock(rt, first.userKey, async (): Promise<Started> => {
    // Read again under the lock: a send that just finished has moved the cooldown.
    const loaded = await load(rt, req, user);
    const challenge = requireLive(rt, loaded);
    const state = loaded.state;
    if (!state) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
    assertNotLocked(rt, loaded.lock);
    const sealed = parseSealed(unseal(rt.config.secrets, challenge.id, challenge.sealed));
    if (!sealed) throw new TwoFactorError('ERR_2FA_NO_CHALLENGE');
    const readyAt = channel === 'voice' ? nextVoiceAt(rt, state) : nextSendAt(rt, state);
    const waitMs = readyAt - rt.config.now();
    if (waitMs > 0) throw new TwoFactorError('ERR_2FA_COOLDOWN', { retryAfter: waitMs / 1000 });
    const delivered = await deliver(rt, challenge, state, channel, sealed, dest, ip, 'requested');
    await saveDelivery(rt, challenge, delivered);
    const early = await takeEarlyReports(rt, challenge, delivered.state, delivered.messageId, sealed.to);
    if (channel === 'sms') watchForReport(rt, challenge, delivered.messageId);
    const view = challengeView(rt, challenge, early.state, loaded.attempts);
    return { view, call: early.callNeeded ? { challenge, reason: 'undelivered' } : null };
  });
  if (sent.call) callInBackground(rt, sent.call.challenge, sent.call.reason);
  return { view: sent.view };
}
