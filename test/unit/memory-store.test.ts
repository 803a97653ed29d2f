import { describe, expect, it } from 'vitest';
import { memoryStore, settlesAtOnce } from '../../src/stores/memory-store.js';
import { checkStore } from '../../src/testing/index.js';
import { runStoreContract } from '../helpers/store-contract.js';

runStoreContract('memoryStore()', async () => {
  let time = 1_000_000;
  return {
    store: memoryStore({ now: () => time }),
    advance: (ms) => {
      time += ms;
    },
  };
});

describe('memoryStore()', () => {
  it('has its own verifyAttempt, settled within the call (no timeout needed)', async () => {
    const store = memoryStore();
    expect(store.verifyAttempt).toBeTypeOf('function');
    expect(settlesAtOnce(store)).toBe(true);
    await checkStore(() => memoryStore());
  });

  it('throws at construction for a max that is not a positive integer', () => {
    expect(() => memoryStore({ max: 0 })).toThrow(/`max` must be a positive integer/);
    expect(() => memoryStore({ max: 1.5 })).toThrow(/`max` must be a positive integer/);
  });

  describe('when it is full of live entries', () => {
    it('refuses a new key instead of evicting a live one (lockout counters cannot be flushed)', async () => {
      const store = memoryStore({ max: 3, now: () => 1_000_000 });
      await store.set('a', '1', 60_000);
      await store.set('b', '1', 60_000);
      await store.increment('fails:victim', 60_000);
      await expect(store.set('d', '1', 60_000)).rejects.toMatchObject({ code: 'ERR_2FA_STORE_UNAVAILABLE' });
      await expect(store.increment('e', 60_000)).rejects.toMatchObject({ code: 'ERR_2FA_STORE_UNAVAILABLE' });
      expect(await store.get('fails:victim')).toBe('1');
      // Existing keys still update.
      expect(await store.increment('fails:victim', 60_000)).toBe(2);
    });

    it('makes room by sweeping expired entries', async () => {
      let time = 1_000_000; // lru-cache treats a start time of 0 as 'no TTL'
      const store = memoryStore({ max: 2, now: () => time });
      await store.set('short', '1', 1_000);
      await store.set('long', '1', 60_000);
      time += 5_000;
      await store.set('new', '1', 60_000);
      expect(await store.get('new')).toBe('1');
      expect(await store.get('long')).toBe('1');
    });
  });
});

describe('memoryStore({ evictable })', () => {
  it('evicts the least recently used evictable key when full, and keeps every other live key', async () => {
    const store = memoryStore({ max: 3, now: () => 1_000_000, evictable: (key) => key.startsWith('ip:') });
    await store.increment('ip:a', 60_000);
    await store.increment('ip:b', 60_000);
    await store.increment('fails:victim', 60_000);
    await store.increment('ip:c', 60_000); // evicts ip:a, the least recently used evictable key
    expect(await store.get('ip:a')).toBeUndefined();
    expect(await store.get('ip:b')).toBe('1');
    expect(await store.get('fails:victim')).toBe('1');
    await store.increment('ip:d', 60_000); // evicts ip:b
    await store.set('challenge', 'x', 60_000); // evicts ip:c
    await store.set('another', 'x', 60_000); // evicts ip:d, the last evictable key
    await expect(store.set('third', 'x', 60_000)).rejects.toMatchObject({
      code: 'ERR_2FA_STORE_UNAVAILABLE',
    });
    expect(await store.get('fails:victim')).toBe('1');
    expect(await store.get('challenge')).toBe('x');
  });

  it('answers 503 with the generic message when full, naming nothing internal', async () => {
    const store = memoryStore({ max: 1, now: () => 1_000_000 });
    await store.set('a', '1', 60_000);
    await expect(store.set('b', '1', 60_000)).rejects.toThrow(
      'Verification is unavailable. Try again in a moment.',
    );
  });
});
