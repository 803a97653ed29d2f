import type { Request, Response } from 'express';
import type { Challenge, SendState } from '../challenge.js';
import type { Runtime } from '../context.js';
import { TwoFactorError } from '../errors.js';
import { userAgentOf } from '../events.js';
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

/** A wrong code, counted (`attempts`, `failures` after it): the events, then 400 ERR_2FA_CODE_INVALID (handed back, not thrown). */
export function wrongCode(rt: Runtime, who: VerifyWho, attempts: number, failures: number): Refusal {
  const { config, emit } = rt;
  const attemptsLeft = config.maxAttempts - attempts;
  emit({ type: 'verify.failed', ...who, attemptsLeft, failures });
  if (attemptsLeft === 0) emit({ type: 'challenge.exhausted', ...who, failures });
  if (failures === config.lockout.hardLimit) emit({ type: 'user.locked', ...who, failures });
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
): Promise<RouteResult> {
  const { config, cookies, emit } = rt;
  const holder = flow.confirm ? await flow.confirm(consumed) : user;
  const now = config.now();
  const method = state?.lastChannel === 'voice' ? 'voice' : 'sms';
  if (holder) {
    cookies.writeVerified(res, holder, {
      verifiedAt: now,
      expiresAt: now + config.verifiedTtlMs,
      method,
    });
  }
  flow.clear(rt, res);
  const sentAt = state?.firstSmsAt || state?.lastSentAt;
  // `sentAt` set afterwards, in the same place: a conditional spread at the end costs more.
  const event: Parameters<typeof emit>[0] = { type: 'verify.succeeded', ...who, channel: method };
  if (sentAt) event.sentAt = sentAt;
  emit(event);
  return { verified: true, returnTo: consumed.returnTo };
}
