import { describe, expect, it } from 'vitest';
import { IP_BUDGET_KEY } from '../../src/challenge.js';
import { memoryStore } from '../../src/index.js';
import { EntryTable } from '../../src/stores/memory-table.js';
import { tableOf } from '../helpers/memory-table.js';
import { random, sorted } from '../helpers/random.js';

/*
 * The memory table resizes a few slots per write instead of all at once (a full rehash of three
 * million entries held one write for about a second). `moved` counts the entries moved from an old
 * table to a new one, read around every call here: no timing, only how much one call does.
 */

/** Most entries one write may move (memory-table.ts: a resize's step is at most 8 old slots). */
const MOST_MOVED = 8;

/** Runs `write` and gives back how many entries it moved. */
function movedBy(table: EntryTable, write: () => unknown): number {
  const before = table.moved;
  write();
  return table.moved - before;
}

describe('EntryTable resizing a few slots per write', () => {
  it('moves at most 8 entries in any one write from 16 slots to over a million entries and back', () => {
    const table = new EntryTable();
    const count = 1_100_000;
    let most = 0;
    let capacities = 1;
    let capacity = table.capacity;
    for (let i = 0; i < count; i++) {
      most = Math.max(
        most,
        movedBy(table, () => table.set(`c:${i}`, 'v')),
      );
      if (table.capacity !== capacity) {
        capacity = table.capacity;
        capacities++;
      }
    }
    expect(table.size).toBe(count);
    expect(table.capacity).toBe(2 ** 21); // the next growth starts at 3/4 of it: 1,572,865 entries
    expect(capacities).toBe(18); // 16 → 2,097,152 by doublings
    expect(table.moved).toBeGreaterThan(count); // every entry moved at least once, in small steps
    expect(most).toBeLessThanOrEqual(MOST_MOVED);
    for (let i = 0; i < count; i += 1009) expect(table.get(`c:${i}`)).toBe('v');
    for (let i = 0; i < count; i++) {
      most = Math.max(
        most,
        movedBy(table, () => table.delete(`c:${i}`)),
      );
    }
    expect(table.size).toBe(0);
    expect(table.capacity).toBe(16); // shrunk by halves, then emptied: back to 16 slots
    expect(most).toBeLessThanOrEqual(MOST_MOVED);
  }, 120_000);

  it('keeps a steady number of entries under churn in a bounded table, tombstones and all', () => {
    // The stall's shape: each new challenge added, an old one deleted. Deleted slots fill the table
    // to 3/4 and a resize clears them; capacity stays what twice the live entries need.
    const table = new EntryTable();
    const live = 40_000;
    let most = 0;
    let highest = 0;
    for (let i = 0; i < 400_000; i++) {
      most = Math.max(
        most,
        movedBy(table, () => table.set(`c:${i}`, `entry ${i}`)),
      );
      if (i >= live)
        most = Math.max(
          most,
          movedBy(table, () => table.delete(`c:${i - live}`)),
        );
      highest = Math.max(highest, table.capacity);
      if (i % 4999 === 0) {
        expect(table.get(`c:${i}`)).toBe(`entry ${i}`);
        expect(table.has(`c:${i - live}`)).toBe(false);
      }
    }
    expect(table.size).toBe(live);
    expect(highest).toBe(131_072); // 2 × 40,000 rounded up to a power of two
    expect(most).toBeLessThanOrEqual(MOST_MOVED);
    for (let i = 400_000 - live; i < 400_000; i += 7) expect(table.get(`c:${i}`)).toBe(`entry ${i}`);
  }, 60_000);

  it('answers like a Map for every call while resizing: sets, overwrites, deletes, NUL keys', () => {
    const next = random(91);
    const table = new EntryTable();
    const model = new Map<string, string>();
    const wrong: string[] = [];
    let most = 0;
    // Keys drawn from a range that widens (the table grows), then mostly deleted (it shrinks),
    // with lookups, overwrites and deletes of keys in the old slots and in the new ones.
    for (let i = 0; i < 250_000; i++) {
      const spread = i < 200_000 ? 16 + i / 2 : 100_016;
      const n = Math.floor(next() * spread);
      const key = next() < 0.005 ? `k:${n}\u0000${n % 3}` : `k:${n}`;
      const roll = next();
      const deleting = i < 200_000 ? roll < 0.25 : roll < 0.82;
      if (deleting) {
        const moved = movedBy(table, () => {
          if (table.delete(key) !== model.delete(key)) wrong.push(`delete ${i} ${key}`);
        });
        most = Math.max(most, moved);
      } else if (roll < 0.85) {
        const value = `v${i}${roll > 0.84 ? '€' : ''}`;
        most = Math.max(
          most,
          movedBy(table, () => table.set(key, value, roll < 0.8)),
        );
        model.set(key, value);
      }
      const probe = `k:${Math.floor(next() * spread)}`;
      for (const k of [key, probe]) {
        if (table.get(k) !== model.get(k) || table.has(k) !== model.has(k)) wrong.push(`read ${i} ${k}`);
      }
      if (table.size !== model.size) wrong.push(`size ${i}`);
      if (wrong.length > 5) break;
      if (i % 29_989 === 0) expect(sorted(table.entries())).toEqual(sorted(model));
    }
    expect(wrong).toEqual([]);
    expect(sorted(table.entries())).toEqual(sorted(model));
    const largest = table.capacity;
    for (const key of [...model.keys()].sort(() => next() - 0.5)) {
      most = Math.max(
        most,
        movedBy(table, () => table.delete(key)),
      );
      model.delete(key);
      const other = `k:${Math.floor(next() * 100_016)}`;
      if (table.get(other) !== model.get(other)) wrong.push(`read ${other}`);
    }
    expect(wrong).toEqual([]);
    expect(table.size).toBe(0);
    expect(largest).toBeGreaterThan(2 ** 16);
    expect(table.capacity).toBe(16);
    expect(most).toBeLessThanOrEqual(MOST_MOVED);
  }, 120_000);

  it('reads a table caught mid-resize (old slots and new) once each, moving nothing, and finds every key after', () => {
    const table = new EntryTable();
    let i = 0;
    // Up to the write that starts a growth, and a little beyond: entries in old and new slots.
    while (table.capacity < 1024) table.set(`k${i}`, String(i++));
    for (let j = 0; j < 10; j++) table.set(`k${i}`, String(i++));
    const moved = table.moved;
    const keys = table.entries().map(([key]) => key);
    expect(table.moved).toBe(moved); // the test seam finishes no resize
    expect(keys.length).toBe(i);
    expect(new Set(keys).size).toBe(i);
    for (let j = 0; j < i; j++) expect(table.get(`k${j}`)).toBe(String(j));
  });

  it('sweeps like a filter over a Map at any point of a resize, moving nothing, and shrinks when left sparse', () => {
    const next = random(23);
    const table = new EntryTable();
    const model = new Map<string, string>();
    const wrong: string[] = [];
    let sweeps = 0;
    let most = 0;
    // Each sweep drops a quarter of the keys, rewrites a quarter and keeps the rest, by the key's
    // number and the sweep's (the table and the Map are walked in different orders).
    const verdict = (key: string, entry: string, round: number) => {
      const roll = (Number.parseInt(key.slice(2), 10) * 7 + round) % 4;
      return roll === 0 ? undefined : roll === 1 ? `${entry}+` : entry;
    };
    for (let i = 0; i < 120_000; i++) {
      const spread = i < 80_000 ? 16 + i : 2_000;
      const n = Math.floor(next() * spread);
      const key = next() < 0.01 ? `k:${n}\u0000` : `k:${n}`;
      if (next() < 0.2) {
        const moved = movedBy(table, () => {
          if (table.delete(key) !== model.delete(key)) wrong.push(`delete ${i} ${key}`);
        });
        most = Math.max(most, moved);
      } else {
        const narrow = next() < 0.5;
        most = Math.max(
          most,
          movedBy(table, () => table.set(key, `v${i}`, narrow)),
        );
        model.set(key, `v${i}`);
      }
      if (i % 4_999 === 0) {
        const round = sweeps++;
        const moved = movedBy(table, () => table.sweep((k, entry) => verdict(k, entry, round)));
        if (moved !== 0) wrong.push(`sweep ${round} moved ${moved}`);
        for (const [k, entry] of [...model]) {
          const kept = verdict(k, entry, round);
          if (kept === undefined) model.delete(k);
          else model.set(k, kept);
        }
        if (table.size !== model.size) wrong.push(`size after sweep ${round}`);
        expect(sorted(table.entries())).toEqual(sorted(model));
      }
      for (const k of [key, `k:${Math.floor(next() * spread)}`]) {
        if (table.get(k) !== model.get(k) || table.has(k) !== model.has(k)) wrong.push(`read ${i} ${k}`);
      }
      if (wrong.length > 5) break;
    }
    expect(wrong).toEqual([]);
    expect(sweeps).toBe(25);
    expect(most).toBeLessThanOrEqual(MOST_MOVED);
    // Left sparse, it shrinks: at once when no resize is under way, else with the write that ends
    // it. (Whether a sweep above found a resize under way depends on the table's random hash seed,
    // so counting shrinks there failed about 1 run in 50.)
    const capacity = table.capacity;
    const sparse = (key: string) => Number.parseInt(key.slice(2), 10) % 16 === 0;
    table.sweep((key, entry) => (sparse(key) ? entry : undefined));
    for (const key of [...model.keys()]) if (!sparse(key)) model.delete(key);
    const left = [...model.keys()];
    for (let i = 0; i < 10_000 && table.capacity >= capacity; i++) {
      const key = left[i % left.length] as string;
      table.set(key, `again${i}`);
      model.set(key, `again${i}`);
    }
    expect(table.capacity).toBeLessThan(capacity);
    expect(sorted(table.entries())).toEqual(sorted(model));
    // Everything swept away: back to 16 slots at once.
    table.sweep(() => undefined);
    expect(table.size).toBe(0);
    expect(table.capacity).toBe(16);
  }, 60_000);
});

describe('memoryStore() while its table resizes', () => {
  it('keeps every challenge readable and consumable across several resizes', async () => {
    const store = memoryStore({ max: 200_000 });
    for (let i = 0; i < 30_000; i++) {
      await store.set(`c:id${i}`, `["record ${i}"]`, 60_000);
      await store.set(`s:id${i}`, `[${i}]`, 60_000);
      await store.set(`r:{u}${i}`, `id${i}`, 60_000);
      if (i >= 10_000 && i % 2) {
        expect(await store.consume(`c:id${i - 10_000}`)).toBe(`["record ${i - 10_000}"]`);
        await store.delete(`s:id${i - 10_000}`);
      }
    }
    expect(store.size).toBe(30_000 + 30_000 - 10_000);
    for (let i = 0; i < 30_000; i += 13) {
      const gone = i < 20_000 && (i + 10_000) % 2 === 1;
      expect(await store.getMany([`c:id${i}`, `s:id${i}`, `r:{u}${i}`])).toEqual([
        gone ? undefined : `["record ${i}"]`,
        gone ? undefined : `[${i}]`,
        `id${i}`,
      ]);
    }
  });

  it('purges a full store mid-resize in place: the write that purges moves a few entries, not the rest of the resize', async () => {
    let time = 1_000;
    const max = 12_300;
    const store = memoryStore({ max, now: () => time });
    const table = await tableOf(store);
    // The 12,289th entry passes 3/4 of 16,384 slots: the table starts growing to 32,768 slots, four
    // old slots moved per write after it. The store is full eleven writes later, most of it stale
    // once the clock moves on.
    for (let i = 0; i < max; i++) await store.set(`k:${i}`, `v${i}`, i < max - 100 ? 10_000 : 60_000);
    expect(table.capacity).toBe(32_768);
    time += 10_000;
    const before = table.moved;
    await store.set('k:new', 'v', 60_000); // full: purges stale entries first, a slice of them
    expect(table.moved - before).toBeLessThanOrEqual(MOST_MOVED);
    expect(store.size).toBeLessThan(max);
    // The writes after it sweep on, a few slots each, to the end of the purge's lap.
    let most = 0;
    for (let i = 0; i < 2_000; i++) {
      const moved = table.moved;
      await store.set('k:new', 'v', 60_000);
      most = Math.max(most, table.moved - moved);
    }
    expect(most).toBeLessThanOrEqual(MOST_MOVED);
    expect(store.size).toBe(101);
    for (let i = 0; i < max; i += 7) {
      expect(await store.get(`k:${i}`)).toBe(i < max - 100 ? undefined : `v${i}`);
    }
    expect(await store.get('k:new')).toBe('v');
  });

  it('shrinks a table that a purge left sparse, with no delete after it', async () => {
    let time = 1_000;
    const max = 12_300;
    const store = memoryStore({ max, now: () => time });
    const table = await tableOf(store);
    // 100 entries of 12,300 outlive the clock's step: the purge leaves 101 (with the new one).
    for (let i = 0; i < max; i++) await store.set(`k:${i}`, 'v', i % 123 === 0 ? 3_600_000 : 10_000);
    time += 10_000;
    await store.set('k:new', 'v', 3_600_000);
    // Then only overwrites: no delete, no new key. Each write moves a few slots of a resize, and
    // sweeps a few of the purge's lap (that write swept only until it had room).
    for (let i = 0; i < 30_000; i++) await store.set(`k:${(i % 100) * 123}`, `v${i}`, 3_600_000);
    expect(table.capacity).toBeLessThanOrEqual(1_024); // at most 8 slots per entry, as deletes leave it
    expect(store.size).toBe(101);
    for (let i = 0; i < 100; i++) expect(await store.get(`k:${i * 123}`)).toBe(`v${29_900 + i}`);
  });

  it("goes back to 16 slots when the purge's lap leaves nothing in the table", async () => {
    let time = 1_000;
    const max = 12_300;
    const store = memoryStore({ max, now: () => time });
    const table = await tableOf(store);
    for (let i = 0; i < max; i++) await store.set(`k:${i}`, 'v', 10_000);
    time += 10_000;
    // An evictable key (kept apart from the table), then written again until the lap is over.
    for (let i = 0; i < 4_000; i++) await store.set(`${IP_BUDGET_KEY}x`, 'v', 60_000);
    expect(store.size).toBe(1);
    expect(table.size).toBe(0);
    expect(table.capacity).toBe(16);
  });
});
