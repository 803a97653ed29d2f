import { describe, expect, it } from 'vitest';
import { ClaimCache } from '../../src/claim-cache.js';
import type { CheckedUser } from '../../src/options.js';
import type { VerifiedClaim } from '../../src/verified-claim.js';

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const claimOf = (n: number): VerifiedClaim => ({
  method: (['sms', 'voice', 'recovery', 'device'] as const)[n % 4] as VerifiedClaim['method'],
  verifiedAt: NOW + n,
  expiresAt: NOW + 3_600_000 + n,
});
const user = (n: number): CheckedUser => ({ id: `u${n}`, phone: '+32470000000', sessionId: `s${n}` });
/** A slot that holds no claim: no key, and none of the strings or the claim object it held. */
const EMPTIED = { key: -1, value: '', id: '', session: '', version: '', claim: undefined };
/** Caches claim `n` for user `n` under key `n` (value `v<n>`); answers its slot. */
const add = (cache: ClaimCache, n: number, key = n) =>
  cache.add(key, `v${n}`, `u${n}`, `s${n}`, '', claimOf(n));
/** The claim of value `v<n>` under key `n` for user `n`, as readVerified reads it, or null. */
const read = (cache: ClaimCache, n: number, key = n) => {
  const slot = cache.find(key, `v${n}`);
  return slot === undefined || !cache.boundTo(slot, user(n)) ? null : cache.claimAt(slot);
};

describe('ClaimCache', () => {
  it("gives a reused slot's new claim, never the claim object its old holder built", () => {
    const cache = new ClaimCache(4);
    add(cache, 0);
    expect(read(cache, 0)).toEqual(claimOf(0)); // slot 0's claim object built
    for (let n = 1; n <= 4; n++) add(cache, n); // the ring comes round: claim 4 takes slot 0
    expect(read(cache, 0)).toBeNull();
    expect(read(cache, 4)).toEqual(claimOf(4));
  });

  it('answers each claim as cached: method, times, and one object per slot', () => {
    const cache = new ClaimCache(8);
    for (let n = 0; n < 4; n++) add(cache, n);
    for (let n = 0; n < 4; n++) {
      expect(read(cache, n)).toEqual(claimOf(n));
      expect(read(cache, n)).toBe(read(cache, n));
    }
    expect(cache.size).toBe(4);
  });

  it('holds at most max claims; a cycle of more browsers than slots misses every time, oldest out first', () => {
    const cache = new ClaimCache(10);
    for (let round = 0; round < 3; round++) {
      for (let n = 0; n < 20; n++) {
        expect(read(cache, n), `round ${round}, browser ${n}`).toBeNull();
        add(cache, n);
        expect(cache.size).toBeLessThanOrEqual(10);
      }
    }
    // The last 10 are in, the 10 before them out.
    for (let n = 10; n < 20; n++) expect(read(cache, n)).toEqual(claimOf(n));
    for (let n = 0; n < 10; n++) expect(read(cache, n)).toBeNull();
  });

  it('keeps what is used: a claim read while in the older half moves to the newest slot', () => {
    const cache = new ClaimCache(10);
    add(cache, 0);
    for (let n = 1; n < 1000; n++) {
      add(cache, n);
      expect(read(cache, 0), `after ${n}`).toEqual(claimOf(0));
      expect(cache.size).toBeLessThanOrEqual(10);
    }
    expect(read(cache, 999)).toEqual(claimOf(999));
    expect(read(cache, 1)).toBeNull();
  });

  it('moves the oldest claim too (the next to be overwritten) and keeps the others right', () => {
    const cache = new ClaimCache(4);
    for (let n = 0; n < 4; n++) add(cache, n);
    // Claim 0 is in the slot the next add takes.
    expect(read(cache, 0)).toEqual(claimOf(0));
    add(cache, 4);
    expect(read(cache, 0)).toEqual(claimOf(0));
    expect(read(cache, 1)).toBeNull();
    for (const n of [2, 3, 4]) expect(read(cache, n)).toEqual(claimOf(n));
  });

  it('holds one claim per key: a later value takes the key over, and the earlier one misses', () => {
    const cache = new ClaimCache(8);
    add(cache, 1, 42);
    add(cache, 2, 42);
    expect(read(cache, 1, 42)).toBeNull();
    expect(read(cache, 2, 42)).toEqual(claimOf(2));
    // The slot that held the first value, overwritten later, leaves the key to the second.
    for (let n = 100; n < 107; n++) add(cache, n);
    expect(read(cache, 2, 42)).toEqual(claimOf(2));
    expect(cache.find(42, 'v2x')).toBeUndefined();
    expect(cache.find(43, 'v2')).toBeUndefined();
  });

  it('empties the slot a claim leaves when it moves to the newest slot: no cookie value, id or session kept', () => {
    const cache = new ClaimCache(10);
    const first = add(cache, 0);
    expect(read(cache, 0)).toEqual(claimOf(0)); // its claim object made
    for (let n = 1; n <= 5; n++) add(cache, n); // claim 0 now in the older half: the next read moves it
    const moved = cache.find(0, 'v0');
    expect(moved).not.toBe(first);
    expect(moved).toMatchObject({ key: 0, value: 'v0', id: 'u0', session: 's0' });
    expect(read(cache, 0)).toEqual(claimOf(0));
    expect(first).toMatchObject(EMPTIED);
    expect(cache.size).toBe(6);
  });

  it('empties the slot whose key a later value takes over', () => {
    const cache = new ClaimCache(8);
    const earlier = cache.add(42, 'value-a', 'user-a', 'session-a', 3, claimOf(1));
    const later = cache.add(42, 'value-b', 'user-b', 'session-b', 4, claimOf(2));
    expect(earlier).toMatchObject(EMPTIED);
    expect(later).toMatchObject({
      key: 42,
      value: 'value-b',
      id: 'user-b',
      session: 'session-b',
      version: 4,
    });
    expect(cache.size).toBe(1);
    // The emptied slot is reused in its turn (nothing of the key to drop), then the later value's.
    for (let n = 100; n < 107; n++) add(cache, n); // slots 2 to 7, then 0
    expect(earlier).toMatchObject({ key: 106, value: 'v106', id: 'u106' });
    expect(cache.size).toBe(8);
    expect(read(cache, 106)).toEqual(claimOf(106));
    add(cache, 107); // slot 1, the oldest: the later value leaves
    expect(cache.find(42, 'value-b')).toBeUndefined();
    expect(cache.size).toBe(8);
  });

  it('binds as bindingOf does: id, session (none is empty) and version (7 and "7" alike)', () => {
    const cache = new ClaimCache(4);
    const slot = cache.add(1, 'v', 'u1', 's1', 7, claimOf(1));
    const alice: CheckedUser = { id: 'u1', phone: '+32470000000', sessionId: 's1', version: 7 };
    expect(cache.boundTo(slot, alice)).toBe(true);
    expect(cache.boundTo(slot, { ...alice, version: '7' })).toBe(true);
    expect(cache.boundTo(slot, { ...alice, version: 8 })).toBe(false);
    expect(cache.boundTo(slot, { ...alice, version: undefined })).toBe(false);
    expect(cache.boundTo(slot, { ...alice, id: 'u2' })).toBe(false);
    expect(cache.boundTo(slot, { ...alice, sessionId: 's2' })).toBe(false);
    expect(cache.boundTo(slot, { ...alice, sessionId: undefined })).toBe(false);
    const none = cache.add(2, 'w', 'u1', '', '', claimOf(2));
    expect(cache.boundTo(none, { id: 'u1', phone: '+32470000000' })).toBe(true);
    expect(cache.boundTo(none, { id: 'u1', phone: '+32470000000', sessionId: '' })).toBe(true);
    expect(cache.boundTo(none, { id: 'u1', phone: '+32470000000', version: '' })).toBe(true);
    expect(cache.boundTo(none, { id: 'u1', phone: '+32470000000', sessionId: 's' })).toBe(false);
  });

  it('refuses a max below 2', () => {
    expect(() => new ClaimCache(1)).toThrow(TypeError);
  });
});
