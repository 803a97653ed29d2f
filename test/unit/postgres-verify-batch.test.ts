/**
 * verify-batch.ts without a database: what goes out when, with a fake `run` and a fake clock.
 * The real batches (answers, locks, failures) are test/postgres/postgres-verify-batch.test.ts's.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  VERIFY_BATCH_MAX,
  VERIFY_IN_FLIGHT,
  VERIFY_SLOT_MS,
  verifyBatcher,
} from '../../src/stores/postgres/verify-batch.js';
import { verifyAttemptInput } from '../helpers/verify-attempt.js';

afterEach(() => {
  vi.useRealTimers();
});

function setup() {
  const sent: { text: string; items: number; resolve: (rows: unknown[]) => void }[] = [];
  const alone: ((row: string) => void)[] = [];
  const run = (text: string, params: unknown[]) =>
    new Promise<unknown[]>((resolve) => {
      sent.push({ text, items: String(params[1]).split(',').length, resolve });
    });
  const single = () =>
    new Promise<string>((resolve) => {
      alone.push(resolve);
    });
  const verify = verifyBatcher(run, 'MANY', single, (row) => String((row as { outcome: string }).outcome));
  return { sent, alone, verify };
}

describe('verifyBatcher', () => {
  it('sends each verify alone while fewer than VERIFY_IN_FLIGHT are in flight, then the waiting ones together', async () => {
    const { sent, alone, verify } = setup();
    const first = Array.from({ length: VERIFY_IN_FLIGHT }, () => verify(verifyAttemptInput(), 0));
    const later = Array.from({ length: 3 }, () => verify(verifyAttemptInput(), 0));
    expect(alone).toHaveLength(VERIFY_IN_FLIGHT);
    expect(sent).toHaveLength(0);
    alone[0]?.('right');
    expect(await first[0]).toBe('right');
    expect(sent).toEqual([expect.objectContaining({ text: 'MANY', items: 3 })]);
    sent[0]?.resolve([1, 2, 3].map((i) => ({ i, outcome: `answer ${i}` })));
    expect(await Promise.all(later)).toEqual(['answer 1', 'answer 2', 'answer 3']);
  });

  it('sends at most VERIFY_BATCH_MAX in one statement', async () => {
    const { sent, alone, verify } = setup();
    for (let i = 0; i < VERIFY_IN_FLIGHT + VERIFY_BATCH_MAX + 1; i++) void verify(verifyAttemptInput(), 0);
    alone[0]?.('right');
    await Promise.resolve();
    await Promise.resolve();
    expect(sent.map((s) => s.items)).toEqual([VERIFY_BATCH_MAX]);
  });

  it('does not let statements that hang hold up the verifies after them', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { sent, alone, verify } = setup();
    for (let i = 0; i < VERIFY_IN_FLIGHT; i++) void verify(verifyAttemptInput(), 0);
    void verify(verifyAttemptInput(), 0);
    expect(alone).toHaveLength(VERIFY_IN_FLIGHT);
    expect(sent).toHaveLength(0);
    vi.setSystemTime(Date.now() + VERIFY_SLOT_MS + 1);
    // The next verify finds every place taken by a statement older than VERIFY_SLOT_MS: it and the
    // one waiting go out now.
    void verify(verifyAttemptInput(), 0);
    expect(sent.map((s) => s.items)).toEqual([2]);
  });
});
