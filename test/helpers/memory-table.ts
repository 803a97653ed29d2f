import { vi } from 'vitest';
import type { MemoryStore } from '../../src/index.js';
import { EntryTable } from '../../src/stores/memory-table.js';

/** The table behind `store` (caught on a read, which writes nothing). */
export async function tableOf(store: MemoryStore): Promise<EntryTable> {
  let table: EntryTable | undefined;
  const original = EntryTable.prototype.get;
  const spy = vi.spyOn(EntryTable.prototype, 'get').mockImplementation(function (this: EntryTable, key) {
    table ??= this;
    return original.call(this, key);
  });
  try {
    await store.get('k:the table');
  } finally {
    spy.mockRestore();
  }
  if (!table) throw new Error('the store read no table');
  return table;
}

/** Runs `write` and gives back how many slots the store's purge read in it. */
export async function sweptBy(table: EntryTable, write: () => unknown): Promise<number> {
  const before = table.swept;
  await write();
  return table.swept - before;
}
