import { describe, expect, it, vi } from 'vitest';
import { createKeys } from '../../src/challenge.js';
import { TwoFactorError } from '../../src/errors.js';
import { parseOptions } from '../../src/options.js';
import { sameNumber } from '../../src/routes/load.js';
import { guardStore, sharedDeadlines } from '../../src/stores/guarded-store.js';
import {
  decodeExpiry,
  EXPIRY_CHARS,
  encodeExpiry,
  entryOf,
  entryValue,
  flat,
} from '../../src/stores/memory-entries.js';
import { memoryStore, settlesAtOnce } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { memoryTransport } from '../../src/transports/memory.js';
import { RIGHT, VERIFY_KEYS, VERIFY_NOW, verifyInput } from '../helpers/verify-attempt.js';
import { challengeRecord } from '../helpers/verify-attempt-contract.js';

describe('memory store entries (expiry + value in one flat string)', () => {
  it('round-trips expiry times, rounding up, within 42 bits', () => {
    for (const t of [0, 1, 63, 64, 1_796_042_225_469, 2 ** 42 - 1]) {
      const text = encodeExpiry(t);
      expect(text).toHaveLength(EXPIRY_CHARS);
      expect(text).toMatch(/^[0-o]{7}$/);
      expect(decodeExpiry(text)).toBe(t);
    }
    expect(decodeExpiry(encodeExpiry(1.2))).toBe(2);
    expect(decodeExpiry(encodeExpiry(-5))).toBe(0);
    expect(decodeExpiry(encodeExpiry(2 ** 50))).toBe(2 ** 42 - 1);
  });

  it('keeps the value exactly, ASCII or not', () => {
    for (const value of ['', '1', '["u1","x",1796042225469]', 'ünï•cødé', '\u0000\uffff']) {
      const entry = entryOf(value, 1_000_000);
      expect(entryValue(entry)).toBe(value);
      expect(decodeExpiry(entry)).toBe(1_000_000);
    }
    expect(flat(`a${'b'.repeat(20)}`)).toBe(`a${'b'.repeat(20)}`);
  });
});

describe('memoryStore() without lru-cache', () => {
  it('drops an entry at its expiry, keeps an increment’s TTL from creation', async () => {
    let time = 5_000;
    const store = memoryStore({ now: () => time });
    await store.set('k', 'v', 100);
    expect(await store.increment('n', 100)).toBe(1);
    time += 50;
    expect(await store.increment('n', 100_000)).toBe(2);
    expect(await store.get('k')).toBe('v');
    time += 50;
    expect(await store.get('k')).toBeUndefined();
    expect(await store.get('n')).toBeUndefined();
    expect(await store.increment('n', 100)).toBe(1);
  });

  it('consumes once, compares and sets, and counts its entries', async () => {
    const store = memoryStore({ now: () => 1_000 });
    await store.set('c', 'x', 60_000);
    expect(store.size).toBe(1);
    expect(await store.compareAndSet('c', 'y', 'z', 60_000)).toBe(false);
    expect(await store.compareAndSet('c', 'x', 'z', 60_000)).toBe(true);
    expect(await store.compareAndSet('new', undefined, 'n', 60_000)).toBe(true);
    expect(await store.getMany(['c', 'new', 'none'])).toEqual(['z', 'n', undefined]);
    expect(await store.consume('c')).toBe('z');
    expect(await store.consume('c')).toBeUndefined();
    await store.delete('new');
    expect(store.size).toBe(0);
  });

  it("keeps a challenge's record and send state in one entry, the attempt counter apart, each with its own life", async () => {
    let time = 1_000;
    const store = memoryStore({ max: 3, now: () => time });
    const id = 'AbCdEfGhIjKlMnOpQrStUvWx{Ab_}';
    await store.set(`c:${id}`, '["u1",";,|",1]', 60_000);
    await store.set(`s:${id}`, '[1,2,"sms"]', 30_000);
    expect(await store.increment(`a:${id}`, 10_000)).toBe(1);
    expect(await store.increment(`a:${id}`, 10_000)).toBe(2);
    await store.set('other', 'x', 60_000);
    expect(store.size).toBe(3);
    expect(await store.getMany([`c:${id}`, `s:${id}`, `a:${id}`])).toEqual([
      '["u1",";,|",1]',
      '[1,2,"sms"]',
      '2',
    ]);
    time += 10_000; // the attempt counter expires first, then the send state
    expect(await store.getMany([`c:${id}`, `s:${id}`, `a:${id}`])).toEqual([
      '["u1",";,|",1]',
      '[1,2,"sms"]',
      undefined,
    ]);
    time += 20_000;
    expect(await store.get(`s:${id}`)).toBeUndefined();
    expect(await store.consume(`c:${id}`)).toBe('["u1",";,|",1]');
    expect(await store.get(`c:${id}`)).toBeUndefined();
    expect(store.size).toBe(1);
    await store.set(`s:${id}`, 'late', 60_000); // a late write of the state alone
    expect(await store.getMany([`c:${id}`, `s:${id}`])).toEqual([undefined, 'late']);
    await store.delete(`s:${id}`);
    expect(store.size).toBe(1);
  });

  it("sweeps a challenge's expired parts when full, and the entry once all are gone", async () => {
    let time = 1_000;
    const store = memoryStore({ max: 2, now: () => time });
    await store.set('c:one', 'record', 10_000);
    await store.set('s:one', 'state', 60_000);
    await store.set('c:two', 'record', 10_000);
    time += 10_000;
    await store.set('third', 'x', 60_000); // full: the sweep drops c:two's entry, keeps one's state
    expect(store.size).toBe(2);
    expect(await store.getMany(['c:one', 's:one', 'c:two', 'third'])).toEqual([
      undefined,
      'state',
      undefined,
      'x',
    ]);
  });

  it('evicts only evictable keys, least recently used first', async () => {
    const store = memoryStore({ max: 3, now: () => 1_000, evictable: (k) => k.startsWith('ip:') });
    await store.set('ip:a', '1', 60_000);
    await store.set('ip:b', '1', 60_000);
    await store.get('ip:a'); // a is now more recent than b
    await store.set('keep', '1', 60_000);
    await store.set('ip:c', '1', 60_000); // evicts ip:b
    expect(await store.getMany(['ip:a', 'ip:b', 'ip:c', 'keep'])).toEqual(['1', undefined, '1', '1']);
  });
});

describe('store calls without timers where the store cannot hang', () => {
  it('knows a pristine memoryStore(), and not a copy or one with a method replaced', () => {
    const store = memoryStore();
    expect(settlesAtOnce(store)).toBe(true);
    expect(settlesAtOnce({ ...store } as Store)).toBe(false);
    const patched = memoryStore();
    patched.get = () => new Promise(() => {});
    expect(settlesAtOnce(patched)).toBe(false);
  });

  it('starts no timer for the memory store, and still times out a patched one that hangs', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const guarded = guardStore(memoryStore(), 50);
      await guarded.set('a', '1', 1000);
      expect(await guarded.get('a')).toBe('1');
      expect(spy).not.toHaveBeenCalled();
      const hanging = memoryStore();
      hanging.get = () => new Promise(() => {});
      await expect(guardStore(hanging, 30).get('a')).rejects.toMatchObject({
        code: 'ERR_2FA_STORE_UNAVAILABLE',
      });
    } finally {
      spy.mockRestore();
    }
  });

  it('turns a memory store’s own refusal and a thrown error into ERR_2FA_STORE_UNAVAILABLE', async () => {
    const full = guardStore(memoryStore({ max: 1 }), 50);
    await full.set('a', '1', 1000);
    await expect(full.set('b', '1', 1000)).rejects.toBeInstanceOf(TwoFactorError);
    const throwing = {
      ...memoryStore(),
      get: () => {
        throw new Error('boom');
      },
    } as unknown as Store;
    await expect(guardStore(throwing, 50).get('a')).rejects.toMatchObject({
      code: 'ERR_2FA_STORE_UNAVAILABLE',
    });
  });
});

describe("a memory store's verifyAttempt through the guard", () => {
  it('answers as the store does, and its refusal when full as ERR_2FA_STORE_UNAVAILABLE, without a timer', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout');
    try {
      const now = () => VERIFY_NOW;
      const store = memoryStore({ now });
      await store.set(VERIFY_KEYS.challenge, challengeRecord(), 60_000);
      const verifyAttempt = guardStore(store, 50).verifyAttempt;
      expect((await verifyAttempt?.(verifyInput({ deadline: VERIFY_NOW + 50 })))?.outcome).toBe('wrong');
      expect((await verifyAttempt?.(verifyInput({ hashes: [RIGHT] })))?.outcome).toBe('right');
      // One entry of room: the wrong code's counters do not fit, and nothing is counted.
      const full = memoryStore({ now, max: 1 });
      await full.set(VERIFY_KEYS.challenge, challengeRecord(), 60_000);
      await expect(guardStore(full, 50).verifyAttempt?.(verifyInput())).rejects.toMatchObject({
        code: 'ERR_2FA_STORE_UNAVAILABLE',
      });
      expect(await full.get(VERIFY_KEYS.attempts)).toBeUndefined();
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('sharedDeadlines', () => {
  it('fires each call no later than its timeout, one timer for calls in the same window', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const spy = vi.spyOn(globalThis, 'setTimeout');
      const deadline = sharedDeadlines(1000);
      const fired: number[] = [];
      vi.setSystemTime(10_000); // the start of a 10 ms window
      const cancel = deadline(() => fired.push(1));
      deadline(() => fired.push(2));
      deadline(() => fired.push(3));
      expect(spy).toHaveBeenCalledTimes(1);
      cancel();
      vi.advanceTimersByTime(999);
      expect(fired).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(fired).toEqual([2, 3]);
      vi.setSystemTime(20_005); // mid-window: fires at most 1000 ms later, at least 990 ms later
      deadline(() => fired.push(4));
      vi.advanceTimersByTime(989);
      expect(fired).toEqual([2, 3]);
      vi.advanceTimersByTime(6);
      expect(fired).toEqual([2, 3, 4]);
      spy.mockRestore();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('sameNumber (the number on file against the challenge’s)', () => {
  const config = parseOptions({
    secret: 'a-test-secret-that-is-long-enough-0123456789',
    getUser: () => null,
    transport: memoryTransport(),
    allowedCountries: ['BE'],
    warnings: { memoryStore: false },
  });
  const rt = { keys: createKeys(config) } as never;
  const key = createKeys(config).phone('+32470123401');

  it('matches E.164 as it is, and other ways of writing the same number through the parser', () => {
    expect(sameNumber(rt, key, '+32470123401')).toBe(true);
    expect(sameNumber(rt, key, '+32 470 12 34 01')).toBe(true);
    expect(sameNumber(rt, key, ' +32470123401 ')).toBe(true);
  });

  it('refuses another number, an invalid one and anything that is not a string', () => {
    expect(sameNumber(rt, key, '+32470123402')).toBe(false);
    expect(sameNumber(rt, key, '+3247012340')).toBe(false);
    expect(sameNumber(rt, key, 'nonsense')).toBe(false);
    expect(sameNumber(rt, key, undefined)).toBe(false);
    expect(sameNumber(rt, key, 32470123401)).toBe(false);
  });
});
