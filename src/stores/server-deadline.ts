import type { VerifyAttemptInput, VerifyAttemptResult } from './store.js';

/**
 * One verify sent to the server with the deadline already moved into the server's clock (`0`: no
 * deadline), answering the result and the server's clock when it ran.
 */
export type SendWithDeadline = (
  input: VerifyAttemptInput,
  serverDeadline: number,
) => Promise<{ result: VerifyAttemptResult; serverMs: number }>;

/**
 * The deadline logic redisStore's script and postgresStore's function share: a call that waited
 * past the app's store timeout (in a client's queue, behind a hung connection) has been answered
 * 503 already and must change nothing when it finally runs (security F-08). The server compares
 * its own clock with the deadline moved into that clock by the offset seen so far (server time
 * minus send time: the clock difference plus the trip there; the smallest seen). A `late` answer
 * that comes back before the deadline means the offset was off (a clock jumped): it is measured
 * again and the call retried once.
 */
export function withServerDeadline(send: SendWithDeadline) {
  let offsetMs: number | undefined;

  async function attempt(input: VerifyAttemptInput) {
    const sentAt = Date.now();
    const deadline =
      input.deadline === undefined || offsetMs === undefined ? 0 : Math.floor(input.deadline + offsetMs);
    const { result, serverMs } = await send(input, deadline);
    const observed = serverMs - sentAt;
    const measuredAgain =
      result.outcome === 'late' && input.deadline !== undefined && Date.now() < input.deadline;
    if (offsetMs === undefined || observed < offsetMs || measuredAgain) offsetMs = observed;
    return { result, measuredAgain };
  }

  return async function verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult> {
    const first = await attempt(input);
    return first.measuredAgain ? (await attempt(input)).result : first.result;
  };
}
