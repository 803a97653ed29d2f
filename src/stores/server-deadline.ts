import type { VerifyAttemptInput, VerifyAttemptResult } from './store.js';

/**
 * One verify sent to the server with the deadline already moved into the server's clock (`0`: no
 * deadline), answering the result and the server's clock when it ran.
 */
export type SendWithDeadline = (
  input: VerifyAttemptInput,
  serverDeadline: number,
) => Promise<{ result: VerifyAttemptResult; serverMs: number }>;

/** A deadline in the server's clock that every server clock is past: the probe's. */
const PROBE_DEADLINE = 1;

/**
 * The deadline logic redisStore's script and postgresStore's function share: a call that waited
 * past the app's store timeout (in a client's queue, behind a hung connection) has been answered
 * 503 already and must change nothing when it finally runs (security F-08). The server compares
 * its own clock with the deadline moved into that clock by the offset (server clock minus ours).
 *
 * The offset is never overestimated, so the server never runs a call the app has given up on: each
 * reply bounds it from below by the server's time minus the time the reply was back here (the
 * clock difference less the trip back) and from above by the server's time minus the send time
 * (the difference plus the trip there). It is the largest lower bound seen; an upper bound below it
 * means the server's clock went back, and the offset starts again from that reply's lower bound.
 * (The smallest upper bound, used before, counted the trip there into the offset: one slow first
 * trip under CPU load let a call queued behind a hung server run that much after the deadline.)
 * Before the first reply the offset is unknown, and taking the clocks to agree is not safe: a server
 * clock behind ours would let the first call run after the deadline by that much. So a call with a
 * deadline that finds no offset yet first sends a probe: the same call with a deadline long past in
 * any clock (1 ms after the epoch), which the server answers `late` before it reads or changes
 * anything, with its clock. (Should a server ever evaluate the probe, its answer is the call's.)
 * A `late` that comes back before the deadline means the server's clock is ahead of what was
 * measured (a jump forward): the reply has measured it, and the call is sent once more.
 */
export function withServerDeadline(send: SendWithDeadline) {
  /** Server clock minus ours, at most (see above); undefined before the first reply. */
  let offsetMs: number | undefined;

  async function attempt(input: VerifyAttemptInput, probe = false) {
    const sentAt = Date.now();
    const deadline =
      input.deadline === undefined
        ? 0
        : probe || offsetMs === undefined
          ? PROBE_DEADLINE
          : Math.max(PROBE_DEADLINE, Math.floor(input.deadline + offsetMs));
    const { result, serverMs } = await send(input, deadline);
    const backAt = Date.now();
    const atMost = serverMs - backAt;
    if (offsetMs === undefined || atMost > offsetMs || serverMs - sentAt < offsetMs) offsetMs = atMost;
    const measuredAgain =
      result.outcome === 'late' && input.deadline !== undefined && backAt < input.deadline;
    return { result, measuredAgain };
  }

  return async function verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult> {
    if (offsetMs === undefined && input.deadline !== undefined) {
      const probe = await attempt(input, true);
      if (probe.result.outcome !== 'late') return probe.result;
    }
    const first = await attempt(input);
    return first.measuredAgain ? (await attempt(input)).result : first.result;
  };
}
