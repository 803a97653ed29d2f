import type { Request } from 'express';
import { type Challenge, parseChallenge, parseSealed, parseSendState, type SendState } from '../challenge.js';
import { MAX_WEBHOOK_TOLERANCE_MS } from '../constants.js';
import type { Runtime } from '../context.js';
import { unseal } from '../crypto.js';
import { deliver, saveDelivery, voiceAvailable } from '../delivery.js';
import { TwoFactorError } from '../errors.js';
import { withSendLock } from '../lock.js';
import { isHardLocked, lockState } from '../lockout.js';
import { parseDestination } from '../phone.js';
import type { DeliveryReport } from '../transports/transport.js';

const LOCK_TRIES = 20;
const LOCK_RETRY_MS = 100;

/**
 * POST /webhooks/smstools. The transport checks the signature and the timestamp window over the
 * raw body; a report seen before is ignored; unknown ids are ignored; "delivered" is never undone.
 */
export async function receiveReport(rt: Runtime, req: Request, rawBody: Buffer): Promise<void> {
  const parse = rt.config.transport.parseDeliveryReport;
  if (!parse) {
    throw new TwoFactorError('ERR_2FA_BAD_REQUEST', { status: 404, message: 'No delivery reports here.' });
  }
  if (rawBody.length === 0) {
    throw new TwoFactorError('ERR_2FA_BAD_REQUEST', {
      message: 'Empty body: mount twoFactor() before any body parser so the signature can be checked.',
    });
  }
  const report = parse.call(rt.config.transport, { rawBody, headers: req.headers, now: rt.config.now() });
  if (!report) return;
  // The same report twice is a replay or a provider retry: act on it once.
  if ((await rt.store.increment(rt.keys.webhook(rawBody), 2 * MAX_WEBHOOK_TOLERANCE_MS)) > 1) return;

  const challengeId = await rt.store.get(rt.keys.message(report.messageId));
  const challenge = challengeId
    ? parseChallenge(await rt.store.get(rt.keys.challenge(challengeId)), challengeId)
    : null;
  if (challengeId) rt.metrics.deliveryReport(report.status, challenge?.country); // the challenge may be verified already
  if (!challenge) return;
  // Under the user's send lock, like every other write of the send state: no lost update.
  const callNeeded = await underSendLock(rt, challenge, async () => {
    const state = parseSendState(await rt.store.get(rt.keys.state(challenge.id)));
    return state ? applyReport(rt, challenge, state, report) : false;
  });
  if (!callNeeded) return;
  // The provider gets its 204 now; the call is placed in the background.
  underSendLock(rt, challenge, () => callInstead(rt, challenge)).catch((error: unknown) => {
    const code = error instanceof TwoFactorError ? error.code : 'unexpected error';
    rt.config.logger.error(`express-sms-2fa: automatic voice fallback failed (${code})`);
    underSendLock(rt, challenge, () => markUndelivered(rt, challenge)).catch(() => {});
  });
}

/** Updates the state for one report; true when the voice fallback should call now. */
async function applyReport(rt: Runtime, challenge: Challenge, state: SendState, report: DeliveryReport) {
  // Every message of a challenge carries the same code: one delivered message is enough.
  if (report.status === 'delivered' && state.delivery !== 'delivered') {
    await saveState(rt, challenge, { ...state, delivery: 'delivered' });
    return false;
  }
  const isLatest = state.messageIds.at(-1) === report.messageId;
  if (report.status !== 'undelivered' || !isLatest || state.delivery !== 'sent') return false;
  const { masked: phone, country, ip, userId } = challenge;
  rt.emit({ type: 'delivery.failed', userId, phone, country, ip, channel: 'sms' });
  const canCall =
    rt.config.voice !== false && rt.config.voice.auto && voiceAvailable(rt) && state.voiceCalls === 0;
  const callNeeded = canCall && rt.config.now() < challenge.expiresAt;
  await saveState(rt, challenge, { ...state, delivery: callNeeded ? 'calling' : 'undelivered' });
  return callNeeded;
}

/** The automatic call, only for a challenge still worth a call: live, not burnt, account not locked. */
async function callInstead(rt: Runtime, challenge: Challenge): Promise<void> {
  const { keys, store, config } = rt;
  const userKey = keys.user(challenge.userId);
  const [rawState, rawAttempts, failures, failedAt] = await store.getMany([
    keys.state(challenge.id),
    keys.attempts(challenge.id),
    keys.failures(userKey),
    keys.failedAt(userKey),
  ]);
  const state = parseSendState(rawState);
  const sealed = parseSealed(unseal(config.secrets, challenge.id, challenge.sealed));
  const dest = sealed ? parseDestination(sealed.to) : null;
  const worthIt =
    state?.delivery === 'calling' &&
    state.voiceCalls === 0 &&
    config.now() < challenge.expiresAt &&
    (Number(rawAttempts) || 0) < config.maxAttempts &&
    !isHardLocked(rt, lockState(failures, failedAt));
  if (!state || !sealed || !dest || !worthIt) {
    if (state?.delivery === 'calling') await saveState(rt, challenge, { ...state, delivery: 'undelivered' });
    return;
  }
  const delivered = await deliver(rt, challenge, state, 'voice', sealed, dest, challenge.ip, 'undelivered');
  await saveDelivery(rt, challenge, delivered);
}

async function markUndelivered(rt: Runtime, challenge: Challenge): Promise<void> {
  const state = parseSendState(await rt.store.get(rt.keys.state(challenge.id)));
  if (state?.delivery === 'calling') await saveState(rt, challenge, { ...state, delivery: 'undelivered' });
}

/** The user's send lock, waited for a little: a report usually lands while nothing else runs. */
async function underSendLock<T>(rt: Runtime, challenge: Challenge, work: () => Promise<T>): Promise<T> {
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

function saveState(rt: Runtime, challenge: Challenge, state: SendState): Promise<void> {
  return saveDelivery(rt, challenge, { state, messageId: undefined });
}
