/**
 * No report at all: when the app takes delivery reports and `voice.auto` is on, an SMS that no
 * final report (delivered or not delivered) answered within `voice.noReportMs` gets the automatic
 * call. Only once reports are known to reach the app (one was accepted in the last day): a webhook
 * that never authenticates must not turn every sign-in into an SMS and a call.
 *
 * The wait is a timer in the process that sent the SMS; a restart in between forgets it (the
 * "call me instead" button still works).
 */
import { type Challenge, parseSendState } from '../challenge.js';
import { DAY, HOUR, MINUTE } from '../constants.js';
import type { Runtime } from '../context.js';
import { TwoFactorError } from '../errors.js';
import { autoCallEnabled, callInBackground, saveState, underSendLock } from '../voice-fallback.js';

/** Per factory: what this process last learnt about reports reaching the app, and until when it trusts that. */
const reportsSeen = new WeakMap<object, { works: boolean; until: number }>();

/** Records that an authentic report about one of our messages arrived (a store write at most once an hour). */
export async function noteReportsWork(rt: Runtime): Promise<void> {
  const now = rt.config.now();
  const known = reportsSeen.get(rt.config);
  if (known?.works && known.until > now) return;
  reportsSeen.set(rt.config, { works: true, until: now + HOUR });
  await rt.store.set(rt.keys.reportsWork(), '1', DAY);
}

async function reportsWork(rt: Runtime): Promise<boolean> {
  const now = rt.config.now();
  const known = reportsSeen.get(rt.config);
  if (known && known.until > now) return known.works;
  const works = (await rt.store.get(rt.keys.reportsWork())) !== undefined;
  reportsSeen.set(rt.config, { works, until: now + (works ? HOUR : MINUTE) });
  return works;
}

/** After an SMS went out: calls instead if no final report about it comes in time. */
export function watchForReport(rt: Runtime, challenge: Challenge, messageId: string | undefined): void {
  const { voice, transport } = rt.config;
  if (voice === false || voice.noReportMs === false || messageId === undefined) return;
  if (!transport.parseDeliveryReport || !autoCallEnabled(rt)) return;
  const timer = setTimeout(() => {
    callWithoutReport(rt, challenge, messageId).catch((error: unknown) => {
      const code = error instanceof TwoFactorError ? error.code : 'unexpected error';
      rt.config.logger.error(`express-sms-2fa: automatic voice fallback failed (${code})`);
    });
  }, voice.noReportMs);
  timer.unref?.();
}

async function callWithoutReport(rt: Runtime, challenge: Challenge, messageId: string): Promise<void> {
  if (!(await reportsWork(rt))) return;
  const { keys, store, config } = rt;
  const callNeeded = await underSendLock(rt, challenge, async () => {
    const [record, rawState] = await store.getMany([keys.challenge(challenge.id), keys.state(challenge.id)]);
    const state = parseSendState(rawState);
    const waiting =
      record !== undefined && // not verified (a verify consumes it)
      state?.delivery === 'sent' && // no final report, no call yet
      state.messageIds.at(-1) === messageId && // no newer SMS, which has its own wait
      state.voiceCalls === 0 &&
      config.now() < challenge.expiresAt;
    if (!waiting) return false;
    const { masked: phone, country, ip, userId } = challenge;
    rt.emit({ type: 'delivery.failed', userId, phone, country, ip, channel: 'sms', reason: 'no-report' });
    await saveState(rt, challenge, { ...state, delivery: 'calling' });
    return true;
  });
  if (callNeeded) callInBackground(rt, challenge, 'no-report');
}
