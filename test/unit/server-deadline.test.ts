/**
 * The deadline redisStore's script and postgresStore's function check on the server's clock
 * (security F-08): a verify that runs after the app answered 503 must change nothing. The server
 * here is simulated with a fake `Date`: each call takes a trip there, reads the server's clock,
 * answers `late` past the deadline it was given, and takes a trip back.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withServerDeadline } from '../../src/stores/server-deadline.js';
import { verifyAttemptInput } from '../helpers/verify-attempt.js';

const input = verifyAttemptInput;

/** A server whose clock is `aheadMs` ahead of the app's; each call's trips are the next of `trips`. */
function server(aheadMs: number) {
  const trips: { there: number; back: number }[] = [];
  const sent: number[] = [];
  let ahead = aheadMs;
  const verifyAttempt = withServerDeadline(async (_input, serverDeadline) => {
    sent.push(serverDeadline);
    const trip = trips.shift() ?? { there: 1, back: 1 };
    vi.setSystemTime(Date.now() + trip.there);
    const serverMs = Date.now() + ahead;
    const late = serverDeadline !== 0 && serverMs > serverDeadline;
    vi.setSystemTime(Date.now() + trip.back);
    return { result: late ? { outcome: 'late' } : { outcome: 'missing' }, serverMs };
  });
  return {
    verifyAttempt,
    /** The deadlines sent, in the server's clock (0: none). */
    sent,
    next: (there: number, back = 1) => trips.push({ there, back }),
    jump: (ms: number) => {
      ahead += ms;
    },
  };
}

/**
 * A Redis Cluster: each call runs on the node that owns its slot, each node with its own clock
 * `aheadMs[node]` ahead of the app's. A call's slot is its lock key (a number here); `owners` lists
 * which node owns which slot, and can change (a slot moves). Its `late` replies say which node
 * answered and the owners, as the script's do.
 */
function cluster(aheadMs: Record<string, number>, owners: [number, number, string][]) {
  const trips: { there: number; back: number }[] = [];
  /** Each call's node and whether it evaluated the code there (ran without answering late). */
  const runs: { node: string; serverMs: number; deadline: number; evaluated: boolean }[] = [];
  const ownerOf = (slot: number) => owners.find(([a, b]) => slot >= a && slot <= b)?.[2] ?? '?';
  const verifyAttempt = withServerDeadline(
    async (call, serverDeadline) => {
      const node = ownerOf(Number(call.keys.lock));
      const trip = trips.shift() ?? { there: 1, back: 1 };
      vi.setSystemTime(Date.now() + trip.there);
      const serverMs = Date.now() + (aheadMs[node] ?? 0);
      const late = serverDeadline !== 0 && serverMs > serverDeadline;
      runs.push({ node, serverMs, deadline: serverDeadline, evaluated: !late });
      vi.setSystemTime(Date.now() + trip.back);
      return late
        ? {
            result: { outcome: 'late' as const },
            serverMs,
            node: { id: node, owners: owners.map((o) => [...o] as const) },
          }
        : { result: { outcome: 'missing' as const }, serverMs };
    },
    (call) => Number(call.keys.lock),
  );
  const on = (slot: number, deadline: number) => {
    const call = input(deadline);
    return verifyAttempt({ ...call, keys: { ...call.keys, lock: String(slot) } });
  };
  return {
    on,
    runs,
    owners,
    next: (there: number, back = 1) => trips.push({ there, back }),
    probes: () => runs.filter((r) => r.deadline === 1).map((r) => r.node),
  };
}

describe('withServerDeadline()', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 10, 30, 12) });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses a call that runs after the deadline even when the call that measured the clock was slow to arrive', async () => {
    const s = server(0);
    // Under CPU pressure the first call took 400 ms to reach the server, and 1 ms to come back.
    s.next(400);
    expect(await s.verifyAttempt(input(Date.now() + 5_000))).toEqual({ outcome: 'missing' });
    // The server hangs: this call runs 500 ms after it was sent, 200 ms after the app answered 503.
    s.next(500);
    expect(await s.verifyAttempt(input(Date.now() + 300))).toEqual({ outcome: 'late' });
  });

  it('refuses a late first call of a process, before it has seen the server clock', async () => {
    const s = server(0);
    s.next(500);
    expect(await s.verifyAttempt(input(Date.now() + 300))).toEqual({ outcome: 'late' });
  });

  it('refuses a late first call of a process when the server clock is behind the app’s', async () => {
    const s = server(-60_000);
    // The first call of the process reaches the server 200 ms after the app answered 503.
    s.next(500);
    expect(await s.verifyAttempt(input(Date.now() + 300))).toEqual({ outcome: 'late' });
    // Nor does any later deadline sent reach past the app's in the server clock.
    const deadline = Date.now() + 300;
    expect(await s.verifyAttempt(input(deadline))).toEqual({ outcome: 'missing' });
    expect(s.sent.at(-1)).toBeLessThanOrEqual(deadline - 60_000);
  });

  it('a server clock an hour ahead: the first call is late before the deadline, measured again and retried', async () => {
    const s = server(3_600_000);
    const deadline = Date.now() + 300;
    expect(await s.verifyAttempt(input(deadline))).toEqual({ outcome: 'missing' });
    expect(s.sent).toHaveLength(2);
    // The retry's deadline is in the server's clock, never later than the app's deadline there.
    expect(s.sent[1]).toBeLessThanOrEqual(deadline + 3_600_000);
    expect(s.sent[1]).toBeGreaterThan(deadline + 3_600_000 - 100);
    // From then on, one call each.
    expect(await s.verifyAttempt(input(Date.now() + 300))).toEqual({ outcome: 'missing' });
    expect(s.sent).toHaveLength(3);
  });

  it('never sends a deadline later than the app’s in the server clock, whatever the trips', async () => {
    const s = server(250);
    for (const [there, back] of [
      [3, 1],
      [200, 1],
      [1, 200],
      [50, 50],
      [0, 0],
    ] as const) {
      s.next(there, back);
      const deadline = Date.now() + 1_000;
      await s.verifyAttempt(input(deadline));
      expect(s.sent.at(-1)).toBeLessThanOrEqual(deadline + 250);
    }
  });

  it('follows the server clock when it jumps back or forth, and answers late only after the deadline', async () => {
    const s = server(0);
    await s.verifyAttempt(input(Date.now() + 300));
    s.jump(-60_000);
    await s.verifyAttempt(input(Date.now() + 300));
    s.next(500);
    expect(await s.verifyAttempt(input(Date.now() + 300))).toEqual({ outcome: 'late' });
    s.jump(120_000);
    expect(await s.verifyAttempt(input(Date.now() + 300))).toEqual({ outcome: 'missing' });
    s.next(500);
    expect(await s.verifyAttempt(input(Date.now() + 300))).toEqual({ outcome: 'late' });
  });

  it('sends no deadline when the call has none', async () => {
    const s = server(0);
    await s.verifyAttempt(input());
    await s.verifyAttempt(input());
    expect(s.sent).toEqual([0, 0]);
  });

  it('on a Redis Cluster, never lets a node whose clock is behind another’s run a call after the deadline', async () => {
    // Node a's clock is 2 s ahead of the app's, node b's agrees with it.
    const c = cluster({ a: 2_000, b: 0 }, [
      [0, 9, 'a'],
      [10, 19, 'b'],
    ]);
    expect(await c.on(1, Date.now() + 1_000)).toEqual({ outcome: 'missing' });
    // b hangs: the call reaches it 1.5 s after it was sent, 0.5 s after the app answered 503.
    c.next(1_500);
    const deadline = Date.now() + 1_000;
    expect(await c.on(11, deadline)).toEqual({ outcome: 'late' });
    // b never evaluated a code after the deadline in its own clock, nor got a later deadline.
    expect(c.runs.filter((r) => r.node === 'b' && r.evaluated && r.serverMs > deadline)).toEqual([]);
    for (const run of c.runs.filter((r) => r.node === 'b'))
      expect(run.deadline).toBeLessThanOrEqual(deadline);
  });

  it('on a Redis Cluster, measures each node once (one probe per node, whatever the slot), then one call each', async () => {
    const c = cluster({ a: 2_000, b: -3_000 }, [
      [0, 9, 'a'],
      [10, 19, 'b'],
    ]);
    for (const slot of [1, 2, 11, 3, 12, 13, 4]) {
      expect(await c.on(slot, Date.now() + 1_000)).toEqual({ outcome: 'missing' });
    }
    expect(c.probes()).toEqual(['a', 'b']);
    expect(c.runs).toHaveLength(9);
  });

  it('on a Redis Cluster, a slot that moves to a node whose clock is behind is measured again', async () => {
    const c = cluster({ a: 2_000, b: 0 }, [
      [0, 9, 'a'],
      [10, 19, 'b'],
    ]);
    await c.on(1, Date.now() + 1_000);
    await c.on(11, Date.now() + 1_000);
    // Slot 5 moves to b: the first call there still goes with a's offset (as a clock that went
    // back would); its reply shows a clock behind a's, so the owners are read again.
    c.owners.splice(0, 2, [0, 4, 'a'], [5, 19, 'b']);
    await c.on(5, Date.now() + 1_000);
    // b hangs: no call to slot 5 runs after the deadline from now on.
    c.next(1_500);
    const deadline = Date.now() + 1_000;
    expect(await c.on(5, deadline)).toEqual({ outcome: 'late' });
    expect(c.runs.at(-1)).toMatchObject({ node: 'b', evaluated: false });
    // And a's slots keep a's offset: a call there runs at once.
    expect(await c.on(1, Date.now() + 1_000)).toEqual({ outcome: 'missing' });
  });

  it('on a Redis Cluster, the first call to a slot moved to a node behind runs at most the clocks’ difference late', async () => {
    // a is 2 s ahead of b (and of the app). The bound, not a fix: that call cannot accept a code
    // past its expiry (`now` is the app's clock) nor pass a lock (the script reads it where it runs).
    const c = cluster({ a: 2_000, b: 0 }, [
      [0, 9, 'a'],
      [10, 19, 'b'],
    ]);
    await c.on(1, Date.now() + 1_000);
    await c.on(11, Date.now() + 1_000);
    c.owners.splice(0, 2, [0, 4, 'a'], [5, 19, 'b']);
    // The first call to slot 5 still carries a's offset, and b is slow to run it: 1.5 s, then 3 s.
    for (const hang of [1_500, 3_000]) {
      c.next(hang);
      const deadline = Date.now() + 1_000;
      await c.on(5, deadline);
      const run = c.runs.at(-1);
      if (hang === 1_500) {
        // Evaluated 0.5 s after the app's deadline: within the 2 s a and b differ by.
        expect(run).toMatchObject({ node: 'b', evaluated: true });
        expect(run?.serverMs).toBeGreaterThan(deadline);
        expect((run?.serverMs ?? 0) - deadline).toBeLessThanOrEqual(2_000);
      } else {
        // The one reply showed b's clock: every later call there is measured on b's, and refused.
        expect(run).toMatchObject({ node: 'b', evaluated: false });
      }
    }
  });

  it('on a Redis Cluster, a slot that moves to a node whose clock is ahead does not raise the old owner’s offset', async () => {
    // a agrees with the app's clock; b is 0.5 s ahead (less than the store timeout).
    const c = cluster({ a: 0, b: 500 }, [
      [0, 9, 'a'],
      [10, 19, 'b'],
    ]);
    await c.on(1, Date.now() + 1_000);
    await c.on(11, Date.now() + 1_000);
    // Slot 5 moves to b; its on-time reply does not say who answered (only late replies do).
    c.owners.splice(0, 2, [0, 4, 'a'], [5, 19, 'b']);
    expect(await c.on(5, Date.now() + 1_000)).toEqual({ outcome: 'missing' });
    // a hangs: the call reaches it 1.4 s after it was sent, 0.4 s after the app answered 503.
    c.next(1_400);
    const deadline = Date.now() + 1_000;
    await c.on(1, deadline);
    expect(c.runs.filter((r) => r.node === 'a' && r.evaluated && r.serverMs > deadline)).toEqual([]);
  });

  it('on a Redis Cluster node that cannot list the owners, measures each slot on its own', async () => {
    const sent: number[] = [];
    const verifyAttempt = withServerDeadline(
      async (_call, serverDeadline) => {
        sent.push(serverDeadline);
        const serverMs = Date.now() + 2_000;
        return serverMs > serverDeadline
          ? { result: { outcome: 'late' as const }, serverMs, node: {} }
          : { result: { outcome: 'missing' as const }, serverMs };
      },
      (call) => Number(call.keys.lock),
    );
    for (const slot of [1, 2, 1]) {
      const call = input(Date.now() + 1_000);
      expect(await verifyAttempt({ ...call, keys: { ...call.keys, lock: String(slot) } })).toEqual({
        outcome: 'missing',
      });
    }
    expect(sent.filter((d) => d === 1)).toHaveLength(2);
    expect(sent).toHaveLength(5);
  });

  it('on one server, probes once whatever the slot: one offset, as before', async () => {
    const s = server(500);
    const call = input(Date.now() + 1_000);
    await s.verifyAttempt({ ...call, keys: { ...call.keys, lock: 'a' } });
    await s.verifyAttempt({ ...call, deadline: Date.now() + 1_000, keys: { ...call.keys, lock: 'b' } });
    expect(s.sent.filter((d) => d === 1)).toHaveLength(1);
    expect(s.sent).toHaveLength(3);
  });
});
