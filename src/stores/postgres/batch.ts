/** Runs one statement and resolves with its rows. */
type Run = (text: string, params: unknown[]) => Promise<unknown[]>;

interface Batch {
  keys: Set<string>;
  consume: boolean;
  /** The live values the statement took, by key; each consume takes its key's once. */
  done: Promise<Map<string, string>>;
}

/**
 * Deletes and consumes asked for in the same tick go to the database as one `DELETE … WHERE key =
 * ANY($1)` when the tick ends: a right code takes the challenge and clears four other keys in a
 * single statement instead of five. Each `consume` still gets its key's live value, and of several
 * consumers of one key exactly one does (the row is deleted once, by one statement or another).
 */
export function deleteBatcher(run: Run, sql: { delete: string; consume: string }) {
  let open: Batch | undefined;

  function send(keys: string[], consume: boolean): Promise<Map<string, string>> {
    if (!consume) return run(sql.delete, [keys]).then(() => new Map());
    return run(sql.consume, [keys]).then((rows) => {
      const values = new Map<string, string>();
      for (const row of rows) {
        const { key, value } = row as { key?: unknown; value?: unknown };
        if (typeof key === 'string' && typeof value === 'string') values.set(key, value);
      }
      return values;
    });
  }

  return function remove(key: string, consume: boolean): Promise<string | undefined> {
    let batch = open;
    if (!batch) {
      let start!: () => void;
      const started = new Promise<void>((resolve) => {
        start = resolve;
      });
      const created: Batch = {
        keys: new Set(),
        consume: false,
        done: started.then(() => send([...created.keys], created.consume)),
      };
      batch = open = created;
      queueMicrotask(() => {
        open = undefined;
        start();
      });
    }
    batch.keys.add(key);
    if (consume) batch.consume = true;
    return batch.done.then((values) => {
      if (!consume) return undefined;
      const value = values.get(key);
      values.delete(key);
      return value;
    });
  };
}
