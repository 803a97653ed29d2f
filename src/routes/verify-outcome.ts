import type { Request, Response } from 'express';
import type { Challenge, SendState } from '../challenge.js';
import type { Runtime } from '../context.js';
import { TwoFactorError } from '../errors.js';
import { type TwoFactorEvent, type TwoFactorEventType, userAgentOf } from '../events.js';
import type { CheckedUser } from '../options.js';
import { ipKey } from '../phone.js';
import type { Refusal, RouteResult } from './result.js';
import type { VerifyFlow } from './verify.js';

export interface VerifyWho {
  userId: string;
  phone: string;
  country: string;
  ip?: string;
  userAgent?: string;
}

/**
 * Who an event of this verify is about (no number, no code: the masked number and the country).
 * The address and the browser go only to `onEvent` (the metrics read neither): without a listener
 * they are not worked out (`req.ip` walks the proxy headers).
 */
export function verifyWho(rt: Runtime, req: Request, user: CheckedUser, challenge: Challenge): VerifyWho {
  const who: VerifyWho = { userId: user.id, phone: challenge.masked, country: challenge.country };
  if (!rt.config.onEvent) return who;
  // Set one by one: `{ ...who, ip }` takes a slow path in V8 on Node 20 (see events.ts).
  who.ip = ipKey(req.ip);
  const { userAgent } = userAgentOf(req);
  if (userAgent !== undefined) who.userAgent = userAgent;
  return who;
}

/**
 * An event about `who`: its fields copied one by one after `type`, in the order `{ type, ...who }`
 * gives them. On Node 20 a literal with a property after a spread (`{ type, ...who, channel }`)
 * takes V8's slow path, and even the plain spread costs several times the copy.
 */
function eventFor(type: TwoFactorEventType, who: VerifyWho): Omit<TwoFactorEvent, 'at'> {
  const event: Omit<TwoFactorEvent, 'at'> = {
    type,
    userId: who.userId,
    phone: who.phone,
    country: who.country,
  };
  if (who.ip !== undefined) event.ip = who.ip;
  if (who.userAgent !== undefined) event.userAgent = who.userAgent;
  return event;
}

/** A wrong code, counted (`attempts`, `failures` after it): the events, then 400 ERR_2FA_CODE_INVALID (handed back, not thrown). */
export function wrongCode(rt: Runtime, who: VerifyWho, attempts: number, failures: number): Refusal {
  const { config, emit } = rt;
  const attemptsLeft = config.maxAttempts - attempts;
  const failed = eventFor('verify.failed', who);
  failed.attemptsLeft = attemptsLeft;
  failed.failures = failures;
  emit(failed);
  if (attemptsLeft === 0) {
    const exhausted = eventFor('challenge.exhausted', who);
    exhausted.failures = failures;
    emit(exhausted);
  }
  if (failures === config.lockout.hardLimit) {
    const locked = eventFor('user.locked', who);
    locked.failures = failures;
    emit(locked);
  }
  return { refused: new TwoFactorError('ERR_2FA_CODE_INVALID', { details: { attemptsLeft } }) };
}

/**
 * The right code, its challenge consumed: the flow's confirmation (enrollment saves the number),
 * the verified cookie for whoever it names, the flow's cleanup, the event, where to go.
 */
export async function verified(
  rt: Runtime,
  res: Response,
  user: CheckedUser,
  state: SendState | null,
  who: VerifyWho,
  consumed: Challenge,
  flow: Pick<VerifyFlow, 'confirm' | 'clear'>,
  // The cookies' scheme, asked once for both cookies (each ask ~1 µs on a live request).
  secure = rt.cookies.isSecure(res.req),
): Promise<RouteResult> {
  const holder = flow.confirm ? await flow.confirm(consumed) : user;
  return verifiedFor(rt, res, holder, state, who, consumed, flow, secure);
}

/**
 * `verified` once the flow's confirmation is known (`holder`: the user the cookie is for, or null
 * for none), without a promise: a flow without `confirm` (sign-in's one-call verify) returns it as
 * it is, instead of an async function's promise and the two turns of resolving one with another.
 */
export function verifiedFor(
  rt: Runtime,
  res: Response,
  holder: CheckedUser | null,
  state: SendState | null,
  who: VerifyWho,
  consumed: Challenge,
  flow: Pick<VerifyFlow, 'clear'>,
  secure: boolean,
): RouteResult {
  const { config, cookies, emit } = rt;
  const now = config.now();
  const method = state?.lastChannel === 'voice' ? 'voice' : 'sms';
  if (holder) {
    cookies.writeVerified(
      res,
      holder,
      { verifiedAt: now, expiresAt: now + config.verifiedTtlMs, method },
      secure,
    );
  }
  flow.clear(rt, res, secure);
  const sentAt = state?.firstSmsAt || state?.lastSentAt;
  // `sentAt` set afterwards, in the same place: a conditional spread at the end costs more.
  const event = eventFor('verify.succeeded', who);
  event.channel = method;
  if (sentAt) event.sentAt = sentAt;
  emit(event);
  return { verified: true, returnTo: consumed.returnTo };
}
