/**
 * postgresStore() on a real PostgreSQL, through both clients the README documents: the store
 * contract, checkStore, the migration, one statement per call, TTLs on the database clock, the
 * sweep, and query plans that never scan the table.
 */
import { inspect } from 'node:util';
import pg from 'pg';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { CHALLENGE_RECORD_FIELDS } from '../../src/challenge.js';
import { postgresStore } from '../../src/stores/postgres-store.js';
import type { VerifyAttemptInput } from '../../src/stores/store.js';
import { checkStore } from '../../src/testing/check-store.js';
import {
  POSTGRES_CLIENTS,
  postgresUrl,
  recordQueries,
  requirePostgres,
  uniqueTable,
  usePostgresTables,
} from '../helpers/postgres.js';
import { runStoreContract } from '../helpers/store-contract.js';

const postgresUp = await requirePostgres();

/** A verify attempt with no challenge stored: the function is there, and answers `missing`. */
const verifyInput: VerifyAttemptInput = {
  keys: { lock: 'l', challenge: 'c', state: 's', attempts: 'a', failures: 'f', failedAt: 'fa' },
  challengeFields: CHALLENGE_RECORD_FIELDS,
  userId: 'u1',
  session: 'sess',
  phone: 'phone-hash',
  hashes: ['hash'],
  now: Date.now(),
  maxAttempts: 3,
  lockout: { threshold: 5, baseMs: 1000, maxDelayMs: 3_600_000, hardLimit: 10 },
  failureTtlMs: 60_000,
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The rejection reason, or the string 'resolved'. */
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );

for (const { name, connect } of POSTGRES_CLIENTS) {
  describe.skipIf(!postgresUp)(`postgresStore() on ${name}`, () => {
    const { query, newTable, freshStore } = usePostgresTables(connect, name);

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
        const table = newTable('migrate');
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
        const table = newTable('notice');
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
        const table = newTable('schema');
        // As a migration tool runs a file: one script (simple query protocol), twice over.
        const tool = new pg.Client({ connectionString: postgresUrl() });
        await tool.connect();
        try {
          await tool.query(postgresStore.schema(table));
          await tool.query(postgresStore.schema(table));
        } finally {
          await tool.end();
        }
        const store = postgresStore({ query, table });
        await store.set('k', 'v', 10_000);
        expect(await store.get('k')).toBe('v');
        expect(await store.verifyAttempt(verifyInput)).toEqual({ outcome: 'missing' });
      });

      it('works in a schema of its own', async () => {
        const schema = uniqueTable(`${name}_schema`);
        await query(`CREATE SCHEMA "${schema}"`, []);
        try {
          const store = postgresStore({ query, table: `${schema}.tfa` });
          await store.migrate();
          await store.set('k', 'v', 10_000);
          expect(await store.get('k')).toBe('v');
          // The verify function lives in the table's schema, whatever the search_path says.
          const { rows } = await query(
            'SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = $1',
            ['tfa_verify'],
          );
          expect(rows).toContainEqual({ nspname: schema });
          expect(await store.verifyAttempt(verifyInput)).toEqual({ outcome: 'missing' });
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
        // The send budgets' compare-and-set: one statement, where the fallback lock would take four.
        expect(await perCall(() => store.compareAndSet('b', undefined, 'one', 10_000))).toEqual(['INSERT']);
        expect(await perCall(() => store.compareAndSet('b', 'one', 'two', 10_000))).toEqual(['UPDATE']);
      });

      it('compares and sets atomically, an expired row counting as absent', async () => {
        const { table, store } = await freshStore('cas');
        expect(await store.compareAndSet('b', undefined, 'one', 10_000)).toBe(true);
        expect(await store.compareAndSet('b', undefined, 'other', 10_000)).toBe(false);
        expect(await store.compareAndSet('b', 'stale', 'other', 10_000)).toBe(false);
        expect(await store.compareAndSet('b', 'one', 'two', 10_000)).toBe(true);
        expect(await store.get('b')).toBe('two');
        await query(`UPDATE "${table}" SET expires_at = now() - interval '1 second' WHERE key = 'b'`, []);
        expect(await store.compareAndSet('b', 'two', 'three', 10_000)).toBe(false);
        expect(await store.compareAndSet('b', undefined, 'fresh', 10_000)).toBe(true);
        expect(await store.get('b')).toBe('fresh');
        const stores = Array.from({ length: 10 }, () => postgresStore({ query, table }));
        const won = await Promise.all(
          stores.flatMap((s, i) =>
            Array.from({ length: 5 }, (_, j) => s.compareAndSet('b', 'fresh', `r${i}${j}`, 10_000)),
          ),
        );
        expect(won.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('deletes and consumes made together', () => {
      it('go as one statement, each consume getting its own live value, once', async () => {
        const { table, store, rec } = await freshStore('batch');
        await store.set('challenge', 'the-challenge', 10_000);
        await store.set('old', 'expired-value', 10_000);
        await query(`UPDATE "${table}" SET expires_at = now() - interval '1 second' WHERE key = 'old'`, []);
        await store.set('counter', '3', 10_000);
        await store.set('lock', '1', 10_000);
        rec.reset();
        // What a right verify does: take the challenge and clear the failure count, together.
        const results = await Promise.all([
          store.consume('challenge'),
          store.consume('challenge'),
          store.consume('old'),
          store.consume('never-set'),
          store.delete('counter'),
          store.delete('lock'),
          store.delete('never-set-either'),
        ]);
        expect(rec.verbs()).toEqual(['DELETE']);
        expect(results.slice(0, 4).sort()).toEqual(['the-challenge', undefined, undefined, undefined]);
        expect(results.slice(4)).toEqual([undefined, undefined, undefined]);
        const { rows } = await query(`SELECT key FROM "${table}"`, []);
        expect(rows).toEqual([]);
      });

      it('still give one value to exactly one of 50 concurrent consumers: ten stores, ten statements racing', async () => {
        const { table, store } = await freshStore('batchrace');
        const rec = recordQueries(query);
        const stores = Array.from({ length: 10 }, () => postgresStore({ query: rec.query, table }));
        for (let round = 0; round < 5; round++) {
          await store.set('race', 'winner', 10_000);
          rec.reset();
          const results = await Promise.all(
            stores.flatMap((s) => Array.from({ length: 5 }, () => s.consume('race'))),
          );
          expect(rec.calls).toHaveLength(10);
          expect(results.filter((r) => r === 'winner')).toHaveLength(1);
          expect(results.filter((r) => r === undefined)).toHaveLength(49);
        }
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
        const table = newTable('sweepfail');
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
      const table = newTable('plans');
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
