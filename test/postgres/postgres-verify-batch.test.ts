/**
 * postgresStore().verifyAttempt under load: verifies that find the store's verify statements all in
 * flight go to the database together, in one statement of `<table>_verify_many` (verify-batch.ts),
 * and each gets what it would get alone: an account locked elsewhere is sent again alone (where it
 * waits), an account whose verify fails fails alone, a database without the batch function and a
 * stricter isolation level verify alone. One winner of many on one account holds inside a batch too.
 */
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { postgresStore } from '../../src/stores/postgres-store.js';
import type { VerifyAttemptInput, VerifyAttemptResult } from '../../src/stores/store.js';
import {
  lockSeedOf,
  POSTGRES_CLIENTS,
  postgresUrl,
  recordQueries,
  requirePostgres,
  uniqueTable,
  usePostgres,
} from '../helpers/postgres.js';
import { RIGHT, verifyInput, verifyKeys } from '../helpers/verify-attempt.js';
import { challengeRecord } from '../helpers/verify-attempt-contract.js';

const postgresUp = await requirePostgres();

/** Account `name`'s verify (its own keys), with the right code unless told otherwise. */
const account = (name: string, over: Partial<VerifyAttemptInput> = {}) =>
  verifyInput({ keys: verifyKeys(`${name}:`), hashes: [RIGHT], ...over });

const isBatch = (text: string) => text.includes('_verify_many"(');

for (const { name, connect } of POSTGRES_CLIENTS) {
  describe.skipIf(!postgresUp)(`postgresStore().verifyAttempt batched on ${name}`, () => {
    const tables: string[] = [];
    const query = usePostgres(
      () => connect({ max: 10 }),
      () => tables,
    );
    async function freshStore(label: string, accounts: string[]) {
      const table = uniqueTable(`${name}_${label}`);
      tables.push(table);
      const rec = recordQueries(query);
      const store = postgresStore({ query: rec.query, table });
      await store.migrate();
      for (const a of accounts) await store.set(verifyKeys(`${a}:`).challenge, challengeRecord(), 60_000);
      rec.reset();
      return { table, rec, store };
    }
    /** The account whose statement goes at once, so the verifies after it wait and go together. */
    const fillers = ['fill0'];

    it('sends the verifies that wait as one statement, each with its own answer', async () => {
      const names = Array.from({ length: 20 }, (_, i) => `a${i}`);
      const { store, rec } = await freshStore('many', names);
      const results = await Promise.all(
        names.map((a, i) => store.verifyAttempt(account(a, i % 2 ? { hashes: ['wrong-hash'] } : {}))),
      );
      results.forEach((result, i) => {
        if (i % 2) expect(result).toMatchObject({ outcome: 'wrong', attempts: 1, failures: 1 });
        else expect(result).toMatchObject({ outcome: 'right', challenge: challengeRecord() });
      });
      expect(rec.calls.length).toBeLessThan(names.length);
      expect(rec.calls.filter((c) => isBatch(c.text)).length).toBeGreaterThan(0);
      // What each committed: the right codes took their challenges, the wrong ones counted.
      for (const [i, a] of names.entries()) {
        const keys = verifyKeys(`${a}:`);
        expect(await store.get(keys.challenge)).toBe(i % 2 ? challengeRecord() : undefined);
        expect(await store.get(keys.attempts)).toBe(i % 2 ? '1' : undefined);
      }
    });

    it('keeps one winner of many on one account, and at most maxAttempts compared, inside a batch', async () => {
      const { store, rec } = await freshStore('one', [...fillers, 'r', 'w']);
      const all = await Promise.all([
        ...fillers.map((a) => store.verifyAttempt(account(a))),
        ...Array.from({ length: 10 }, () => store.verifyAttempt(account('r'))),
        ...Array.from({ length: 10 }, () => store.verifyAttempt(account('w', { hashes: ['wrong-hash'] }))),
      ]);
      const rights = all.slice(fillers.length, fillers.length + 10).map((r) => r.outcome);
      const wrongs = all.slice(fillers.length + 10).map((r) => r.outcome);
      expect(rights.filter((o) => o === 'right')).toHaveLength(1);
      expect(rights.filter((o) => o !== 'right' && o !== 'missing')).toEqual([]);
      expect(wrongs.filter((o) => o === 'wrong')).toHaveLength(3);
      expect(wrongs.filter((o) => o !== 'wrong' && o !== 'exhausted')).toEqual([]);
      expect(await store.get(verifyKeys('w:').attempts)).toBe('3');
      expect(rec.calls.filter((c) => isBatch(c.text)).length).toBeGreaterThan(0);
    });

    it('sends an account locked elsewhere again alone, where it waits; the rest of its batch answers meanwhile', async () => {
      const { store, rec, table } = await freshStore('locked', [...fillers, 'held', 'b', 'c']);
      const holder = new pg.Client({ connectionString: postgresUrl() });
      await holder.connect();
      let held: Promise<VerifyAttemptResult> | undefined;
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2::bigint))', [
          verifyKeys('held:').lock,
          lockSeedOf(table),
        ]);
        const first = fillers.map((a) => store.verifyAttempt(account(a)));
        held = store.verifyAttempt(account('held'));
        let settled = false;
        void held.then(
          () => {
            settled = true;
          },
          () => {
            settled = true;
          },
        );
        const rest = [store.verifyAttempt(account('b')), store.verifyAttempt(account('c'))];
        for (const result of await Promise.all([...first, ...rest])) expect(result.outcome).toBe('right');
        // The batch that held it answered `retry` for it: it went again alone and waits for the lock.
        const batch = rec.calls.find((c) => isBatch(c.text));
        expect(batch?.params[0]).toContain(verifyKeys('held:').lock);
        await query('SELECT 1', []);
        expect(settled).toBe(false);
      } finally {
        await holder.query('COMMIT');
        await holder.end();
      }
      expect((await held)?.outcome).toBe('right');
    });

    it('fails only the account whose verify fails; nothing of the failed batch is committed', async () => {
      const { store, rec } = await freshStore('fails', [...fillers, 'x', 'y', 'z']);
      await store.set(verifyKeys('x:').attempts, 'not-a-count', 60_000);
      rec.reset();
      const settled = await Promise.allSettled(
        [...fillers, 'y', 'x', 'z'].map((a) => store.verifyAttempt(account(a))),
      );
      const outcome = (s: PromiseSettledResult<VerifyAttemptResult>) =>
        s.status === 'fulfilled' ? s.value.outcome : (s.reason as Error).message;
      expect(settled.map(outcome)).toEqual([
        ...fillers.map(() => 'right'),
        'right',
        expect.stringContaining('the attempts key holds a value that is not a counter'),
        'right',
      ]);
      // The batch failed as a whole, then each of its verifies went alone: y and z took their
      // challenges there, so the batch had taken nothing.
      expect(rec.calls.filter((c) => isBatch(c.text))).toHaveLength(1);
      expect(rec.calls).toHaveLength(fillers.length + 1 + 3);
    });

    /** A verify with a deadline far ahead; once one has come back, the store knows the clock offset. */
    const later = (a: string, over: Partial<VerifyAttemptInput> = {}) =>
      account(a, { deadline: Date.now() + 60_000, ...over });

    it('answers the rest of a batch at once when one account waits on a row lock (the batch gives up, each goes alone)', async () => {
      const { store, table } = await freshStore('rowlock', [...fillers, 'w', 'a', 'b']);
      await store.verifyAttempt(later('w', { hashes: ['wrong-hash'] }));
      const holder = new pg.Client({ connectionString: postgresUrl() });
      await holder.connect();
      let b: Promise<VerifyAttemptResult> | undefined;
      try {
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM "${table}" WHERE key = $1 FOR UPDATE`, [
          verifyKeys('b:').challenge,
        ]);
        const first = fillers.map((f) => store.verifyAttempt(later(f)));
        const a = store.verifyAttempt(later('a', { hashes: ['wrong-hash'] }));
        b = store.verifyAttempt(later('b'));
        void b.catch(() => {});
        await Promise.all(first);
        // a must not wait for b's lock: the old batch held a's answer (and commit) until b's lock
        // was released. (The fallback only keeps a failing run from hanging.)
        let fallback: NodeJS.Timeout | undefined;
        const order = await Promise.race([
          a.then((r) => ({ first: 'a', outcome: r.outcome })),
          new Promise<{ first: string }>((resolve) => {
            fallback = setTimeout(() => resolve({ first: 'lock released' }), 5_000);
          }),
        ]);
        clearTimeout(fallback);
        expect(order).toEqual({ first: 'a', outcome: 'wrong' });
        expect(await store.get(verifyKeys('a:').attempts)).toBe('1');
      } finally {
        await holder.query('COMMIT');
        await holder.end();
      }
      expect((await b)?.outcome).toBe('right');
    });

    it('changes nothing for an item whose deadline passed while a later item of its batch ran (each goes alone)', async () => {
      const { store, table, rec } = await freshStore('slow', [...fillers, 'w', 'a', 'b']);
      await store.verifyAttempt(later('w', { hashes: ['wrong-hash'] }));
      // b's take of its challenge takes 1.5 s (a trigger sleeps once), after a ran in the same batch.
      const slow = `"${table}_slow"`;
      const once = `"${table}_once"`;
      await query(`CREATE SEQUENCE ${once}`, []);
      await query(
        `CREATE FUNCTION ${slow}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF nextval('${once}') = 1 THEN PERFORM pg_sleep(1.5); END IF; RETURN OLD; END $$`,
        [],
      );
      await query(
        `CREATE TRIGGER slow BEFORE DELETE ON "${table}" FOR EACH ROW
         WHEN (OLD.key = '${verifyKeys('b:').challenge}') EXECUTE PROCEDURE ${slow}()`,
        [],
      );
      try {
        rec.reset();
        const first = fillers.map((f) => store.verifyAttempt(later(f)));
        // Past a's deadline (700 ms) when the batch ends; long before it when the batch starts.
        const a = store.verifyAttempt(account('a', { hashes: ['wrong-hash'], deadline: Date.now() + 700 }));
        const b = store.verifyAttempt(later('b'));
        await Promise.all(first);
        expect((await a).outcome).toBe('late');
        expect((await b).outcome).toBe('right');
        expect(rec.calls.filter((c) => isBatch(c.text))).toHaveLength(1);
        // What a's caller was told (late: given up) is what happened: nothing of a was committed.
        expect(await store.get(verifyKeys('a:').attempts)).toBeUndefined();
        expect(await store.get(verifyKeys('a:').failures)).toBeUndefined();
      } finally {
        await query(`DROP TRIGGER slow ON "${table}"`, []);
        await query(`DROP FUNCTION ${slow}()`, []);
        await query(`DROP SEQUENCE ${once}`, []);
      }
    });

    it('sends each verify alone when the query wrapper refuses the batch at once (nothing was sent)', async () => {
      const table = uniqueTable(`${name}_refused`);
      tables.push(table);
      let refused = 0;
      const store = postgresStore({
        query: (text, params, statement) => {
          if (isBatch(text) && text.startsWith('SELECT')) {
            refused++;
            throw new TypeError('this wrapper does not take that statement');
          }
          return query(text, params, statement);
        },
        table,
      });
      await store.migrate();
      const names = [...fillers, 'p', 'q', 'r'];
      for (const a of names) await store.set(verifyKeys(`${a}:`).challenge, challengeRecord(), 60_000);
      const results = await Promise.all(names.map((a) => store.verifyAttempt(account(a))));
      expect(results.map((r) => r.outcome)).toEqual(names.map(() => 'right'));
      expect(refused).toBe(1);
    });

    it('verifies alone on a database migrated before the batch function existed', async () => {
      const { store, rec, table } = await freshStore('old', [...fillers, 'p', 'q', 'r', 's', 't']);
      await query(`DROP FUNCTION "${table}_verify_many"`, []);
      const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
      try {
        const results = await Promise.all(
          [...fillers, 'p', 'q', 'r'].map((a) => store.verifyAttempt(account(a))),
        );
        expect(results.map((r) => r.outcome)).toEqual([...fillers, 'p', 'q', 'r'].map(() => 'right'));
        expect(rec.calls.filter((c) => isBatch(c.text))).toHaveLength(1);
        // Said once per store, with the fix; batches stay off, then are tried again after migrate().
        await store.migrate();
        await query(`DROP FUNCTION "${table}_verify_many"`, []);
        for (const a of fillers) await store.set(verifyKeys(`${a}:`).challenge, challengeRecord(), 60_000);
        rec.reset();
        await Promise.all([...fillers, 's', 't'].map((a) => store.verifyAttempt(account(a))));
        expect(rec.calls.filter((c) => isBatch(c.text))).toHaveLength(1);
        const said = warn.mock.calls.map(([message]) => String(message));
        expect(said).toEqual([expect.stringContaining(`"${table}_verify_many" does not exist`)]);
        expect(said[0]).toContain('await store.migrate()');
        expect(said[0]).toContain('postgresStore.schema()');
      } finally {
        warn.mockRestore();
      }
    });
  });
}

describe.skipIf(!postgresUp)('postgresStore().verifyAttempt batched under repeatable read', () => {
  it('runs nothing in a batch (every verify is sent again alone), and each answers as alone', async () => {
    const pool = new pg.Pool({
      connectionString: postgresUrl(),
      max: 10,
      options: '-c default_transaction_isolation=repeatable\\ read',
    });
    const table = uniqueTable('batch_rr');
    const rec = recordQueries((text, params, name) => pool.query({ name, text, values: params }));
    const store = postgresStore({ query: rec.query, table });
    try {
      await store.migrate();
      const names = Array.from({ length: 1 + 3 }, (_, i) => `rr${i}`);
      for (const a of names) await store.set(verifyKeys(`${a}:`).challenge, challengeRecord(), 60_000);
      rec.reset();
      const results = await Promise.all(names.map((a) => store.verifyAttempt(account(a))));
      expect(results.map((r) => r.outcome)).toEqual(names.map(() => 'right'));
      expect(rec.calls.filter((c) => isBatch(c.text))).toHaveLength(1);
      expect(rec.calls).toHaveLength(names.length + 1);
    } finally {
      await pool.query(`DROP TABLE IF EXISTS "${table}"`);
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_verify"`);
      await pool.query(`DROP FUNCTION IF EXISTS "${table}_verify_many"`);
      await pool.end();
    }
  });
});
