/**
 * A resize moves entries from the old slots to the new ones a few per write; a moved slot must not
 * keep its string until the resize ends, or an entry moved and then rewritten is held twice. A heap
 * reading, not a timing: ~3,000 entries of 8 kB, a resize under way, the moved ones rewritten short.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EntryTable } from '../../src/stores/memory-table.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

describe('EntryTable while it resizes', () => {
  it("keeps no moved entry's string in the old slots: an entry moved, then rewritten, is held once", () => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const table = new EntryTable();
    let i = 0;
    // Up to the write that starts the growth from 4,096 slots to 8,192 (3,073 entries of 8 kB).
    while (table.capacity < 8192) {
      table.set(`k${i}`, `${i}:`.padEnd(8192, 'x'));
      i++;
    }
    const movedAtStart = table.moved;
    // 300 writes move 4 old slots each: about 900 of the large entries, most still to move.
    for (let n = 0; n < 300; n++) table.set(`n${n}`, 'small');
    const moved = table.moved - movedAtStart;
    expect(moved).toBeGreaterThan(500);
    expect(moved).toBeLessThan(i / 2);
    // Every entry rewritten short where it stands (a sweep moves nothing, the resize stays under way).
    table.sweep(() => 'y');
    expect(table.moved - movedAtStart).toBe(moved);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // ~3,400 short entries and the slot pages: well under 1 MB. Kept, the moved ones would be 7 MB.
    expect(grown).toBeLessThan(2 * 1024 * 1024);
    expect(table.get('k0')).toBe('y');
  });
});
