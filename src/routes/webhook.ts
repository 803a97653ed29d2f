import type { Request } from 'express';
import { type Challenge, parseChallenge, parseSealed, parseSendState, type SendState } from '../challenge.js';
import { MAX_WEBHOOK_TOLERANCE_MS } from '../constants.js';
import type { Runtime } from '../context.js';
import { unseal } from '../crypto.js';
import { deliver, saveDelivery, voiceAvailable } from '../delivery.js';
import { TwoFactorError } from '../errors.js';
import { withSendLock } from '../lock.js';
import { parseDestination } from '../phone.js';
import type { DeliveryReport } from '../transports/transport.js';

/**
 * POST /webhooks/smstools. The transport checks the signature and the timestamp window over the
 * raw body; a replayed report is ignored; unknown ids are ignored; "delivered" is never undone.
 */
export async function receiveReport(rt: Runtime, req: Request, rawBody: Buffer): Promise<void> {
  const parse = rt.config.transport.parseDeliveryReport;
  if (!parse)
    throw new TwoFactorError('ERR_2FA_BAD_REQUEST', { status: 404, message: 'No delivery reports here.' });
  if (rawBody.length === 0) {
    throw new TwoFactorError('ERR_2FA_BAD_REQUEST', {
      message: 'Empty body: mount twoFactor() before any body parser so the signature can be checked.',
    });
  }
  const report = parse.call(rt.config.transport, { rawBody, headers: req.headers, now: rt.config.now() });
  if (!report) return;
  const signature = String(req.headers['x-smstools-signature']);
  // The same signed report twice is a replay (or a provider retry): act on it once.
  if ((await rt.store.increment(rt.keys.webhook(signature), 2 * MAX_WEBHOOK_TOLERANCE_MS)) > 1) return;

  const challengeId = await rt.store.get(rt.keys.message(report.messageId));
  if (!challengeId) return;
  const [rawChallenge, rawState] = await rt.store.getMany([
    rt.keys.challenge(challengeId),
    rt.keys.state(challengeId),
  ]);
  const challenge = parseChallenge(rawChallenge, challengeId);
  const state = parseSendState(rawState);
  if (!challenge || !state) return;
  await applyReport(rt, challenge, state, report);
}

async function applyReport(rt: Runtime, challenge: Challenge, state: SendState, report: DeliveryReport) {
  // Every message of a challenge carries the same code: one delivered message is enough.
  if (report.status === 'delivered' && state.delivery !== 'delivered') {
    await saveState(rt, challenge, { ...state, delivery: 'delivered' });
    return;
  }
  const isLatest = state.messageIds.at(-1) === report.messageId;
  if (report.status !== 'undelivered' || !isLatest || state.delivery !== 'sent') return;
  rt.emit({
    type: 'delivery.failed',
    userId: challenge.userId,
    phone: challenge.masked,
    country: challenge.country,
    ip: challenge.ip,
    channel: 'sms',
  });
  const canCall =
    rt.config.voice !== false && rt.config.voice.auto && voiceAvailable(rt) && state.voiceCalls === 0;
  if (!canCall || rt.config.now() >= challenge.expiresAt) {
    await saveState(rt, challenge, { ...state, delivery: 'undelivered' });
    return;
  }
  await saveState(rt, challenge, { ...state, delivery: 'calling' });
  // The provider gets its 204 now; the call is placed in the background.
  callInstead(rt, challenge, state).catch((error: unknown) => {
    const code = error instanceof TwoFactorError ? error.code : 'unexpected error';
    rt.config.logger.error(`express-sms-2fa: automatic voice fallback failed (${code})`);
    saveState(rt, challenge, { ...state, delivery: 'undelivered' }).catch(() => {});
  });
}

async function callInstead(rt: Runtime, challenge: Challenge, state: SendState): Promise<void> {
  const sealed = parseSealed(unseal(rt.config.secrets, challenge.id, challenge.sealed));
  const dest = sealed ? parseDestination(sealed.to) : null;
  if (!sealed || !dest) return;
  await withSendLock(rt, rt.keys.user(challenge.userId), async () => {
    const delivered = await deliver(rt, challenge, state, 'voice', sealed, dest, challenge.ip);
    await saveDelivery(rt, challenge, delivered);
  });
}

function saveState(rt: Runtime, challenge: Challenge, state: SendState): Promise<void> {
  return saveDelivery(rt, challenge, { state, messageId: undefined });
}
