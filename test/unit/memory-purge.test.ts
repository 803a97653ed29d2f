import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/index.js';
import { EntryTable } from '../../src/stores/memory-table.js';
import { sweptBy, tableOf } from '../helpers/memory-table.js';
import { random } from '../helpers/random.js';

/*
 * A full memory store purges its stale entries a slice at a time (memory-store.ts `makeRoomForNew`,
 * memory-table.ts `sweepSome`): a write that needs room sweeps on from where the last sweep ended
 * until it has the room, and refuses only once it has read the whole store (or spent the allowance
 * of one lap a second). `swept` counts the slots the purge read, around each call: no timing.
 */

/** A store's purge reads whole laps of at most this many slots per second (memory-store.ts). */
const PURGE_INTERVAL_MS = 1000;

describe('memoryStore() purging a full store a slice at a time', () => {
  it('never refuses a write while stale entries exist: mid-resize, every stale entry in the old slots', async () => {
    let time = 1_000;
    // The 98,305th entry passes 3/4 of 131,072 slots: the table starts growing to 262,144, four old
    // slots moved per write. The store is full right then: nearly all of it in the old slots, and
    // stale once the clock moves on; the few entries in the new slots are mostly live. (A sweep in
    // slices of the new slots only found nothing to drop there, and the write was refused.)
    const max = 98_310;
    const store = memoryStore({ max, now: () => time });
    const table = await tableOf(store);
    for (let i = 0; i < max; i++) await store.set(`k:${i}`, `v${i}`, i < 98_300 ? 10_000 : 3_600_000);
    expect(table.capacity).toBe(262_144);
    time += 10_000;
    const swept = await sweptBy(table, () => store.set('k:new', 'v', 3_600_000));
    expect(await store.get('k:new')).toBe('v');
    // It read a few slices, not the store: 131,072 old slots and 262,144 new ones.
    expect(swept).toBeLessThan(20_000);
    for (let i = 0; i < 100; i++) await store.set(`k:more${i}`, 'v', 3_600_000);
    for (let i = 98_300; i < max; i++) expect(await store.get(`k:${i}`)).toBe(`v${i}`);
  });

  it('reads on, slice after slice and through the old slots, to the one stale entry in a store of live ones', async () => {
    let time = 1_000;
    const max = 98_310;
    const store = memoryStore({ max, now: () => time });
    const table = await tableOf(store);
    for (let i = 0; i < max; i++) await store.set(`k:${i}`, 'v', i === 4_321 ? 10_000 : 3_600_000);
    time += 10_000;
    const lap = table.sweepUnits;
    const swept = await sweptBy(table, async () => {
      await store.set('k:new', 'v', 3_600_000); // the one stale entry makes the room
      expect(table.has('k:4321')).toBe(false);
      expect(store.size).toBe(max);
      // No stale entry left: the next new key reads the rest of the store, then is refused.
      await expect(store.set('k:newer', 'v', 3_600_000)).rejects.toMatchObject({
        code: 'ERR_2FA_STORE_UNAVAILABLE',
      });
    });
    // The two read the store once between them (the first as far as the stale entry).
    expect(swept).toBeGreaterThanOrEqual(lap - 1024);
    expect(swept).toBeLessThanOrEqual(lap + 1024);
    for (let i = 0; i < max; i += 997) if (i !== 4_321) expect(await store.get(`k:${i}`)).toBe('v');
  });

  it('reads a store full of live entries at most once a second, and makes room again once one goes stale', async () => {
    let time = 1_000;
    const store = memoryStore({ max: 5_000, now: () => time });
    const table = await tableOf(store);
    for (let i = 0; i < 5_000; i++) await store.set(`k:${i}`, 'v', i === 77 ? 20_000 : 3_600_000);
    const refused = () =>
      expect(store.set(`k:new${time}`, 'v', 3_600_000)).rejects.toMatchObject({
        code: 'ERR_2FA_STORE_UNAVAILABLE',
      });
    const lap = table.sweepUnits;
    expect(await sweptBy(table, refused)).toBeGreaterThanOrEqual(lap - 1024); // read once
    expect(await sweptBy(table, refused)).toBe(0); // the same millisecond: the allowance is spent
    time += PURGE_INTERVAL_MS / 2;
    const half = await sweptBy(table, refused);
    expect(half).toBeGreaterThan(lap / 2 - 1100);
    expect(half).toBeLessThan(lap / 2 + 1100);
    time += 20_000; // k:77 is stale, and the allowance back to one lap
    await store.set('k:new', 'v', 3_600_000);
    expect(await store.get('k:new')).toBe('v');
    expect(await store.get('k:77')).toBeUndefined();
  });

  it('goes on from where the last write stopped: every stale entry gone within a lap of writes', async () => {
    let time = 1_000;
    const max = 50_000;
    const store = memoryStore({ max, now: () => time });
    const table = await tableOf(store);
    for (let i = 0; i < max; i++) await store.set(`k:${i}`, 'v', i % 10 === 0 ? 3_600_000 : 10_000);
    time += 10_000;
    const lap = table.sweepUnits;
    let most = 0;
    let total = 0;
    let written = 0;
    // New keys, one after another: the first write that needs room sweeps a slice, the writes after
    // it a few slots each, each from where the last stopped (slices that started over from the first
    // slot would never reach the end of the table), until no stale entry is left.
    while (written < 20_000 && store.size > max / 10 + written) {
      const swept = await sweptBy(table, () => store.set(`k:new${written}`, 'v', 3_600_000));
      written++;
      most = Math.max(most, swept);
      total += swept;
    }
    expect(store.size).toBe(max / 10 + written);
    // The first write reads past the old slots the resize already moved on (empty now): a few slices.
    expect(most).toBeLessThanOrEqual(5 * 1024 + 32);
    // Every slot once: the lap began with that write.
    expect(total).toBeLessThanOrEqual(lap + 1024);
    for (let i = 0; i < max; i += 7) expect(await store.get(`k:${i}`)).toBe(i % 10 === 0 ? 'v' : undefined);
  });

  it('drops stale evictable entries before evicting a live one', async () => {
    let time = 1_000;
    const store = memoryStore({ max: 4, now: () => time, evictable: (key) => key.startsWith('ip:') });
    // The live one first: least-recently-used eviction alone would drop it and keep the stale one.
    await store.set('ip:live', '1', 60_000);
    await store.set('ip:stale', '1', 1_000);
    await store.set('a', '1', 60_000);
    await store.set('b', '1', 60_000);
    time += 5_000;
    await store.set('c', '1', 60_000);
    expect(await store.getMany(['ip:live', 'a', 'b', 'c'])).toEqual(['1', '1', '1', '1']);
    expect(store.size).toBe(4);
  });

  it('refuses only when no entry has been stale for a second or more (random writes, TTLs and clock)', async () => {
    const next = random(57);
    let time = 1_000;
    const max = 3_000;
    const store = memoryStore({ max, now: () => time });
    const table = await tableOf(store);
    const expiries = new Map<string, number>();
    let refusals = 0;
    let writes = 0;
    for (let i = 0; i < 40_000; i++) {
      time += Math.floor(next() * 4);
      const key = `k:${Math.floor(next() * 20_000)}`;
      const roll = next();
      if (roll < 0.1) {
        await store.delete(key);
        expiries.delete(key);
      } else if (roll < 0.2) {
        const held = expiries.get(key);
        expect(await store.get(key)).toBe(held !== undefined && held > time ? 'v' : undefined);
        if (held !== undefined && held <= time) expiries.delete(key);
      } else {
        const ttl = 200 + Math.floor(next() * (i % 10_000 < 5_000 ? 30_000 : 2_000));
        try {
          await store.set(key, 'v', ttl);
          expiries.set(key, time + ttl);
          writes++;
        } catch (error) {
          expect(error).toMatchObject({ code: 'ERR_2FA_STORE_UNAVAILABLE' });
          refusals++;
          // Held (raw, not read: a read drops a stale entry) and stale for two seconds or more.
          const long = [...expiries].filter(([k, at]) => at <= time - 2 * PURGE_INTERVAL_MS && table.has(k));
          expect(long).toEqual([]);
        }
      }
    }
    expect(refusals).toBeGreaterThan(0);
    expect(writes).toBeGreaterThan(refusals);
  });
});

describe('EntryTable.sweepSome', () => {
  it('goes on from where it stopped, through resizes: a lap reads every entry held throughout it', () => {
    const next = random(37);
    const table = new EntryTable();
    const model = new Map<string, string>();
    const wrong: string[] = [];
    let held = new Set<string>(); // held since the lap began
    let seen = new Set<string>();
    let laps = 0;
    let lap = table.laps;
    const nulKeys = new Set<string>();
    const update = (key: string, entry: string) => {
      seen.add(key);
      if (model.get(key) !== entry) wrong.push(`read ${key}`);
      const roll = (Number.parseInt(key.slice(2), 10) * 7 + lap) % 8;
      if (roll === 0) {
        model.delete(key);
        return undefined;
      }
      if (roll === 1) {
        model.set(key, `${entry}+`);
        return `${entry}+`;
      }
      return entry;
    };
    for (let i = 0; i < 150_000; i++) {
      const spread = i < 100_000 ? 16 + i : 3_000;
      const n = Math.floor(next() * spread);
      const key = next() < 0.005 ? `k:${n}\u0000` : `k:${n}`;
      if (next() < (i < 100_000 ? 0.2 : 0.6)) {
        table.delete(key);
        model.delete(key);
        held.delete(key);
      } else {
        table.set(key, `v${i}`, next() < 0.5);
        model.set(key, `v${i}`);
        if (key.includes('\u0000')) nulKeys.add(key);
      }
      if (i % 7 === 0) {
        const units = 0.5 + next() * 300; // not always whole: the store passes what its allowance holds
        const used = table.sweepSome(update, units);
        // The keys holding a NUL are read all at once, at the end of a lap.
        if (used > Math.ceil(units) + nulKeys.size) wrong.push(`units ${used} of ${units}`);
        if (table.laps !== lap) {
          for (const k of held) if (!seen.has(k)) wrong.push(`lap ${lap} missed ${k}`);
          laps++;
          lap = table.laps;
          held = new Set(model.keys());
          seen = new Set();
        }
      }
      if (table.size !== model.size) wrong.push(`size ${i}`);
      if (wrong.length > 5) break;
    }
    expect(wrong).toEqual([]);
    expect(laps).toBeGreaterThan(10);
    for (const [key, entry] of model) expect(table.get(key)).toBe(entry);
  }, 60_000);

  it('reads every entry exactly once in calls adding up to `sweepUnits` with no write between them, mid-resize or not', () => {
    const next = random(41);
    const table = new EntryTable();
    for (let i = 0; i < 60_000; i++) {
      table.set(`k:${i}`, 'v');
      if (i % 8_191 === 0 || i === 49_160) {
        // Wherever the last sweep stopped: a random slice first.
        table.sweepSome((_, entry) => entry, Math.floor(next() * 5_000));
        const counts = new Map<string, number>();
        const count = (key: string, entry: string) => {
          counts.set(key, (counts.get(key) ?? 0) + 1);
          return entry;
        };
        for (let left = table.sweepUnits; left > 0; ) {
          left -= table.sweepSome(count, Math.min(left, 1 + Math.floor(next() * 2_000)));
        }
        expect(counts.size).toBe(table.size);
        expect([...counts.values()].every((n) => n === 1)).toBe(true);
      }
    }
  });
});
