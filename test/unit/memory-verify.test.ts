import { describe, expect, it, vi } from 'vitest';
import { memoryStore } from '../../src/stores/memory-store.js';
import { EntryTable } from '../../src/stores/memory-table.js';
import type { VerifyAttemptInput } from '../../src/stores/store.js';
import { verifyInput, withVerifyAttempt } from '../helpers/verify-attempt.js';
import { challengeRecord } from '../helpers/verify-attempt-contract.js';

// memoryStore()'s verifyAttempt reads each entry once and writes the counters from what it read
// (a speed change). Against the reference written over the five generic methods
// (test/helpers/verify-attempt.ts), on the package's key layout (a challenge's record and state in
// one shared entry, its attempt counter apart), every answer and every key afterwards must be the same, except that
// a refused attempt may leave a used-up counter as it is (store.ts allows it).

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const RIGHT = 'right-hash-aaaaaaaaaaaa';

const keysOf = (user: number, challenge: number) => ({
  lock: `v:{u${user}}rest`,
  challenge: `c:challenge${challenge}{u${user}}`,
  state: `s:challenge${challenge}{u${user}}`,
  attempts: `a:challenge${challenge}{u${user}}`,
  failures: `f:{u${user}}rest`,
  failedAt: `fa:{u${user}}rest`,
});

const input = (keys: VerifyAttemptInput['keys'], over: Partial<VerifyAttemptInput> = {}) =>
  verifyInput({
    keys,
    maxAttempts: 4,
    lockout: { threshold: 6, baseMs: 1000, maxDelayMs: 3_600_000, hardLimit: 9 },
    ...over,
  });

/** A small deterministic generator, so a failure can be replayed. */
function random(seed: number) {
  let s = seed;
  return (n: number) => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return (s >>> 8) % n;
  };
}

describe("memoryStore()'s verifyAttempt", () => {
  // Also with the challenges' shared entries and the failure counts evictable: they then live in the
  // LRU Map instead of the table (a right code deletes the shared entry from whichever holds it).
  const evictables = {
    default: undefined,
    'challenges and failures evictable': (key: string) => /^(c:|f)/.test(key),
  };
  it.each(Object.entries(evictables))(
    'answers and leaves the store as the generic reference does, over 3,000 random steps (%s)',
    async (_, evictable) => {
      const seen = new Set<string>();
      for (const seed of [1, 2, 3]) {
        let time = NOW;
        const clock = () => time;
        const fused = memoryStore({ now: clock, evictable });
        const reference = withVerifyAttempt(memoryStore({ now: clock, evictable }));
        const pick = random(seed);
        const all: string[] = [];
        for (let step = 0; step < 1000; step++) {
          const user = pick(2);
          const keys = keysOf(user, pick(3));
          all.push(...Object.values(keys));
          const action = pick(20);
          const same = async (fn: (store: typeof fused) => Promise<unknown>) => {
            await fn(fused);
            await fn(reference);
          };
          if (action === 0) {
            const record = challengeRecord({ expiresAt: time + 1000 + pick(20_000) });
            const ttl = 5000 + pick(20_000);
            await same((s) => s.set(keys.challenge, record, ttl));
            const state = pick(2) ? `["state",${step}]` : undefined;
            const stateTtl = ttl - pick(3000);
            if (state) await same((s) => s.set(keys.state, state, stateTtl));
          } else if (action === 1) {
            const ttl = 100 + pick(2000);
            await same((s) => s.set(keys.lock, '1', ttl));
          } else if (action === 2) {
            time += pick(3000);
          } else if (action === 3) {
            await same((s) => s.delete(keys.lock));
          } else {
            const hashes = pick(4) === 0 ? ['other-hash', RIGHT] : ['wrong-hash-bbbbbbbbbbbb'];
            const attempt = input(keys, {
              hashes,
              now: time,
              userId: pick(15) === 0 ? 'u2' : 'u1',
            });
            const mine = await fused.verifyAttempt(attempt);
            const theirs = await reference.verifyAttempt(attempt);
            seen.add(theirs.outcome);
            const { record, ...answer } = mine as typeof mine & { record?: unknown };
            expect(answer, `seed ${seed} step ${step}`).toEqual(theirs);
            if (mine.outcome === 'wrong' || mine.outcome === 'right') {
              expect(record).toEqual(JSON.parse(mine.challenge));
            }
          }
          for (const key of new Set(all)) {
            const a = await fused.get(key);
            const b = await reference.get(key);
            // A used-up counter: the reference counts every refused attempt, memoryStore() stops at the limit.
            if (key.startsWith('a:') && a !== b && Number(a) === 4 && Number(b) > 4) continue;
            expect(a, `seed ${seed} step ${step} ${key}`).toBe(b);
          }
        }
      }
      expect([...seen].sort()).toEqual([
        'busy',
        'exhausted',
        'expired',
        'locked',
        'missing',
        'right',
        'wrong',
      ]);
    },
  );

  it('writes nothing for an attempt refused after the last one, and still refuses the right code', async () => {
    const store = memoryStore({ now: () => NOW });
    const keys = keysOf(1, 1);
    const record = challengeRecord();
    await store.set(keys.challenge, record, 60_000);
    for (let i = 1; i <= 4; i++) expect((await store.verifyAttempt(input(keys))).outcome).toBe('wrong');
    const before = await store.getMany(Object.values(keys));
    expect(await store.verifyAttempt(input(keys, { hashes: [RIGHT] }))).toEqual({ outcome: 'exhausted' });
    expect(await store.getMany(Object.values(keys))).toEqual(before);
    expect(await store.get(keys.attempts)).toBe('4');
    expect(await store.get(keys.challenge)).toBe(record);
  });

  it("deletes a right code's challenge, state, attempts and failures, and nothing of another challenge", async () => {
    const store = memoryStore({ now: () => NOW });
    const keys = keysOf(1, 1);
    const other = keysOf(1, 2);
    for (const k of [keys, other]) {
      await store.set(k.challenge, challengeRecord(), 60_000);
      await store.set(k.state, '["state"]', 60_000);
    }
    expect((await store.verifyAttempt(input(keys))).outcome).toBe('wrong');
    expect(store.size).toBe(5); // two shared entries, the attempt counter, the failure count and its time
    expect((await store.verifyAttempt(input(keys, { hashes: [RIGHT] }))).outcome).toBe('right');
    expect(await store.getMany(Object.values(keys))).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(await store.getMany([other.challenge, other.state])).toEqual([challengeRecord(), '["state"]']);
    expect(store.size).toBe(1);
  });

  it('hands back the record it parsed, equal to the stored one, on a wrong and on the right code', async () => {
    const store = memoryStore({ now: () => NOW });
    const keys = keysOf(1, 1);
    const record = challengeRecord();
    await store.set(keys.challenge, record, 60_000);
    await store.set(keys.state, '["state"]', 60_000);
    const wrong = await store.verifyAttempt(input(keys));
    expect(wrong).toEqual({
      outcome: 'wrong',
      challenge: record,
      record: JSON.parse(record),
      attempts: 1,
      failures: 1,
    });
    const right = await store.verifyAttempt(input(keys, { hashes: [RIGHT] }));
    expect(right).toEqual({
      outcome: 'right',
      challenge: record,
      record: JSON.parse(record),
      state: '["state"]',
    });
  });
});

describe("memoryStore()'s wrong code and the challenge's shared entry", () => {
  /** Every (key, entry) the store's table is given while `run` runs. */
  async function tableWrites(run: () => Promise<unknown>) {
    const writes: [string, string][] = [];
    const spy = vi.spyOn(EntryTable.prototype, 'set').mockImplementation(function (
      this: EntryTable,
      ...args
    ) {
      writes.push([args[0], args[1]]);
      return original.apply(this, args);
    });
    try {
      await run();
    } finally {
      spy.mockRestore();
    }
    return writes;
  }
  const original = EntryTable.prototype.set;

  it('leaves the shared record-and-state entry unwritten: a wrong code writes only small counters', async () => {
    const store = memoryStore({ now: () => NOW });
    const keys = keysOf(1, 1);
    await store.set(keys.challenge, challengeRecord(), 60_000);
    await store.set(keys.state, '["state"]', 60_000);
    for (let i = 1; i <= 3; i++) {
      const writes = await tableWrites(() => store.verifyAttempt(input(keys)));
      expect(writes.map(([key]) => key)).not.toContain(keys.challenge);
      // The attempt counter, the failure count and its time: each under 60 characters (key + entry).
      for (const [key, entry] of writes) expect(key.length + entry.length).toBeLessThan(60);
    }
    expect(await store.getMany([keys.challenge, keys.state, keys.attempts])).toEqual([
      challengeRecord(),
      '["state"]',
      '3',
    ]);
  });

  it("lets the counter apart expire with the challenge, and keeps it across a resend's state write", async () => {
    let time = NOW;
    const store = memoryStore({ now: () => time });
    const keys = keysOf(1, 1);
    const other = keysOf(1, 2);
    await store.set(keys.challenge, challengeRecord({ expiresAt: NOW + 30_000 }), 60_000);
    await store.set(keys.state, '["state",1]', 60_000);
    await store.set(other.challenge, challengeRecord(), 600_000);
    expect((await store.verifyAttempt(input(keys, { now: time }))).outcome).toBe('wrong');
    // A resend writes the state again: as before (and as in Redis), the count of wrong codes stays.
    await store.set(keys.state, '["state",2]', 60_000);
    expect((await store.verifyAttempt(input(keys, { now: time }))).outcome).toBe('wrong');
    expect(await store.getMany([keys.attempts, keys.state])).toEqual(['2', '["state",2]']);
    expect(store.size).toBe(5); // two shared entries, the counter, the failure count and its time
    time = NOW + 30_000; // the record's expiresAt: the counter's TTL ends with it
    expect(await store.get(keys.attempts)).toBeUndefined();
    expect(await store.get(keys.challenge)).toBeDefined(); // its own TTL (60 s) is longer
    expect(await store.verifyAttempt(input(keys, { now: time }))).toEqual({ outcome: 'expired' });
    expect(store.size).toBe(4); // the counter was dropped when read expired
  });

  it.each([4, 5, 6])(
    'answers a store without room for the three counters (max %i, 4 held) the same for a wrong and a right code',
    async (max) => {
      // A first wrong code makes three keys (the attempt counter, the failure count and its time).
      // In a store without room for all three, a wrong code must not come back as the 503 while the
      // right code passes (an answer that tells them apart with an attempt or a failure left
      // uncounted, as long as the store stays full): both are refused before the compare.
      const store = memoryStore({ now: () => NOW, max });
      const keys = keysOf(1, 1);
      await store.set(keys.challenge, challengeRecord(), 60_000);
      await store.set(keys.state, '["state"]', 60_000);
      for (let i = 0; i < 3; i++) await store.set(`x:filler${i}`, '1', 60_000);
      expect(store.size).toBe(4);
      const answers = [];
      for (const hashes of [['wrong-hash-bbbbbbbbbbbb'], [RIGHT]]) {
        answers.push(
          await store.verifyAttempt(input(keys, { hashes })).then(
            (result) => result.outcome,
            (error: { code?: string }) => error.code,
          ),
        );
      }
      expect(answers).toEqual(['ERR_2FA_STORE_UNAVAILABLE', 'ERR_2FA_STORE_UNAVAILABLE']);
      expect(await store.getMany([keys.attempts, keys.failures, keys.failedAt])).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
    },
  );

  it('counts a wrong code in full once the store has room for its three counters', async () => {
    const store = memoryStore({ now: () => NOW, max: 7 });
    const keys = keysOf(1, 1);
    await store.set(keys.challenge, challengeRecord(), 60_000);
    await store.set(keys.state, '["state"]', 60_000);
    for (let i = 0; i < 3; i++) await store.set(`x:filler${i}`, '1', 60_000);
    expect((await store.verifyAttempt(input(keys))).outcome).toBe('wrong');
    expect(await store.getMany([keys.attempts, keys.failures, keys.failedAt])).toEqual([
      '1',
      '1',
      String(NOW),
    ]);
    expect(store.size).toBe(7);
    // Full now, but the counters exist: the next wrong code needs no room and is counted.
    expect((await store.verifyAttempt(input(keys))).outcome).toBe('wrong');
    expect(await store.get(keys.attempts)).toBe('2');
  });

  it('counts to the limit with the counter apart, and a right code then removes all of it', async () => {
    const store = memoryStore({ now: () => NOW });
    const keys = keysOf(1, 1);
    await store.set(keys.challenge, challengeRecord(), 60_000);
    await store.set(keys.state, '["state"]', 60_000);
    expect(store.size).toBe(1); // a pending challenge with no wrong code: one entry, as before
    for (let i = 1; i <= 3; i++) {
      expect(await store.verifyAttempt(input(keys))).toMatchObject({ outcome: 'wrong', attempts: i });
    }
    expect((await store.verifyAttempt(input(keys, { hashes: [RIGHT] }))).outcome).toBe('right');
    expect(await store.getMany(Object.values(keys))).toEqual(Object.values(keys).map(() => undefined));
    expect(store.size).toBe(0);
  });
});
