import { TwoFactorConfigError } from '../errors.js';
import { deleteBatcher } from './postgres/batch.js';
import { withoutValue } from './postgres/redact.js';
import {
  DEFAULT_POSTGRES_TABLE,
  migrateSql,
  SWEEP_BATCH,
  schemaSql,
  statementName,
  statements,
  tableIdentifier,
} from './postgres/sql.js';
import { verifyAttemptOn } from './postgres/verify-attempt.js';
import type { Store, VerifyAttemptInput, VerifyAttemptResult } from './store.js';

/**
 * Runs one parameterised statement on the app's own client and resolves with its rows, e.g. pg
 * `(text, params, name) => pool.query({ name, text, values: params })` or postgres.js
 * `async (text, params) => ({ rows: await sql.unsafe(text, params, { prepare: true }) })`.
 * `name` is a name to prepare the statement under (the same for the same text; none for `migrate()`):
 * a prepared statement is parsed and planned once per connection instead of on every call. A
 * `query` may ignore it and run every statement unnamed (e.g. behind a pooler that cannot keep
 * prepared statements).
 */
export type PostgresQuery = (text: string, params: unknown[], name?: string) => Promise<{ rows: unknown[] }>;

export interface PostgresStoreOptions {
  /** Required. Runs one statement on the app's own pool; the package depends on no PostgreSQL client. */
  query: PostgresQuery;
  /** The store's one table, optionally schema-qualified (`'auth.tfa_store'`). @default 'tfa_store' */
  table?: string;
}

export interface PostgresStore extends Store {
  /** The table, as given (or the default). */
  readonly table: string;
  /** Several values in one SELECT; same order as `keys`. */
  getMany(keys: string[]): Promise<(string | undefined)[]>;
  /** One statement: sets `value` only over `expected` (`undefined`: absent or expired); true when it did. */
  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean>;
  /**
   * One verify attempt in one statement: the table's function `<table>_verify`, which `migrate()`
   * creates (a database migrated before it existed answers with an error that says so). Attempts
   * that arrive while the store's verify statements are all in flight go together, in one statement
   * of `<table>_verify_many` (each exactly as alone; without that function, each alone).
   */
  verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult>;
  /** Creates the table, its index and its verify function if missing (`postgresStore.schema()`); safe at every start. */
  migrate(): Promise<void>;
  /** Deletes one batch (at most 500) of expired rows and resolves with how many. Writes call it by themselves. */
  sweep(): Promise<number>;
  /** Waits for a sweep in flight, so the app can end its pool afterwards. The pool stays the app's to end. */
  shutdown(): Promise<void>;
}

/**
 * What `increment` answers, without counting, while a verify function of the account holds the
 * key's advisory lock (the account's verify lock key, and the attempt counter of the challenge it
 * checks): a lock taken by someone else (`withLock` refuses, busy), an attempt past every limit
 * (never compared), and past every limit should any other key's hash ever meet one. Refused, never
 * allowed: should that verify's batch then roll back (and the challenge stay), this attempt was still
 * answered as past the limit (429) with nothing written: the user sends the code again.
 */
const HELD_BY_VERIFY = Number.MAX_SAFE_INTEGER;

/** Every this-many writes (set, increment) of one store, one sweep; sooner while there is a backlog. */
export const SWEEP_EVERY_WRITES = 100;

const OPTION_NAMES = new Set(['query', 'table']);

const QUERY_HELP =
  'e.g. pg `(text, params, name) => pool.query({ name, text, values: params })` or postgres.js `async (text, params) => ({ rows: await sql.unsafe(text, params, { prepare: true }) })`';

function toMilliseconds(ttlMs: number): number {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs)) {
    throw new TypeError('postgresStore: `ttlMs` must be a finite number of milliseconds');
  }
  return Math.max(1, Math.ceil(ttlMs));
}

/** Times a statement that failed with a serialization failure is sent again before its error is thrown. */
const SERIALIZATION_RETRIES = 3;

function isSerializationFailure(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '40001';
}

function rowsOf(result: { rows?: unknown } | undefined): unknown[] {
  if (result === null || typeof result !== 'object' || !Array.isArray(result.rows)) {
    throw new TypeError(
      `postgresStore: \`query\` must resolve to { rows }, as pg's pool.query does; ${QUERY_HELP}`,
    );
  }
  return result.rows;
}

/** A text column as a string; NULL (or anything else) is "no value". */
function toValue(row: unknown): string | undefined {
  const value = (row as { value?: unknown } | undefined)?.value;
  return typeof value === 'string' ? value : undefined;
}

/**
 * A store in PostgreSQL (>= 11), for apps that run several instances and have PostgreSQL but no
 * Redis: one table and its verify function (`postgresStore.schema()`, created by
 * `await store.migrate()` or the app's migrations). Every call is one statement found by the
 * primary key (the deletes and consumes of one tick share one); `consume` and `increment` are
 * atomic in their statement, and a verify attempt is one call of the function (under load, the
 * attempts waiting for the store's verifies in flight share one statement of `<table>_verify_many`,
 * each run as alone: src/stores/postgres/verify-batch.ts). Expired rows count
 * as absent at once and are deleted in batches of at most 500 as the store writes: no timer, no
 * separate process.
 *
 * @example
 * // pg
 * postgresStore({ query: (text, params, name) => pool.query({ name, text, values: params }) })
 * // postgres.js
 * postgresStore({ query: async (text, params) => ({ rows: await sql.unsafe(text, params, { prepare: true }) }) })
 */
export function postgresStore(options: PostgresStoreOptions): PostgresStore {
  if (options === null || typeof options !== 'object' || typeof options.query !== 'function') {
    throw new TwoFactorConfigError(
      'query',
      `of \`postgresStore()\` is required: call \`postgresStore({ query })\`, ${QUERY_HELP}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) {
      throw new TwoFactorConfigError(
        key,
        'is not an option of `postgresStore()`; it takes `query` and `table`',
      );
    }
  }
  const { query } = options;
  const table = options.table ?? DEFAULT_POSTGRES_TABLE;
  const { name, verifyName } = tableIdentifier(table);
  const sql = statements(name);
  const prepared = new Map(Object.values(sql).map((text) => [text, statementName(text)]));

  /**
   * The first call of `query` is made here, before the async part: a wrapper that throws at once has
   * sent nothing, and that throw reaches the caller as it is (a verify batch then sends each verify
   * alone, verify-batch.ts; every other caller awaits inside its try).
   */
  function run(text: string, params: unknown[]): Promise<unknown[]> {
    const statement = prepared.get(text);
    const send = () => (statement === undefined ? query(text, params) : query(text, params, statement));
    return settle(send(), send);
  }

  async function settle(first: ReturnType<typeof query>, send: () => ReturnType<typeof query>) {
    for (let retries = 0; ; retries++) {
      try {
        return rowsOf(await (retries === 0 ? first : send()));
      } catch (error) {
        // 40001 (REPEATABLE READ or SERIALIZABLE as the pool's default isolation): the statement, its
        // own transaction, changed nothing; sent again it takes a fresh snapshot and reads what the
        // other writer committed, as under READ COMMITTED. (Thrown, it broke the generic lock: the
        // route deletes a lock whose increment failed, and that lock was another request's.)
        if (isSerializationFailure(error) && retries < SERIALIZATION_RETRIES) continue;
        if ((error as { code?: unknown } | null)?.code === '42P01') {
          throw new Error(
            `postgresStore: table "${name}" does not exist: create it with \`await store.migrate()\` or run \`postgresStore.schema()\` in your migrations`,
            { cause: error },
          );
        }
        throw error;
      }
    }
  }

  // Writes (set, increment) still on their way, by key. A pool sends each statement on whichever
  // connection is free, so a delete could overtake the write it undoes (a lock taken by an increment
  // that timed out in a hang, then deleted): a delete or consume waits for them, as on one connection.
  // (Only when there are some: a bare `await` would cost a tick and split a batch of deletes.)
  const writing = new Map<string, Promise<unknown>>();
  function tracked<T>(key: string, write: Promise<T>): Promise<T> {
    // After every write on the key still in flight, not only the newest.
    const settled = Promise.allSettled([writing.get(key), write]);
    writing.set(key, settled);
    void settled.then(() => {
      if (writing.get(key) === settled) writing.delete(key);
    });
    return write;
  }

  const remove = deleteBatcher(run, sql);
  const verify = verifyAttemptOn(run, sql.verify, verifyName, sql.verifyMany);

  // The sweep rides on writes: every SWEEP_EVERY_WRITES-th, and the next one again while batches
  // come back full. One at a time per store; it never delays or fails the write that started it.
  let writes = 0;
  let backlog = false;
  let sweeping: Promise<void> | undefined;
  function sweepSoon(): void {
    writes = (writes + 1) % SWEEP_EVERY_WRITES;
    if (writes === 0) backlog = true;
    if (!backlog || sweeping) return;
    backlog = false;
    sweeping = sweep()
      .then(
        (count) => {
          if (count >= SWEEP_BATCH) backlog = true;
        },
        () => {
          // The database is down or busy: the next write's turn will try again.
        },
      )
      .finally(() => {
        sweeping = undefined;
      });
  }

  async function sweep(): Promise<number> {
    const [row] = await run(sql.sweep, []);
    return Number((row as { swept?: unknown } | undefined)?.swept ?? 0);
  }

  return {
    table: name,
    async get(key) {
      return toValue((await run(sql.get, [key]))[0]);
    },
    async getMany(keys) {
      if (keys.length === 0) return [];
      const rows = await run(sql.getMany, [[...keys]]);
      const found = new Map<unknown, string | undefined>();
      for (const row of rows) found.set((row as { key?: unknown }).key, toValue(row));
      return keys.map((key) => found.get(key));
    },
    async set(key, value, ttlMs) {
      const ttl = toMilliseconds(ttlMs);
      try {
        await tracked(key, run(sql.set, [key, value, ttl]));
      } catch (error) {
        throw withoutValue(error, value);
      }
      sweepSoon();
    },
    async delete(key) {
      const pending = writing.get(key);
      if (pending) await pending;
      await remove(key, false);
    },
    async consume(key) {
      const pending = writing.get(key);
      if (pending) await pending;
      return remove(key, true);
    },
    async increment(key, ttlMs) {
      let rows: unknown[];
      try {
        rows = await tracked(key, run(sql.increment, [key, toMilliseconds(ttlMs)]));
      } catch (error) {
        // Still a serialization failure after the retries: other writers on this key's row, so a lock
        // someone holds or a counter being counted. Taken, past every limit (fail closed); thrown, the
        // route would delete the key, the holder's lock.
        if (isSerializationFailure(error)) return HELD_BY_VERIFY;
        throw error;
      }
      if (rows.length === 0) return HELD_BY_VERIFY;
      const count = Number(toValue(rows[0]) ?? Number.NaN);
      // The stored value itself stays out of the message.
      if (!Number.isSafeInteger(count) || count < 1) {
        throw new TypeError('postgresStore: the key holds a value that is not a counter');
      }
      sweepSoon();
      return count;
    },
    async compareAndSet(key, expected, value, ttlMs) {
      const ttl = toMilliseconds(ttlMs);
      const [text, params] =
        expected === undefined
          ? [sql.createIfAbsent, [key, value, ttl]]
          : [sql.replaceIf, [key, value, ttl, expected]];
      let rows: unknown[];
      try {
        rows = await tracked(key, run(text, params));
      } catch (error) {
        throw withoutValue(expected === undefined ? error : withoutValue(error, expected), value);
      }
      sweepSoon();
      return rows.length > 0;
    },
    async verifyAttempt(input) {
      const result = await verify(input);
      sweepSoon();
      return result;
    },
    async migrate() {
      await run(migrateSql(name), []);
      verify.recheck();
    },
    sweep,
    async shutdown() {
      await sweeping;
    },
  };
}

/**
 * The DDL of the store's table (default 'tfa_store'), its index and its verify function, for the
 * app's own migration tool: run it as one script, again after upgrading (it is idempotent).
 */
postgresStore.schema = schemaSql;
