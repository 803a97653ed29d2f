/** postgresStore() without a database: options, answers in odd shapes, errors, ordering. */
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CHALLENGE_RECORD_FIELDS } from '../../src/challenge.js';
import { TwoFactorConfigError } from '../../src/errors.js';
import { type PostgresQuery, postgresStore } from '../../src/stores/postgres-store.js';
import { recordQueries } from '../helpers/postgres.js';
import { verifyAttemptInput } from '../helpers/verify-attempt.js';

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
        expect(error.message).toContain('(text, params, name) => pool.query({ name, text, values: params })');
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

  describe('prepared statements', () => {
    it('names every statement but the migration, the same for the same text, another for another table', async () => {
      const run = async (table: string) => {
        const rec = recordQueries(async (text) => ({
          rows: text.includes('_verify"(') ? [{ outcome: 'missing', clock_ms: '1' }] : [{ value: '1' }],
        }));
        const store = postgresStore({ query: rec.query, table });
        await store.migrate();
        await store.get('k');
        await store.getMany(['k', 'l']);
        await store.set('k', 'v', 1000);
        await store.increment('n', 1000);
        await store.compareAndSet('k', undefined, 'v', 1000);
        await store.compareAndSet('k', 'v', 'w', 1000);
        await Promise.all([store.delete('k'), store.consume('l')]);
        await store.sweep();
        await store.verifyAttempt({
          keys: { lock: 'l', challenge: 'c', state: 's', attempts: 'a', failures: 'f', failedAt: 'fa' },
          challengeFields: CHALLENGE_RECORD_FIELDS,
          userId: 'u',
          session: 's',
          phone: 'p',
          hashes: ['h'],
          now: 1,
          maxAttempts: 3,
          lockout: { threshold: 5, baseMs: 1000, maxDelayMs: 60_000, hardLimit: 10 },
          failureTtlMs: 60_000,
        });
        return rec.calls;
      };
      const [first, again, other] = [await run('tfa_a'), await run('tfa_a'), await run('tfa_b')];
      expect(first[0]?.name).toBeUndefined();
      const named = first.slice(1);
      // get, getMany, set, increment, the two compareAndSets, one DELETE for the delete and the
      // consume of one tick, sweep, verify.
      expect(named).toHaveLength(9);
      for (const call of named) expect(call.name).toMatch(/^tfa_[0-9a-f]{16}$/);
      // One name per text, and one text per name.
      const byName = new Map(named.map((call) => [call.name, call.text]));
      expect(byName.size).toBe(new Set(named.map((call) => call.text)).size);
      expect(again.map((call) => call.name)).toEqual(first.map((call) => call.name));
      const otherNames = new Set(other.map((call) => call.name));
      for (const call of named) expect(otherNames.has(call.name)).toBe(false);
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

    it('rejects every delete and consume that went in one statement, and sends the next tick apart', async () => {
      const failure = new Error('Connection terminated unexpectedly');
      const rec = recordQueries(async () => {
        throw failure;
      });
      const store = postgresStore({ query: rec.query });
      const results = await Promise.all(
        [store.consume('a'), store.delete('b'), store.consume('c')].map(rejection),
      );
      expect(results).toEqual([failure, failure, failure]);
      expect(rec.calls).toHaveLength(1);
      expect(rec.calls[0]?.params).toEqual([['a', 'b', 'c']]);
      await rejection(store.delete('d'));
      expect(rec.calls).toHaveLength(2);
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

  describe('verifyAttempt, as the app sees the database', () => {
    const input = verifyAttemptInput;
    /** A database whose clock runs `skewMs` ahead, answering each call with the next outcome. */
    function database(skewMs: number, outcomes: string[]) {
      const deadlines: unknown[] = [];
      const query: PostgresQuery = async (_text, params) => {
        deadlines.push(params[10]);
        return { rows: [{ outcome: outcomes.shift(), clock_ms: String(Date.now() + skewMs) }] };
      };
      return { store: postgresStore({ query }), deadlines };
    }

    it('probes the database clock first (a deadline every clock is past), then sends the deadline in that clock', async () => {
      const { store, deadlines } = database(3_600_000, ['late', 'missing', 'missing']);
      const first = Date.now() + 60_000;
      expect(await store.verifyAttempt(input(first))).toEqual({ outcome: 'missing' });
      const deadline = Date.now() + 60_000;
      await store.verifyAttempt(input(deadline));
      expect(deadlines).toHaveLength(3);
      expect(deadlines[0]).toBe(1);
      // Never later than the app's deadline in the database's clock (server-deadline.test.ts).
      expect(deadlines[1]).toBeLessThanOrEqual(first + 3_600_000);
      expect(deadlines[2]).toBeLessThanOrEqual(deadline + 3_600_000);
      expect(deadlines[2]).toBeGreaterThan(deadline + 3_600_000 - 5_000);
    });

    it('measures again and retries once when it hears late before the deadline (a clock jumped)', async () => {
      const { store, deadlines } = database(0, ['missing', 'late', 'expired', 'late']);
      await store.verifyAttempt(input());
      // 'late' well before the deadline: measured again and sent again, whose answer counts.
      expect(await store.verifyAttempt(input(Date.now() + 60_000))).toEqual({ outcome: 'expired' });
      expect(deadlines).toHaveLength(3);
      // 'late' after the deadline is the answer.
      expect(await store.verifyAttempt(input(Date.now() - 1))).toEqual({ outcome: 'late' });
      expect(deadlines).toHaveLength(4);
    });

    it('rejects rows that are not an answer, and names the fix for a database without the function', async () => {
      for (const rows of [
        [],
        [{ outcome: 'right', clock_ms: '1' }],
        [{ outcome: 'locked', clock_ms: '1' }],
      ]) {
        const store = postgresStore({ query: async () => ({ rows }) });
        await expect(store.verifyAttempt(input())).rejects.toThrow(/postgresStore: the verify function/);
      }
      const store = postgresStore({
        table: 'auth.tfa',
        query: async () => {
          throw Object.assign(new Error('function auth.tfa_verify(...) does not exist'), { code: '42883' });
        },
      });
      const error = await rejection(store.verifyAttempt(input()));
      expect((error as Error).message).toContain(
        'function "auth.tfa_verify" does not exist: create it with `await store.migrate()` or run `postgresStore.schema()`',
      );
      expect((error as Error).cause).toMatchObject({ code: '42883' });
    });

    describe('while the verify function is missing', () => {
      afterEach(() => {
        vi.useRealTimers();
      });

      /** A database without the function until `create()`; counts the calls of the function. */
      function withoutFunction() {
        let exists = false;
        const calls = { verify: 0 };
        const query: PostgresQuery = async (text) => {
          if (!/^SELECT .*_verify/.test(text)) return { rows: [] };
          calls.verify++;
          if (!exists)
            throw Object.assign(new Error('function tfa_store_verify(...) does not exist'), {
              code: '42883',
            });
          return { rows: [{ outcome: 'missing', clock_ms: String(Date.now()) }] };
        };
        return { store: postgresStore({ query }), calls, create: () => (exists = true) };
      }

      it('calls it once, then answers unavailable at once until a minute has passed', async () => {
        vi.useFakeTimers({ toFake: ['Date'], now: Date.UTC(2026, 10, 30, 12) });
        const { store, calls, create } = withoutFunction();
        for (let i = 0; i < 3; i++) {
          const error = await rejection(store.verifyAttempt(input()));
          expect((error as Error).message).toContain('function "tfa_store_verify" does not exist');
        }
        expect(calls.verify).toBe(1);
        // The app's own migration tool creates it: picked up once the minute has passed.
        create();
        vi.setSystemTime(Date.now() + 60_000);
        expect(await store.verifyAttempt(input())).toEqual({ outcome: 'missing' });
        expect(calls.verify).toBe(2);
      });

      it('tries it again at once after migrate()', async () => {
        const { store, calls, create } = withoutFunction();
        await rejection(store.verifyAttempt(input()));
        create();
        await store.migrate();
        expect(await store.verifyAttempt(input())).toEqual({ outcome: 'missing' });
        expect(calls.verify).toBe(2);
      });
    });
  });
});
