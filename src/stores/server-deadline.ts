import type { VerifyAttemptInput, VerifyAttemptResult } from './store.js';

/** A Redis Cluster's hash slots and their owners: (first slot, last slot, node id) ranges. */
export type SlotOwners = readonly (readonly [number, number, string])[];

/** What the server answered, and its clock when it ran. */
export interface ServerReply {
  result: VerifyAttemptResult;
  serverMs: number;
  /**
   * Said by a `late` reply of a server that may be one node of several (Redis Cluster), each with
   * its own clock: false when it is not, else the node's id (undefined: it could not say) and the
   * slots' owners (when it could read them). Undefined: this reply does not say.
   */
  node?: false | { id?: string; owners?: SlotOwners };
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
 * Several servers (`slotOf`, Redis): a Redis Cluster runs each call on the node that owns its hash
 * slot, and every node has its own clock. One offset learnt from a node ahead of another would let
 * the one behind run a call after the deadline, so once a `late` reply says the server is a cluster
 * node, each node has its own offset and its own probe (one round trip more on the first verify
 * that reaches it, once per process), found by the slot owners the late reply lists (without them,
 * each slot counts as a node of its own). Until a `late` reply has said which, a call with a
 * deadline probes. A reply whose clock is behind what its node was measured at (the node's clock
 * went back, or the slot moved to another node) sets that offset back, as on one server, and
 * drops the owners, so the next call probes and reads them again. That first call to a moved slot
 * still carries the old owner's offset: on a new owner whose clock is behind, it can run at most
 * the two clocks' difference after the app's deadline, once per moved slot and process. Kept, as
 * nothing worse follows: a code's expiry is checked on the app's clock (`now`) and the lock and
 * counters where the call runs (test/unit/server-deadline.test.ts, "the clocks' difference late");
 * refusing it would take a `CLUSTER MYID` in every verify.
 */
export function withServerDeadline(send: SendWithDeadline, slotOf?: (input: VerifyAttemptInput) => number) {
  /** Server clock minus ours, at most (see above); undefined before the first reply. */
  let offsetMs: number | undefined;
  /** The same per node (by id, or `#slot` without owners), once a reply said it is a cluster's. */
  let nodes: Map<string, number> | undefined;
  let owners: SlotOwners | undefined;
  /** Whether it is known if the server is one of several (never a question without `slotOf`). */
  let topologyKnown = slotOf === undefined;

  /** The node a call goes to (undefined: the one server). */
  function nodeOf(input: VerifyAttemptInput): string | undefined {
    if (!nodes || !slotOf) return undefined;
    const slot = slotOf(input);
    for (const [first, last, id] of owners ?? []) if (slot >= first && slot <= last) return id;
    return `#${slot}`;
  }
  const offsetOf = (node: string | undefined) => (node === undefined ? offsetMs : nodes?.get(node));

  async function attempt(input: VerifyAttemptInput, probe = false) {
    const sentAt = Date.now();
    const to = nodeOf(input);
    const offset = offsetOf(to);
    const deadline =
      input.deadline === undefined
        ? 0
        : probe || offset === undefined
          ? PROBE_DEADLINE
          : Math.max(PROBE_DEADLINE, Math.floor(input.deadline + offset));
    const { result, serverMs, node } = await send(input, deadline);
    const backAt = Date.now();
    if (slotOf && node !== undefined) {
      topologyKnown = true;
      if (node) {
        if (!nodes) {
          nodes = new Map();
          offsetMs = undefined;
        }
        if (node.owners) owners = node.owners;
      }
    }
    // Whose clock answered: the node that said so (when its slots are known), else the one the call
    // was sent to.
    const answered = node && node.id !== undefined && owners ? node.id : (to ?? nodeOf(input));
    if (answered === undefined || !nodes) {
      offsetMs = learnt(offsetMs, serverMs, sentAt, backAt);
    } else {
      const before = nodes.get(answered);
      if (!node && before !== undefined && serverMs - sentAt < before) owners = undefined;
      const measured = learnt(before, serverMs, sentAt, backAt);
      // A reply that does not say who answered may come from a node its slot moved to, whose clock
      // is ahead: it may lower the offset of the node we sent to, never raise it.
      nodes.set(answered, !node && before !== undefined ? Math.min(before, measured) : measured);
    }
    const measuredAgain =
      result.outcome === 'late' && input.deadline !== undefined && backAt < input.deadline;
    return { result, measuredAgain };
  }

  return async function verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult> {
    if (input.deadline !== undefined && (!topologyKnown || offsetOf(nodeOf(input)) === undefined)) {
      const probe = await attempt(input, true);
      if (probe.result.outcome !== 'late') return probe.result;
    }
    const first = await attempt(input);
    return first.measuredAgain ? (await attempt(input)).result : first.result;
  };
}
