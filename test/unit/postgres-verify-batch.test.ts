/**
 * verify-batch.ts without a database: what goes out when, with a fake `run` and fake clocks (the
 * monotonic one it times statements by, and the wall clock, stepped back to show it is not read).
 * The real batches (answers, locks, failures) are test/postgres/postgres-verify-batch.test.ts's.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  VERIFY_BATCH_MAX,
  VERIFY_BATCH_OFF_MS,
  VERIFY_IN_FLIGHT,
  VERIFY_SLOT_MS,
  VERIFY_SLOW_MS,
  verifyBatcher,
} from '../../src/stores/postgres/verify-batch.js';
import { verifyAttemptInput } from '../helpers/verify-attempt.js';

afterEach(() => {
  vi.useRealTimers();
});

function setup(run0?: (text: string, params: unknown[]) => Promise<unknown[]>) {
  const sent: {
    text: string;
    items: number;
    resolve: (rows: unknown[]) => void;
    reject: (error: unknown) => void;
  }[] = [];
  const alone: ((row: string) => void)[] = [];
  const run =
    run0 ??
    ((text: string, params: unknown[]) =>
      new Promise<unknown[]>((resolve, reject) => {
        sent.push({ text, items: String(params[1]).split(',').length, resolve, reject });
      }));
  const single = () =>
    new Promise<string>((resolve) => {
      alone.push(resolve);
    });
  const verify = verifyBatcher(run, 'MANY', single, (row) => String((row as { outcome: string }).outcome));
  return { sent, alone, verify };
}

describe('verifyBatcher', () => {
  it('sends a verify alone when no statement is in flight, and the ones that come meanwhile together when it returns', async () => {
    const { sent, alone, verify } = setup();
    const first = verify(verifyAttemptInput(), 0);
    const later = Array.from({ length: 3 }, () => verify(verifyAttemptInput(), 0));
    // A second place is not taken while the one statement in flight is quick: they wait for it.
    expect(alone).toHaveLength(1);
    expect(sent).toHaveLength(0);
    alone[0]?.('right');
    expect(await first).toBe('right');
    expect(sent).toEqual([expect.objectContaining({ text: 'MANY', items: 3 })]);
    sent[0]?.resolve([1, 2, 3].map((i) => ({ i, outcome: `answer ${i}` })));
    expect(await Promise.all(later)).toEqual(['answer 1', 'answer 2', 'answer 3']);
  });

  it('sends what waits beside the statement in flight once that one is slow (VERIFY_SLOW_MS), at most VERIFY_IN_FLIGHT', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout'] });
    const { sent, alone, verify } = setup();
    for (let i = 0; i < 3; i++) void verify(verifyAttemptInput(), 0);
    await vi.advanceTimersByTimeAsync(VERIFY_SLOW_MS - 1);
    expect(alone).toHaveLength(1);
    expect(sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(2);
    expect(sent.map((s) => s.items)).toEqual([2]);
    // Both places taken: the next ones wait, however slow the two are, until one hangs.
    for (let i = 0; i < 2; i++) void verify(verifyAttemptInput(), 0);
    await vi.advanceTimersByTimeAsync(VERIFY_SLOT_MS - VERIFY_SLOW_MS - 2);
    expect(VERIFY_IN_FLIGHT).toBe(2);
    expect(sent.map((s) => s.items)).toEqual([2]);
    expect(alone).toHaveLength(1);
  });

  it('sends at most VERIFY_BATCH_MAX in one statement', async () => {
    const { sent, alone, verify } = setup();
    for (let i = 0; i < 1 + VERIFY_BATCH_MAX + 1; i++) void verify(verifyAttemptInput(), 0);
    alone[0]?.('right');
    await Promise.resolve();
    await Promise.resolve();
    expect(sent.map((s) => s.items)).toEqual([VERIFY_BATCH_MAX]);
  });

  it('does not let statements that hang hold up the verifies after them', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout'] });
    const { sent, alone, verify } = setup();
    void verify(verifyAttemptInput(), 0);
    void verify(verifyAttemptInput(), 0);
    await vi.advanceTimersByTimeAsync(VERIFY_SLOW_MS + 1);
    // Both places taken (the second by the one that waited), neither answers.
    expect(alone).toHaveLength(2);
    void verify(verifyAttemptInput(), 0);
    expect(sent).toHaveLength(0);
    // Half a millisecond past VERIFY_SLOT_MS of the first statement, before the timer (whole
    // milliseconds) would send the one waiting.
    await vi.advanceTimersByTimeAsync(VERIFY_SLOT_MS - VERIFY_SLOW_MS - 0.5);
    expect(sent).toHaveLength(0);
    // The next verify finds the first place's statement older than VERIFY_SLOT_MS: it and the
    // one waiting go out now.
    void verify(verifyAttemptInput(), 0);
    expect(sent.map((s) => s.items)).toEqual([2]);
  });

  it('does not hold the queue when the wall clock steps back while the statement in flight is out', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout'] });
    const { sent, alone, verify } = setup();
    for (let i = 0; i < 3; i++) void verify(verifyAttemptInput(), 0);
    // The wall clock steps back an hour (NTP, a VM resumed); the statement's time out goes on.
    vi.setSystemTime(Date.now() - 3_600_000);
    await vi.advanceTimersByTimeAsync(VERIFY_SLOW_MS + 1);
    // Slow by then: the two waiting go beside it, not an hour later.
    expect(alone).toHaveLength(1);
    expect(sent.map((s) => s.items)).toEqual([2]);
  });

  it('turns batches on again VERIFY_BATCH_OFF_MS after they went off, though the wall clock stepped back', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout'] });
    const { sent, alone, verify } = setup();
    for (let i = 0; i < 3; i++) void verify(verifyAttemptInput(), 0);
    alone[0]?.('right');
    await flushed();
    expect(sent.map((s) => s.items)).toEqual([2]);
    // No batch function (a schema from before it): batches off, the two sent alone.
    sent.splice(0)[0]?.reject(Object.assign(new Error('no such function'), { code: '42883' }));
    await flushed();
    expect(alone).toHaveLength(3);
    vi.setSystemTime(Date.now() - 3_600_000);
    await vi.advanceTimersByTimeAsync(VERIFY_BATCH_OFF_MS + 1);
    // On again: one goes alone, the two that come while it is out wait and go together.
    for (let i = 0; i < 3; i++) void verify(verifyAttemptInput(), 0);
    expect(alone).toHaveLength(4);
    alone[3]?.('right');
    await flushed();
    expect(sent.map((s) => s.items)).toEqual([2]);
  });

  it('sends every verify still waiting alone once batches are off (none is left pending)', async () => {
    const { sent, alone, verify } = setup();
    const all = Array.from({ length: 1 + 200 }, () => verify(verifyAttemptInput(), 0));
    let settled = 0;
    for (const p of all) void p.then(() => settled++);
    alone[0]?.('right');
    await flushed();
    expect(sent.map((s) => s.items)).toEqual([VERIFY_BATCH_MAX]);
    // The database has no batch function (a schema from before it): batches go off.
    for (const s of sent.splice(0)) s.reject(Object.assign(new Error('no such function'), { code: '42883' }));
    await flushed();
    expect(sent).toHaveLength(0);
    expect(alone).toHaveLength(all.length);
    for (const answer of alone.slice(1)) answer('right');
    await flushed();
    expect(settled).toBe(all.length);
  });

  it('sends the waiting verifies alone when a batch says the isolation level cannot run batches', async () => {
    const { sent, alone, verify } = setup();
    const all = Array.from({ length: 1 + 2 * VERIFY_BATCH_MAX + 8 }, () => verify(verifyAttemptInput(), 0));
    alone[0]?.('right');
    await flushed();
    expect(sent.map((s) => s.items)).toEqual([VERIFY_BATCH_MAX]);
    sent[0]?.resolve(
      Array.from({ length: VERIFY_BATCH_MAX }, (_, k) => ({ i: k + 1, outcome: 'isolation' })),
    );
    await flushed();
    // The batch's verifies and all those still waiting, each alone; none left in the queue.
    expect(alone).toHaveLength(all.length);
    for (const answer of alone.slice(1)) answer('right');
    expect(await Promise.all(all)).toEqual(all.map(() => 'right'));
  });

  it('sends what waits once hung statements lose their places, without a new verify', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout'] });
    const { sent, alone, verify } = setup();
    for (let i = 0; i < 3; i++) void verify(verifyAttemptInput(), 0);
    await vi.advanceTimersByTimeAsync(VERIFY_SLOW_MS + 1);
    expect(sent.map((s) => s.items)).toEqual([2]);
    for (let i = 0; i < 2; i++) void verify(verifyAttemptInput(), 0);
    // The first statement hangs: its place opens, and the batch beside it is slow by then.
    await vi.advanceTimersByTimeAsync(VERIFY_SLOT_MS - VERIFY_SLOW_MS);
    expect(alone).toHaveLength(1);
    expect(sent.map((s) => s.items)).toEqual([2, 2]);
  });

  it('sends what waits when a statement comes back beside a slow one, not beside a quick one', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance', 'setTimeout', 'clearTimeout'] });
    const { sent, alone, verify } = setup();
    void verify(verifyAttemptInput(), 0);
    void verify(verifyAttemptInput(), 0);
    await vi.advanceTimersByTimeAsync(VERIFY_SLOW_MS + 1);
    expect(alone).toHaveLength(2);
    for (let i = 0; i < 2 * VERIFY_BATCH_MAX; i++) void verify(verifyAttemptInput(), 0);
    await vi.advanceTimersByTimeAsync(VERIFY_SLOW_MS + 1);
    expect(sent).toHaveLength(0);
    // The first comes back; the second is slow by now: a batch goes beside it.
    alone[0]?.('right');
    await flushed();
    expect(sent.map((s) => s.items)).toEqual([VERIFY_BATCH_MAX]);
    // The second comes back; the batch is quick: the rest waits for it, until it is slow.
    alone[1]?.('right');
    await flushed();
    expect(sent.map((s) => s.items)).toEqual([VERIFY_BATCH_MAX]);
    await vi.advanceTimersByTimeAsync(VERIFY_SLOW_MS + 1);
    expect(sent.map((s) => s.items)).toEqual([VERIFY_BATCH_MAX, VERIFY_BATCH_MAX]);
  });

  it('sends each verify alone when its batch cannot be written (one malformed input), not failing them all', async () => {
    const { sent, alone, verify } = setup();
    void verify(verifyAttemptInput(), 0);
    const bad = { ...verifyAttemptInput(), hashes: undefined as unknown as string[] };
    const batch = [verify(verifyAttemptInput(), 0), verify(bad, 0), verify(verifyAttemptInput(), 0)];
    alone[0]?.('right');
    await flushed();
    expect(sent).toHaveLength(0);
    expect(alone).toHaveLength(1 + 3);
    for (const answer of alone.slice(1)) answer('alone');
    expect(await Promise.all(batch)).toEqual(['alone', 'alone', 'alone']);
  });

  it('sends each verify alone when the query throws before sending anything', async () => {
    const { alone, verify } = setup(() => {
      throw new TypeError('the query wrapper refused it');
    });
    void verify(verifyAttemptInput(), 0);
    const batch = [verify(verifyAttemptInput(), 0), verify(verifyAttemptInput(), 0)];
    alone[0]?.('right');
    await flushed();
    expect(alone).toHaveLength(1 + 2);
    for (const answer of alone.slice(1)) answer('alone');
    expect(await Promise.all(batch)).toEqual(['alone', 'alone']);
  });
});

/** Lets every settled promise's handlers run. */
async function flushed(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
