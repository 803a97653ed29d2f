import { type Challenge, parseSealed, parseSendState, type SendState } from './challenge.js';
import type { Runtime } from './context.js';
import { unseal } from './crypto.js';
import { deliver, saveDelivery, voiceAvailable } from './delivery.js';
import { TwoFactorError } from './errors.js';
import { withSendLock } from './lock.js';
import { lockState, lockWaitMs } from './lockout.js';
import { parseDestination } from './phone.js';

const LOCK_TRIES = 20;
const LOCK_RETRY_MS = 100;

/** True when `voice.auto` is on and the transport can call. */
export function autoCallEnabled(rt: Runtime): boolean {
  return rt.config.voice !== false && rt.config.voice.auto && voiceAvailable(rt);
}

/** Why an automatic call is placed, as `voice.sent` and the metrics say it. */
export type CallReason = 'sms-failed' | 'undelivered' | 'no-report';

/**
 * A call the SMS could not do: `voice.auto` placing one after the provider refused the number, a
 * report said "not delivered", or no report came. The state is already `calling` with no call yet;
 * the call itself runs in the background (nobody's request waits on a second provider call) under
 * the user's send lock, and a failure leaves the state `undelivered` for the page to show.
 */
export function callInBackground(rt: Runtime, challenge: Challenge, reason: CallReason): void {
  underSendLock(rt, challenge, () => callInstead(rt, challenge, reason)).catch((error: unknown) => {
    const code = error instanceof TwoFactorError ? error.code : 'unexpected error';
    rt.config.logger.error(`express-sms-2fa: automatic voice fallback failed (${code})`);
    underSendLock(rt, challenge, () => markUndelivered(rt, challenge)).catch(() => {});
  });
}

/** A call is pending when the state says `calling` and no call went out yet. */
export const callPending = (state: SendState): boolean =>
  state.delivery === 'calling' && state.voiceCalls === 0;

/**
 * The automatic call, only for a challenge still worth one: live, not burnt, account neither locked
 * nor inside its failure delay (no route sends then either), and the number still in an allowed country. Every guard of a manual call applies on top, inside
 * `deliver`: the budgets and `beforeSend`.
 */
async function callInstead(rt: Runtime, challenge: Challenge, reason: CallReason): Promise<void> {
  const { keys, store, config } = rt;
  const userKey = keys.user(challenge.userId);
  const [record, rawState, rawAttempts, failures, failedAt] = await store.getMany([
    keys.challenge(challenge.id),
    keys.state(challenge.id),
    keys.attempts(challenge.id),
    keys.failures(userKey),
    keys.failedAt(userKey),
  ]);
  const state = parseSendState(rawState);
  // Verified meanwhile (a verify consumes the challenge), or a manual call came first.
  if (record === undefined || !state || !callPending(state)) return;
  const sealed = parseSealed(unseal(config.secrets, challenge.id, challenge.sealed));
  const dest = sealed ? parseDestination(sealed.to) : null;
  const allowed = config.allowedCountries;
  const worthIt =
    config.now() < challenge.expiresAt &&
    (Number(rawAttempts) || 0) < config.maxAttempts &&
    lockWaitMs(rt, lockState(failures, failedAt)) <= 0;
  if (!sealed || !dest || !worthIt) {
    await saveState(rt, challenge, { ...state, delivery: 'undelivered' });
    return;
  }
  if (allowed !== 'all' && !allowed.has(dest.country)) {
    // The allow-list changed since the SMS went out: the call is refused like any other send.
    const { userId, masked: phone, country, ip } = challenge;
    rt.emit({ type: 'send.blocked', userId, phone, country, ip, channel: 'voice', reason: 'country' });
    await saveState(rt, challenge, { ...state, delivery: 'undelivered' });
    return;
  }
  const delivered = await deliver(rt, challenge, state, 'voice', sealed, dest, challenge.ip, reason);
  await saveDelivery(rt, challenge, delivered);
}

async function markUndelivered(rt: Runtime, challenge: Challenge): Promise<void> {
  const state = parseSendState(await rt.store.get(rt.keys.state(challenge.id)));
  if (state && callPending(state)) await saveState(rt, challenge, { ...state, delivery: 'undelivered' });
}

/** The user's send lock, waited for a little: a background call usually finds nothing else running. */
export async function underSendLock<T>(
  rt: Runtime,
  challenge: Challenge,
  work: () => Promise<T>,
): Promise<T> {
  const userKey = rt.keys.user(challenge.userId);
  for (let attempt = 1; ; attempt++) {
    try {
      return await withSendLock(rt, userKey, work);
    } catch (error) {
      const busy =
        error instanceof TwoFactorError && error.code === 'ERR_2FA_COOLDOWN' && attempt < LOCK_TRIES;
      if (!busy) throw error;
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
  }
}

export function saveState(rt: Runtime, challenge: Challenge, state: SendState): Promise<void> {
  return saveDelivery(rt, challenge, { state, messageId: undefined });
}
