import {
  type Challenge,
  type Delivery,
  type Sealed,
  type SendState,
  serializeSendState,
} from './challenge.js';
import {
  BEFORE_SEND_TIMEOUT_MS,
  CHALLENGE_GRACE_MS,
  MINUTE,
  SECOND,
  TRANSPORT_TIMEOUT_MS,
} from './constants.js';
import type { Runtime } from './context.js';
import { TwoFactorError } from './errors.js';
import { type SpentBudgets, spendSendBudgets } from './limits.js';
import { smsText, voiceText } from './messages.js';
import type { SendAttempt } from './options.js';
import type { Destination } from './phone.js';

export type Channel = 'sms' | 'voice';

/** The in-flight key outlives the provider's deadline by this much (a slow store write after the answer). */
const IN_FLIGHT_GRACE_MS = 30 * SECOND;

/** After a failed send, clients are told to try again in this many seconds (security.md F-01). */
const SEND_FAILED_RETRY_AFTER_S = 30;

export interface Delivered {
  state: SendState;
  messageId: string | undefined;
}

export function voiceAvailable(rt: Runtime): boolean {
  return rt.config.voice !== false && typeof rt.config.transport.sendVoice === 'function';
}

/** When the next resend may go out: the cooldown doubles with every send of the challenge. */
export function nextSendAt(rt: Runtime, state: SendState): number {
  return state.lastSentAt + rt.config.resendCooldownMs * 2 ** Math.max(0, state.sends - 1);
}

/** The first call unlocks `voice.afterMs` after the SMS; later calls follow the resend cooldown. */
export function nextVoiceAt(rt: Runtime, state: SendState): number {
  const afterMs = rt.config.voice === false ? 0 : rt.config.voice.afterMs;
  return state.voiceCalls === 0 ? state.firstSmsAt + afterMs : nextSendAt(rt, state);
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const FAILURE_KINDS = ['http', 'invalid-response', 'timeout', 'network', 'invalid-request'];

/** A provider error code, only when it looks like one (Smstools: 3 or 4 digits; codes are ≥ 6). */
function providerCode(error: unknown): string | undefined {
  const cause = (error as { cause?: { providerCode?: unknown } } | undefined)?.cause;
  return typeof cause?.providerCode === 'string' && /^\d{1,4}$/.test(cause.providerCode)
    ? cause.providerCode
    : undefined;
}

/** The failure kind, only from the known set: a custom transport's free text never reaches a log. */
function failureKind(error: unknown): string {
  const kind = (error as { cause?: { kind?: unknown } } | undefined)?.cause?.kind;
  return typeof kind === 'string' && FAILURE_KINDS.includes(kind) ? kind : 'error';
}

function compose(rt: Runtime, channel: Channel, challenge: Challenge, code: string): string {
  const { config } = rt;
  const minutes = Math.max(1, Math.ceil((challenge.expiresAt - config.now()) / MINUTE));
  return (channel === 'sms' ? smsText : voiceText)(config, code, minutes);
}

/** What every event about one send carries; `phone` is the masked number. */
interface SendEventFields {
  userId: string;
  phone: string;
  country: string;
  ip: string;
  channel: Channel;
}

/** The cause of a send refused because `beforeSend` failed: no provider failed, so no voice fallback. */
const BEFORE_SEND_FAILED = Object.freeze({ kind: 'beforeSend' });

/** The transport says the provider refused this number only (transport.ts): a call may still reach it. */
function refusedDestination(error: unknown): boolean {
  const cause = (error as { cause?: { destinationRefused?: unknown } } | undefined)?.cause;
  return cause?.destinationRefused === true;
}

/**
 * True when the provider refused the SMS for this number (invalid, unknown, opted out): only then
 * may voice.auto call instead. A provider or account failure (timeout, 5xx, 429, credentials,
 * credit, IP allow-list) would fail the call the same way, and a vetoed send is the app's answer.
 */
export function isDestinationRefusal(error: unknown): boolean {
  return (
    error instanceof TwoFactorError &&
    error.code === 'ERR_2FA_DESTINATION_BLOCKED' &&
    refusedDestination(error.cause)
  );
}

/** How long the core waits for one provider call: a second past the transport's own deadline. */
export function providerDeadline(rt: Runtime): number {
  const own = rt.config.transport.timeoutMs;
  return typeof own === 'number' && own > 0
    ? Math.min(TRANSPORT_TIMEOUT_MS, own + SECOND)
    : TRANSPORT_TIMEOUT_MS;
}

/** When the app-wide limit last tripped, per factory: its event and log line come once per trip. */
const globalLimitUntil = new WeakMap<object, number>();

function globalLimitReached(rt: Runtime, who: SendEventFields, retryAfterS: number): void {
  const now = rt.config.now();
  if ((globalLimitUntil.get(rt.config) ?? 0) > now) return;
  globalLimitUntil.set(rt.config, now + retryAfterS * SECOND);
  rt.emit({ type: 'global_limit.reached', ...who, reason: 'global' });
  rt.config.logger.error(
    `express-sms-2fa: the app-wide send limit (limits.globalPerHour / globalPerDay) is reached; every send is refused for the next ${Math.ceil(retryAfterS)} s. Many sends at once can be SMS pumping: check the send.blocked events before raising the limit`,
  );
}

/**
 * Asks the app's `beforeSend` whether this send may go out. It runs after the budgets, so a paid
 * lookup it makes is bounded by them. Fails closed: only `true` sends.
 */
async function approveSend(rt: Runtime, who: SendEventFields, to: string): Promise<void> {
  const { beforeSend, logger } = rt.config;
  if (!beforeSend) return;
  const send: SendAttempt = { ...who, phone: to }; // the full number, for the app's lookup only
  let answer: unknown;
  try {
    answer = await withTimeout(
      Promise.resolve().then(() => beforeSend(send)),
      BEFORE_SEND_TIMEOUT_MS,
    );
  } catch {
    logger.error(
      `express-sms-2fa: beforeSend failed for a ${who.channel} to ${who.phone}; the send was refused`,
    );
    throw beforeSendFailed();
  }
  if (answer === true) return;
  if (answer === false) {
    rt.emit({ type: 'send.blocked', ...who, reason: 'vetoed' });
    throw new TwoFactorError('ERR_2FA_DESTINATION_BLOCKED');
  }
  logger.error(
    `express-sms-2fa: beforeSend must return true or false (got ${typeof answer}); the send was refused`,
  );
  throw beforeSendFailed();
}

function beforeSendFailed(): TwoFactorError {
  return new TwoFactorError('ERR_2FA_SEND_FAILED', {
    cause: BEFORE_SEND_FAILED,
    retryAfter: SEND_FAILED_RETRY_AFTER_S,
  });
}

/**
 * Sends the challenge's code once over `channel`, within every budget, and returns the new send
 * state for the caller to save. Never retries: a retry could put two codes on the user's phone.
 */
export async function deliver(
  rt: Runtime,
  challenge: Challenge,
  previous: SendState | null,
  channel: Channel,
  secret: Sealed,
  dest: Destination,
  ip: string,
  /** Why a call is placed (on `voice.sent`): `requested`, `sms-failed`, `undelivered`. */
  callReason?: string,
  /** `enroll`: a code to a number the user typed (the user's budget too, event `enroll.code_sent`). */
  purpose?: 'enroll',
): Promise<Delivered> {
  const { config, emit } = rt;
  const who: SendEventFields = {
    userId: challenge.userId,
    phone: dest.masked,
    country: dest.country,
    ip,
    channel,
  };
  let spent: SpentBudgets;
  try {
    if ((previous?.sends ?? 0) >= config.maxSendsPerChallenge) {
      // The live challenge keeps answering /send until it expires: that is when a new one can go out.
      const retryAfter = Math.max(1, (challenge.expiresAt - config.now()) / 1000);
      throw new TwoFactorError('ERR_2FA_RATE_LIMITED', { cause: 'challenge', retryAfter });
    }
    spent = await spendSendBudgets(rt, dest, ip, purpose === 'enroll' ? challenge.userId : undefined);
  } catch (error) {
    if (error instanceof TwoFactorError && error.code === 'ERR_2FA_RATE_LIMITED') {
      emit({ type: 'send.blocked', ...who, reason: String(error.cause) });
      if (error.cause === 'global') globalLimitReached(rt, who, error.retryAfter ?? 1);
    }
    throw error;
  }
  await approveSend(rt, who, secret.to);

  const text = compose(rt, channel, challenge, secret.code);
  const { transport } = config;
  const deadline = providerDeadline(rt);
  if (transport.parseDeliveryReport) {
    // A report may come before the provider's answer: this key lets the webhook keep it (reports/early.ts).
    await rt.store
      .set(rt.keys.inFlight(secret.to), '', deadline + IN_FLIGHT_GRACE_MS)
      .catch(async (error) => {
        await spent.giveBack(); // nothing was sent
        throw error;
      });
  }
  let messageId: string | undefined;
  try {
    const result =
      channel === 'sms'
        ? await withTimeout(transport.sendSms({ to: secret.to, text }), deadline)
        : await withTimeout(
            transport.sendVoice?.({ to: secret.to, text, language: config.locale }) ?? Promise.reject(),
            deadline,
          );
    messageId = typeof result?.id === 'string' && result.id.length <= 128 ? result.id : undefined;
  } catch (error) {
    const code = providerCode(error);
    emit({ type: 'code.send_failed', ...who, reason: failureKind(error), providerCode: code });
    config.logger.error(
      `express-sms-2fa: ${channel} send to ${dest.masked} failed (${failureKind(error)}${code ? `, provider code ${code}` : ''})`,
    );
    // Nothing reached the user: the number's, the prefix's and the app-wide budgets get the send
    // back, so an outage never locks anyone out once it is over. The client's IP budget keeps it,
    // which bounds the provider calls one client can make while the provider fails.
    await spent.giveBack();
    if (refusedDestination(error)) throw new TwoFactorError('ERR_2FA_DESTINATION_BLOCKED', { cause: error });
    throw new TwoFactorError('ERR_2FA_SEND_FAILED', { cause: error, retryAfter: SEND_FAILED_RETRY_AFTER_S });
  }

  const now = config.now();
  const delivery: Delivery = channel === 'voice' ? 'calling' : 'sent';
  const state: SendState = {
    sends: (previous?.sends ?? 0) + 1,
    firstSmsAt: previous?.firstSmsAt || (channel === 'sms' ? now : 0),
    lastSentAt: now,
    voiceCalls: (previous?.voiceCalls ?? 0) + (channel === 'voice' ? 1 : 0),
    lastChannel: channel,
    delivery: previous?.delivery === 'delivered' && channel === 'sms' ? 'delivered' : delivery,
    messageIds: [...(previous?.messageIds ?? []), ...(messageId ? [messageId] : [])].slice(-10),
  };
  emit({
    type: purpose === 'enroll' ? 'enroll.code_sent' : channel === 'sms' ? 'code.sent' : 'voice.sent',
    ...who,
    ...(channel === 'voice' && callReason ? { reason: callReason } : {}),
  });
  return { state, messageId };
}

/** Saves the send state and the provider-id → challenge link for delivery reports. */
export async function saveDelivery(rt: Runtime, challenge: Challenge, delivered: Delivered): Promise<void> {
  const ttl = challengeTtl(rt, challenge);
  const { store, keys } = rt;
  await Promise.all([
    store.set(keys.state(challenge.id), serializeSendState(delivered.state), ttl),
    // The link from a provider id back to the challenge serves delivery reports only.
    delivered.messageId && rt.config.transport.parseDeliveryReport
      ? store.set(keys.message(delivered.messageId), challenge.id, ttl)
      : undefined,
  ]);
}

/** Records live until the code expires, plus a grace period so an expired code answers 410, not 409. */
export function challengeTtl(rt: Runtime, challenge: Challenge): number {
  return Math.max(1, challenge.expiresAt + CHALLENGE_GRACE_MS - rt.config.now());
}

/** The public shape of a live challenge (times in seconds). */
export function challengeView(rt: Runtime, challenge: Challenge, state: SendState, attempts: number) {
  const now = rt.config.now();
  const seconds = (at: number) => Math.max(0, Math.ceil((at - now) / 1000));
  const canSend = state.sends < rt.config.maxSendsPerChallenge;
  return {
    status: state.delivery,
    channel: state.lastChannel,
    phone: challenge.masked,
    expiresIn: seconds(challenge.expiresAt),
    resendIn: canSend ? seconds(nextSendAt(rt, state)) : null,
    voiceIn: canSend && voiceAvailable(rt) ? seconds(nextVoiceAt(rt, state)) : null,
    attemptsLeft: Math.max(0, rt.config.maxAttempts - attempts),
    fallback: fallbackOf(rt, state),
  };
}

/**
 * Why the code comes by a call nobody asked for, for the page to say: no SMS could be sent (every
 * send of the challenge is a call, or the one that waits to be placed), or the SMS was not
 * delivered. "Call me instead" unlocks `voice.afterMs` after the SMS, so a first call placed
 * before then was not asked for. (A call after a missing report comes later and reads as asked.)
 */
function fallbackOf(rt: Runtime, state: SendState): 'failed' | 'undelivered' | null {
  if (state.lastChannel === 'sms') return null;
  if (state.sends === state.voiceCalls) return 'failed';
  const afterMs = rt.config.voice === false ? 0 : rt.config.voice.afterMs;
  return state.voiceCalls === 1 && state.lastSentAt < state.firstSmsAt + afterMs ? 'undelivered' : null;
}

export type ChallengeView = ReturnType<typeof challengeView>;
