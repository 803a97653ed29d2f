import { type Challenge, parseChallenge, parseSendState, type SendState } from '../challenge.js';
import type { Runtime } from '../context.js';
import type { DeliveryReport } from '../transports/transport.js';
import { autoCallEnabled, callInBackground, saveState, underSendLock } from '../voice-fallback.js';

export interface Applied {
  state: SendState;
  /** True when the report calls for the automatic voice call, now. */
  callNeeded: boolean;
}

/**
 * Updates a challenge's send state for one report; the caller holds the user's send lock. Every
 * message of a challenge carries the same code, so one "delivered" is enough and is never undone;
 * "not delivered" counts only for the newest message, and only while it is still just "sent".
 */
export async function applyReport(
  rt: Runtime,
  challenge: Challenge,
  state: SendState,
  report: Pick<DeliveryReport, 'messageId' | 'status'>,
): Promise<Applied> {
  if (report.status === 'delivered' && state.delivery !== 'delivered') {
    const delivered: SendState = { ...state, delivery: 'delivered' };
    await saveState(rt, challenge, delivered);
    return { state: delivered, callNeeded: false };
  }
  const isLatest = state.messageIds.at(-1) === report.messageId;
  if (report.status !== 'undelivered' || !isLatest || state.delivery !== 'sent') {
    return { state, callNeeded: false };
  }
  const { masked: phone, country, ip, userId } = challenge;
  rt.emit({ type: 'delivery.failed', userId, phone, country, ip, channel: 'sms', reason: 'undelivered' });
  const callNeeded = autoCallEnabled(rt) && state.voiceCalls === 0 && rt.config.now() < challenge.expiresAt;
  const next: SendState = { ...state, delivery: callNeeded ? 'calling' : 'undelivered' };
  await saveState(rt, challenge, next);
  return { state: next, callNeeded };
}

/** A report about a message of challenge `challengeId`: applied under the send lock, any call in the background. */
export async function actOnReport(
  rt: Runtime,
  challengeId: string,
  report: Pick<DeliveryReport, 'messageId' | 'status'>,
): Promise<void> {
  const challenge = parseChallenge(await rt.store.get(rt.keys.challenge(challengeId)), challengeId);
  rt.metrics.deliveryReport(report.status, challenge?.country); // the challenge may be verified already
  if (!challenge) return;
  const callNeeded = await underSendLock(rt, challenge, async () => {
    const state = parseSendState(await rt.store.get(rt.keys.state(challenge.id)));
    return state ? (await applyReport(rt, challenge, state, report)).callNeeded : false;
  });
  if (callNeeded) callInBackground(rt, challenge, 'undelivered');
}
