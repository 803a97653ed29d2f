import type { VerifyAttemptInput, VerifyAttemptResult } from './store.js';

/** What the server answered, and its clock when it ran. */
export interface ServerReply {
  result: VerifyAttemptResult;
  serverMs: number;
  /**
   * Said by a `late` reply of a server that may be one node of several (Redis Cluster): true when
   * it is, so each node's clock is measured on its own. Undefined: this reply does not say.
   */
  sharded?: boolean;
}

/**
 * One verify sent to the server with the deadline already moved into the server's clock (`0`: no
 * deadline), answering the result and the server's clock when it ran.
 */
export type SendWithDeadline = (input: VerifyAttemptInput, serverDeadline: number) => Promise<ServerReply>;

/** A deadline in the server's clock that every server clock is past: the probe's. */
const PROBE_DEADLINE = 1;

/**
 * The offset (server clock minus ours) one reply leaves, given the one before (see below): the
 * largest lower bound seen, unless this reply's upper bound is below it (the clock went back).
 */
function learnt(before: number | undefined, serverMs: number, sentAt: number, backAt: number): number {
  const atMost = serverMs - backAt;
  return before === undefined || atMost > before || serverMs - sentAt < before ? atMost : before;
}

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
 *
 * Several servers (`shardOf`, Redis): a Redis Cluster runs each call on the node that owns its
 * hash slot, and every node has its own clock. One offset learnt from a node ahead of another
 * would let the one behind run a call after the deadline, so once a `late` reply says the server
 * is one of several, each slot (`shardOf(input)`) has its own offset and its own probe: the first
 * verify of a slot costs one round trip more, once per process. Until a `late` reply has said
 * which, a call with a deadline probes. A slot that moves to a node whose clock is behind its old
 * node's is measured by the first reply from there, like a clock that went back.
 */
export function withServerDeadline(send: SendWithDeadline, shardOf?: (input: VerifyAttemptInput) => number) {
  /** Server clock minus ours, at most (see above); undefined before the first reply. */
  let offsetMs: number | undefined;
  /** The same per slot, once a reply said the server is one of several. */
  let shards: Map<number, number> | undefined;
  /** Whether it is known if the server is one of several (never a question without `shardOf`). */
  let topologyKnown = shardOf === undefined;

  const offsetOf = (input: VerifyAttemptInput) => (shards && shardOf ? shards.get(shardOf(input)) : offsetMs);

  async function attempt(input: VerifyAttemptInput, probe = false) {
    const sentAt = Date.now();
    const offset = offsetOf(input);
    const deadline =
      input.deadline === undefined
        ? 0
        : probe || offset === undefined
          ? PROBE_DEADLINE
          : Math.max(PROBE_DEADLINE, Math.floor(input.deadline + offset));
    const { result, serverMs, sharded } = await send(input, deadline);
    const backAt = Date.now();
    if (shardOf && sharded !== undefined) {
      topologyKnown = true;
      if (sharded && !shards) {
        shards = new Map();
        offsetMs = undefined;
      }
    }
    if (shards && shardOf) {
      const shard = shardOf(input);
      shards.set(shard, learnt(shards.get(shard), serverMs, sentAt, backAt));
    } else {
      offsetMs = learnt(offsetMs, serverMs, sentAt, backAt);
    }
    const measuredAgain =
      result.outcome === 'late' && input.deadline !== undefined && backAt < input.deadline;
    return { result, measuredAgain };
  }

  return async function verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult> {
    if (input.deadline !== undefined && (!topologyKnown || offsetOf(input) === undefined)) {
      const probe = await attempt(input, true);
      if (probe.result.outcome !== 'late') return probe.result;
    }
    const first = await attempt(input);
    return first.measuredAgain ? (await attempt(input)).result : first.result;
  };
}
