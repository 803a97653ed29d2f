import type { Request } from 'express';
import { MAX_WEBHOOK_TOLERANCE_MS } from '../constants.js';
import type { Runtime } from '../context.js';
import { TwoFactorError } from '../errors.js';
import { actOnReport } from '../reports/apply.js';
import { keepEarlyReport } from '../reports/early.js';
import { noteReportsWork } from '../reports/no-report.js';

/**
 * POST /webhooks/smstools. The transport checks the signature and the timestamp window over the
 * raw body. The webhook is account-wide, so most reports can be about other messages (campaigns):
 * those cost one read and no write. A report about one of our messages is acted on once: its
 * replay marker is written after the work succeeded, so a provider retry of a report whose
 * processing failed is processed again. "Delivered" is never undone.
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
  const { store, keys } = rt;
  const seenKey = keys.webhook(rawBody);
  // One round trip: seen before? which challenge sent this message? is a send to this number in flight?
  const [seen, challengeId, pending] = await store.getMany([
    seenKey,
    keys.message(report.messageId),
    ...(report.receiver === undefined ? [] : [keys.inFlight(report.receiver)]),
  ]);
  if (seen !== undefined) return;
  if (challengeId === undefined) {
    // Not ours, or ours before the send's answer linked the id (reports/early.ts).
    if (pending !== undefined) await keepEarlyReport(rt, report, pending);
    return;
  }
  await actOnReport(rt, challengeId, report);
  await Promise.all([
    store.set(seenKey, '1', 2 * MAX_WEBHOOK_TOLERANCE_MS),
    noteReportsWork(rt).catch(() => {}), // only arms the no-report call; the next report tries again
  ]);
}
