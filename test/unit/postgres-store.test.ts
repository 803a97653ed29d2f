import { inspect } from 'node:util';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../src/errors.js';
import { type PostgresQuery, postgresStore } from '../../src/stores/postgres-store.js';
import { checkStore } from '../../src/testing/check-store.js';
import {
  POSTGRES_CLIENTS,
  postgresUrl,
  recordQueries,
  requirePostgres,
  uniqueTable,
  usePostgres,
} from '../helpers/postgres.js';
import { runStoreContract } from '../helpers/store-contract.js';

const postgresUp = await requirePostgres();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The rejection reason, or the string 'resolved'. */
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );

const noRows: PostgresQuery = async () => ({ rows: [] });

/** The configuration error `run` throws (fails the test when it throws nothing or something else). */
function configError(run: () => unknown): TwoFactorConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TwoFactorConfigError);
    return error as TwoFactorConfigError;
  }
  throw new Error('expected a TwoFactorConfigError');
}

describe('postgresStore()', () => {
  describe('at construction', () => {
    it('throws TwoFactorConfigError with the fix for pg and postgres.js when query is missing', () => {
      for (const options of [undefined, null, {}, { query: 'SELECT 1' }, { table: 'tfa' }]) {
        const error = configError(() => postgresStore(options as never));
        expect(error).toBeInstanceOf(TypeError);
        expect(error.option).toBe('query');
        expect(error.message).toContain('`query`');
        expect(error.message).toContain('(text, params) => pool.query(text, params)');
        expect(error.message).toContain('sql.unsafe(text, params');
      }
    });

    it('throws for a table name that is not a plain lower-case identifier, naming a valid one', () => {
      for (const table of [
        '',
        42,
        'Tfa',
        '2fa',
        'tfa; DROP TABLE users',
        'tfa"',
        'a.b.c',
        'x'.repeat(50),
        '.tfa',
      ]) {
        const error = configError(() => postgresStore({ query: noRows, table: table as never }));
        expect(error.option).toBe('table');
        expect(error.message).toMatch(/lower-case letters, digits and _/);
        expect(error.message).toContain("'tfa_store'");
      }
    });

    it('accepts a schema-qualified table name', () => {
      expect(postgresStore({ query: noRows, table: 'auth.two_factor' }).table).toBe('auth.two_factor');
    });

    it('throws for an unknown option instead of ignoring it', () => {
      const error = configError(() => postgresStore({ query: noRows, tabel: 'x' } as never));
      expect(error.option).toBe('tabel');
      expect(error.message).toMatch(/is not an option of `postgresStore\(\)`; it takes `query` and `table`/);
    });

    it("defaults the table to 'tfa_store' (undefined or null mean the default) and sends nothing", () => {
      const rec = recordQueries(noRows);
      expect(postgresStore({ query: rec.query }).table).toBe('tfa_store');
      expect(postgresStore({ query: rec.query, table: undefined }).table).toBe('tfa_store');
      expect(postgresStore({ query: rec.query, table: null as never }).table).toBe('tfa_store');
      expect(rec.calls).toEqual([]);
    });
  });

  describe('postgresStore.schema()', () => {
    it('is the DDL of one table, with its primary key and its expiry index, for any table name', () => {
      const ddl = postgresStore.schema();
      expect(ddl).toMatch(/CREATE TABLE IF NOT EXISTS "tfa_store"/);
      expect(ddl).toMatch(/CREATE INDEX IF NOT EXISTS "tfa_store_expires_at" ON "tfa_store" \(expires_at\)/);
      const qualified = postgresStore.schema('auth.tfa');
      expect(qualified).toMatch(/CREATE TABLE IF NOT EXISTS "auth"."tfa"/);
      expect(qualified).toMatch(/CREATE INDEX IF NOT EXISTS "tfa_expires_at" ON "auth"."tfa"/);
    });

    it('refuses an unsafe table name the same way the store does', () => {
      expect(() => postgresStore.schema('x"; DROP TABLE users; --')).toThrow(TwoFactorConfigError);
    });
  });

  describe('when the client answers in other shapes', () => {
    it('rejects an answer without rows, pointing at the adapter (postgres.js resolves to an array)', async () => {
      const store = postgresStore({ query: async () => [] as never });
      await expect(store.get('k')).rejects.toThrow(/must resolve to \{ rows \}.*\{ rows: await sql\.unsafe/);
      await expect(store.migrate()).rejects.toThrow(/must resolve to \{ rows \}/);
    });

    it('rejects an increment that did not come back as a count, without the stored value', async () => {
      const store = postgresStore({ query: async () => ({ rows: [{ value: null }] }) });
      const error = await rejection(store.increment('k', 1000));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/holds a value that is not a counter/);
    });

    it('rounds the TTL up to whole milliseconds, at least 1, and refuses a TTL that is not finite', async () => {
      const rec = recordQueries(noRows);
      const store = postgresStore({ query: rec.query });
      await store.set('a', 'v', 1500.2);
      await store.set('b', 'v', 0.3);
      expect(rec.calls.map((c) => c.params)).toEqual([
        ['a', 'v', 1501],
        ['b', 'v', 1],
      ]);
      await expect(store.set('d', 'v', Number.NaN)).rejects.toThrow(/`ttlMs` must be a finite number/);
      await expect(store.increment('d', Number.POSITIVE_INFINITY)).rejects.toThrow(/finite number/);
      expect(rec.calls).toHaveLength(2);
    });
  });

  describe('when a write is still on its way', () => {
    /** A query whose INSERTs wait until released, recording the order statements reach the database. */
    function heldInserts() {
      const reached: string[] = [];
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const query: PostgresQuery = async (text, params) => {
        const verb = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? '';
        if (verb === 'INSERT') await held;
        reached.push(`${verb} ${String(params[0])}`);
        return { rows: verb === 'INSERT' ? [{ value: '1' }] : [] };
      };
      return { query, reached, release: () => release() };
    }

    it('sends a delete of the same key only after it, as one connection would (a lock undone after a hang stays undone)', async () => {
      const { query, reached, release } = heldInserts();
      const store = postgresStore({ query });
      const increment = store.increment('lock', 60_000);
      const undo = store.delete('lock');
      const other = store.delete('other');
      await other;
      expect(reached).toEqual(['DELETE other']);
      release();
      await Promise.all([increment, undo]);
      expect(reached).toEqual(['DELETE other', 'INSERT lock', 'DELETE lock']);
    });

    it('still deletes after a write that failed', async () => {
      const reached: string[] = [];
      const store = postgresStore({
        query: async (text, params) => {
          reached.push(`${text.slice(0, 6)} ${String(params[0])}`);
          if (text.startsWith('INSERT')) throw new Error('connection reset');
          return { rows: [] };
        },
      });
      const increment = rejection(store.increment('lock', 60_000));
      await store.delete('lock');
      expect(await increment).toBeInstanceOf(Error);
      expect(reached).toEqual(['INSERT lock', 'DELETE lock']);
    });
  });

  describe('when query rejects', () => {
    it('rejects every method with that same error, and no stored value in it', async () => {
      const failure = new Error('Connection terminated unexpectedly');
      const store = postgresStore({
        query: async () => {
          throw failure;
        },
      });
      await expect(store.get('k')).rejects.toBe(failure);
      await expect(store.getMany(['k'])).rejects.toBe(failure);
      await expect(store.set('k', 'stored-value-1234', 1000)).rejects.toBe(failure);
      await expect(store.delete('k')).rejects.toBe(failure);
      await expect(store.consume('k')).rejects.toBe(failure);
      await expect(store.increment('k', 1000)).rejects.toBe(failure);
      expect(inspect(failure, { depth: 10, showHidden: true })).not.toContain('stored-value-1234');
    });

    it('blanks the value in what a client attaches to its error (postgres.js `parameters`, pg `detail`)', async () => {
      const secret = 'stored-value-1234';
      const store = postgresStore({
        query: async (_text, params) => {
          const error = new Error(`failed near ${secret}`);
          // postgres.js: a read-only, hidden property holding the very parameters array.
          Object.defineProperty(error, 'parameters', { value: params, enumerable: false });
          Object.assign(error, { detail: `Failing row contains (k, ${secret}, 2026-01-01).` });
          throw error;
        },
      });
      const error = await rejection(store.set('k', secret, 1000));
      expect(error).toBeInstanceOf(Error);
      expect((error as { parameters: unknown[] }).parameters).toEqual(['k', '[redacted]', 1000]);
      expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(secret);
    });

    it('says how to create the table when it does not exist (42P01)', async () => {
      const store = postgresStore({
        query: async () => {
          throw Object.assign(new Error('relation "tfa_store" does not exist'), { code: '42P01' });
        },
      });
      const error = await rejection(store.get('k'));
      expect((error as Error).message).toMatch(
        /table "tfa_store" does not exist: create it with `await store\.migrate\(\)` or run `postgresStore\.schema\(\)`/,
      );
      expect((error as Error).cause).toMatchObject({ code: '42P01' });
    });
  });
});

for (const { name, connect } of POSTGRES_CLIENTS) {
  describe.skipIf(!postgresUp)(`postgresStore() on ${name}`, () => {
    const tables: string[] = [];
    const query = usePostgres(connect, () => tables);
    /** A migrated store on a table of its own, with its statements recorded. */
    async function freshStore(label = 'store') {
      const table = uniqueTable(`${name}_${label}`);
      tables.push(table);
      const rec = recordQueries(query);
      const store = postgresStore({ query: rec.query, table });
      await store.migrate();
      rec.reset();
      return { table, rec, store };
    }

    runStoreContract(`postgresStore() on ${name}`, async () => {
      const { store } = await freshStore('contract');
      return { store };
    });

    it('passes checkStore', async () => {
      const { store } = await freshStore('check');
      await checkStore(() => store);
    });

    describe('migrate()', () => {
      it('creates the table and index, is idempotent, and survives ten instances migrating at once', async () => {
        const table = uniqueTable(`${name}_migrate`);
        tables.push(table);
        const stores = Array.from({ length: 10 }, () => postgresStore({ query, table }));
        await Promise.all(stores.map((s) => s.migrate()));
        await (stores[0] as (typeof stores)[number]).migrate();
        const { rows } = await query(
          'SELECT indexname FROM pg_indexes WHERE tablename = $1 ORDER BY indexname',
          [table],
        );
        expect(rows.map((r) => (r as { indexname: string }).indexname)).toEqual([
          `${table}_expires_at`,
          `${table}_pkey`,
        ]);
      });

      it('says nothing the second time (no "already exists" notices, which postgres.js prints by default)', async () => {
        const table = uniqueTable(`${name}_notice`);
        tables.push(table);
        const notices: unknown[] = [];
        const sql = postgres(postgresUrl(), { max: 1, onnotice: (notice) => notices.push(notice) });
        try {
          const store = postgresStore({
            query: async (text, params) => ({ rows: await sql.unsafe(text, params as never[]) }),
            table,
          });
          await store.migrate();
          await store.migrate();
          expect(notices).toEqual([]);
          // What it keeps quiet: the same statements run as they are do notice.
          await sql.unsafe(postgresStore.schema(table));
          expect(notices.length).toBeGreaterThan(0);
        } finally {
          await sql.end({ timeout: 1 });
        }
      });

      it('creates exactly what postgresStore.schema() says, so a migration tool can run that instead', async () => {
        const table = uniqueTable(`${name}_schema`);
        tables.push(table);
        for (const statement of postgresStore
          .schema(table)
          .split(';')
          .filter((s) => s.trim())) {
          await query(statement, []);
        }
        const store = postgresStore({ query, table });
        await store.set('k', 'v', 10_000);
        expect(await store.get('k')).toBe('v');
      });

      it('works in a schema of its own', async () => {
        const schema = uniqueTable(`${name}_schema`);
        await query(`CREATE SCHEMA "${schema}"`, []);
        try {
          const store = postgresStore({ query, table: `${schema}.tfa` });
          await store.migrate();
          await store.set('k', 'v', 10_000);
          expect(await store.get('k')).toBe('v');
        } finally {
          await query(`DROP SCHEMA "${schema}" CASCADE`, []);
        }
      });

      it('without it, every call fails with what to do', async () => {
        const table = uniqueTable(`${name}_missing`);
        const store = postgresStore({ query, table });
        await expect(store.get('k')).rejects.toThrow(`table "${table}" does not exist`);
      });
    });

    describe('one statement per call', () => {
      it('sends exactly one query per method call, getMany included', async () => {
        const { store, rec } = await freshStore('rounds');
        const perCall = async (run: () => Promise<unknown>) => {
          rec.reset();
          await run();
          return rec.verbs();
        };
        expect(await perCall(() => store.set('a', '1', 10_000))).toEqual(['INSERT']);
        expect(await perCall(() => store.get('a'))).toEqual(['SELECT']);
        expect(await perCall(() => store.getMany(['a', 'b', 'c', 'a']))).toEqual(['SELECT']);
        expect(await perCall(() => store.getMany([]))).toEqual([]);
        expect(await perCall(() => store.consume('a'))).toEqual(['DELETE']);
        expect(await perCall(() => store.delete('a'))).toEqual(['DELETE']);
        expect(await perCall(() => store.increment('n', 10_000))).toEqual(['INSERT']);
        expect(await perCall(() => store.increment('n', 10_000))).toEqual(['INSERT']);
      });
    });

    describe('increment', () => {
      async function expiresIn(table: string, key: string): Promise<number> {
        const { rows } = await query(
          `SELECT (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms FROM "${table}" WHERE key = $1`,
          [key],
        );
        return Number((rows[0] as { ms: number }).ms);
      }

      it('sets the TTL when it creates the row and never extends it', async () => {
        const { table, store } = await freshStore('ttl');
        expect(await store.increment('n', 10_000)).toBe(1);
        const first = await expiresIn(table, 'n');
        expect(first).toBeGreaterThan(9_000);
        await sleep(60);
        expect(await store.increment('n', 60_000)).toBe(2);
        const second = await expiresIn(table, 'n');
        expect(second).toBeLessThan(first);
        expect(second).toBeGreaterThan(9_000);
      });

      it('counts an expired row as absent: restarts at 1 with the new TTL', async () => {
        const { table, store } = await freshStore('expired');
        await store.increment('n', 10_000);
        await store.increment('n', 10_000);
        await query(`UPDATE "${table}" SET expires_at = now() - interval '1 second' WHERE key = 'n'`, []);
        expect(await store.increment('n', 60_000)).toBe(1);
        expect(await expiresIn(table, 'n')).toBeGreaterThan(59_000);
        expect(await store.increment('n', 10_000)).toBe(2);
      });

      it('refuses to count a key that holds something else, and leaves it alone', async () => {
        const { store } = await freshStore('notcount');
        await store.set('k', 'stored-value-77', 10_000);
        const error = await rejection(store.increment('k', 10_000));
        expect((error as Error).message).toMatch(/not a counter/);
        expect(inspect(error, { depth: 10, showHidden: true })).not.toContain('stored-value-77');
        expect(await store.get('k')).toBe('stored-value-77');
      });
    });

    describe('consume', () => {
      it('removes an expired row without returning it', async () => {
        const { table, store } = await freshStore('consume');
        await store.set('k', 'v', 10_000);
        await query(`UPDATE "${table}" SET expires_at = now() - interval '1 second' WHERE key = 'k'`, []);
        expect(await store.consume('k')).toBeUndefined();
        const { rows } = await query(`SELECT count(*)::int AS n FROM "${table}"`, []);
        expect(rows).toEqual([{ n: 0 }]);
      });
    });

    describe('the sweep', () => {
      async function countRows(table: string): Promise<{ expired: number; live: number }> {
        const { rows } = await query(
          `SELECT count(*) FILTER (WHERE expires_at <= now())::int AS expired,
                  count(*) FILTER (WHERE expires_at > now())::int AS live FROM "${table}"`,
          [],
        );
        return rows[0] as { expired: number; live: number };
      }
      async function addExpired(table: string, count: number): Promise<void> {
        await query(
          `INSERT INTO "${table}" (key, value, expires_at)
           SELECT 'old:' || i, 'v', now() - interval '1 minute' FROM generate_series(1, $1::int) AS i`,
          [count],
        );
      }

      it('deletes expired rows in batches of at most 500, never a live one', async () => {
        const { table, store } = await freshStore('sweep');
        await addExpired(table, 1_200);
        await store.set('live', 'v', 60_000);
        expect(await store.sweep()).toBe(500);
        expect(await store.sweep()).toBe(500);
        expect(await store.sweep()).toBe(200);
        expect(await store.sweep()).toBe(0);
        expect(await countRows(table)).toEqual({ expired: 0, live: 1 });
      });

      it('runs by itself on writes, without a timer or another process, until the backlog is gone', async () => {
        const { table, store, rec } = await freshStore('auto');
        await addExpired(table, 1_200);
        const sweeps = () => rec.calls.filter((c) => c.text.includes('SKIP LOCKED')).length;
        // The 100th write starts the first sweep, not an earlier one.
        for (let i = 1; i < 100; i++) await store.increment(`c:${i % 10}`, 60_000);
        expect(sweeps()).toBe(0);
        // A full batch makes the next write sweep again, until a batch comes back short. The writes
        // wait for nothing: how many pass before the backlog is gone depends on the machine.
        let writes = 99;
        while ((await countRows(table)).expired > 0 && writes < 1_000) {
          await store.increment(`c:${writes++ % 10}`, 60_000);
        }
        await store.shutdown(); // waits for a sweep in flight
        expect(sweeps()).toBe(3);
        expect(await countRows(table)).toEqual({ expired: 0, live: 10 });
      });

      it('keeps running when a sweep fails, and never rejects or throws into the caller', async () => {
        let failSweeps = true;
        const table = uniqueTable(`${name}_sweepfail`);
        tables.push(table);
        const store = postgresStore({
          table,
          query: async (text, params) => {
            if (failSweeps && text.includes('SKIP LOCKED')) throw new Error('sweep failed');
            return query(text, params);
          },
        });
        await store.migrate();
        await addExpired(table, 10);
        for (let i = 0; i < 100; i++) await store.set(`k:${i}`, 'v', 60_000);
        await store.shutdown();
        expect((await countRows(table)).expired).toBe(10);
        failSweeps = false;
        for (let i = 0; i < 100; i++) await store.set(`k:${i}`, 'v', 60_000);
        await store.shutdown();
        expect((await countRows(table)).expired).toBe(0);
      });
    });

    describe('with 20,000 rows', () => {
      const table = uniqueTable(`${name}_plans`);
      tables.push(table);
      const plan = async (text: string, params: unknown[]) => {
        const { rows } = await query(`EXPLAIN ${text}`, params);
        return rows.map((r) => Object.values(r as object)[0]).join('\n');
      };

      it('answers every statement from an index, never a sequential scan', async () => {
        const rec = recordQueries(query);
        const store = postgresStore({ query: rec.query, table });
        await store.migrate();
        await query(
          `INSERT INTO "${table}" (key, value, expires_at)
           SELECT 'k:' || i, 'v', now() + (i % 100 - 50) * interval '1 minute' FROM generate_series(1, 20000) AS i`,
          [],
        );
        await query(`ANALYZE "${table}"`, []);
        rec.reset();
        await store.get('k:1');
        await store.getMany(['k:1', 'k:2', 'k:3']);
        await store.set('k:1', 'v', 10_000);
        await store.increment('n', 10_000);
        await store.consume('k:2');
        await store.delete('k:3');
        await store.sweep();
        expect(rec.calls).toHaveLength(7);
        for (const { text, params } of rec.calls) {
          const shown = await plan(text, params);
          expect(shown, text).not.toMatch(/Seq Scan/);
          if (/SKIP LOCKED/.test(text))
            expect(shown).toMatch(new RegExp(`Index Scan using "?${table}_expires_at`));
        }
      });
    });

    describe('when the database refuses a write', () => {
      it('rejects without the value anywhere in the error', async () => {
        const { table, store } = await freshStore('refuse');
        const secret = 'stored-value-5e3c1';
        await query(`ALTER TABLE "${table}" ADD CONSTRAINT no_secrets CHECK (value NOT LIKE 'stored-%')`, []);
        const error = await rejection(store.set('k', secret, 10_000));
        expect(error).toBeInstanceOf(Error);
        expect((error as { code?: string }).code).toBe('23514');
        expect(inspect(error, { depth: 10, showHidden: true })).not.toContain(secret);
      });
    });
  });
}
