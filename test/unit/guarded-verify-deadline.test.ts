/**
 * Security F-08 at the guard: a one-call verify that runs after the app answered 503 must change
 * nothing, so the deadline the store is given must not be later than the moment the guarded call
 * times out. The route sends now + storeTimeoutMs; the guard's shared timer fires at its window's
 * start + storeTimeoutMs, up to one window (10 ms) earlier.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { guardStore } from '../../src/stores/guarded-store.js';
import type { Store } from '../../src/stores/store.js';
import { verifyAttemptInput } from '../helpers/verify-attempt.js';

const input = verifyAttemptInput;

/** A store whose verifyAttempt never answers (a hung server), keeping the deadlines it was given. */
function hangingStore() {
  const given: (number | undefined)[] = [];
  const store: Store = {
    get: async () => undefined,
    set: async () => {},
    delete: async () => {},
    consume: async () => undefined,
    increment: async () => 1,
    verifyAttempt: (attempt) => {
      given.push(attempt.deadline);
      return new Promise(() => {});
    },
  };
  return { store, given };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('guardStore().verifyAttempt: the deadline handed to the store', () => {
  it('is no later than the moment the guarded call answers 503, mid-window too', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 1_000_007 });
    const { store, given } = hangingStore();
    const verifyAttempt = guardStore(store, 100).verifyAttempt;
    if (!verifyAttempt) throw new Error('guardStore dropped the store’s verifyAttempt');
    let timedOutAt = Number.NaN;
    const settled = verifyAttempt(input(Date.now() + 100)).catch((error: unknown) => {
      timedOutAt = Date.now();
      return error;
    });
    await vi.advanceTimersByTimeAsync(200);
    expect(await settled).toMatchObject({ code: 'ERR_2FA_STORE_UNAVAILABLE' });
    expect(timedOutAt).toBe(1_000_100); // the window began at 1_000_000
    expect(given).toHaveLength(1);
    expect(given[0]).toBeLessThan(timedOutAt);
  });

  it('passes no deadline when the call has none', async () => {
    const { store, given } = hangingStore();
    void guardStore(store, 100)
      .verifyAttempt?.(input())
      .catch(() => {});
    expect(given).toEqual([undefined]);
  });
});
