/**
 * Reports that arrive before the send's own answer. Smstools can report within milliseconds, before
 * the message id is linked to its challenge. While a send to a number is in flight, its in-flight
 * key exists (delivery.ts writes it before calling the provider); a report with an unknown id for
 * that number is kept there, and whoever comes second (the send, once it linked its id, or the
 * report, finding the link on a second look) takes the kept reports with an atomic `consume` and
 * acts on them. A report about any other message finds no in-flight key and costs no write.
 */
import type { Challenge, SendState } from '../challenge.js';
import { MINUTE } from '../constants.js';
import type { Runtime } from '../context.js';
import type { DeliveryReport } from '../transports/transport.js';
import { type Applied, actOnReport, applyReport } from './apply.js';

/** How long an early report waits for its send to link the id. */
const EARLY_REPORT_TTL_MS = MINUTE;
/** Reports kept per number at most (a send has one id; room for a submitted and a final one, and repeats). */
const MAX_EARLY_REPORTS = 8;
const STATUSES: readonly string[] = ['submitted', 'delivered', 'undelivered'];

type Early = [messageId: string, status: DeliveryReport['status']];

function parse(raw: string | undefined): Early[] {
  if (!raw) return [];
  try {
    const value: unknown = JSON.parse(raw);
    if (!Array.isArray(value)) return [];
    return value.filter(
      (e): e is Early =>
        Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && STATUSES.includes(e[1]),
    );
  } catch {
    return [];
  }
}

/**
 * The webhook's side, for a report whose id is not linked yet while a send to its number is in
 * flight (`pending` is that key's value): keeps it, then looks once more for the link.
 */
export async function keepEarlyReport(rt: Runtime, report: DeliveryReport, pending: string): Promise<void> {
  const { store, keys } = rt;
  if (report.receiver === undefined) return;
  const key = keys.inFlight(report.receiver);
  const kept = parse(pending).filter(
    ([id, status]) => !(id === report.messageId && status === report.status),
  );
  kept.push([report.messageId, report.status]);
  await store.set(key, JSON.stringify(kept.slice(-MAX_EARLY_REPORTS)), EARLY_REPORT_TTL_MS);
  // The send may have linked its id, and looked for early reports, before this one was kept.
  const challengeId = await store.get(keys.message(report.messageId));
  if (challengeId === undefined) return;
  for (const [messageId, status] of parse(await store.consume(key))) {
    const owner = messageId === report.messageId ? challengeId : await store.get(keys.message(messageId));
    if (owner !== undefined) await actOnReport(rt, owner, { messageId, status });
  }
}

/**
 * The send's side, under its send lock, once its id is linked: takes what came early for this
 * message and applies it to the state just saved.
 */
export async function takeEarlyReports(
  rt: Runtime,
  challenge: Challenge,
  state: SendState,
  messageId: string | undefined,
  to: string,
): Promise<Applied> {
  let applied: Applied = { state, callNeeded: false };
  if (!rt.config.transport.parseDeliveryReport || messageId === undefined) return applied;
  for (const [id, status] of parse(await rt.store.consume(rt.keys.inFlight(to)))) {
    if (id !== messageId) continue;
    rt.metrics.deliveryReport(status, challenge.country);
    const next = await applyReport(rt, challenge, applied.state, { messageId: id, status });
    applied = { state: next.state, callNeeded: applied.callNeeded || next.callNeeded };
  }
  return applied;
}
