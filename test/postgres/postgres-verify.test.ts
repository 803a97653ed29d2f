/**
 * postgresStore().verifyAttempt on a real PostgreSQL, through both clients: one statement per
 * verify (the PL/pgSQL function `<table>_verify` that `migrate()` creates), the deadline on the
 * database's clock, and a clear failure on a database migrated before the function existed. The
 * outcomes themselves, and one winner of 50, are the store contract's (postgres-store.test.ts).
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { CHALLENGE_RECORD_FIELDS } from '../../src/challenge.js';
import { statements } from '../../src/stores/postgres/sql.js';
import { postgresStore } from '../../src/stores/postgres-store.js';
import type { VerifyAttemptInput } from '../../src/stores/store.js';
import {
  dropTable,
  lockSeedOf,
  lockWaits,
  POSTGRES_CLIENTS,
  postgresUrl,
  requirePostgres,
  storeOnPool,
  uniqueTable,
  usePoolPerTest,
  usePostgresTables,
} from '../helpers/postgres.js';
import { VERIFY_KEYS as KEYS, VERIFY_NOW as NOW, RIGHT, verifyInput } from '../helpers/verify-attempt.js';
import { challengeRecord } from '../helpers/verify-attempt-contract.js';

const postgresUp = await requirePostgres();

const input = verifyInput;

for (const { name, connect } of POSTGRES_CLIENTS) {
  describe.skipIf(!postgresUp)(`postgresStore().verifyAttempt on ${name}`, () => {
    const { query, freshStore } = usePostgresTables(connect, name);

    it('is one statement per verify, whatever the outcome', async () => {
      const { store, rec } = await freshStore('one');
      const perCall = async (over: Partial<VerifyAttemptInput>) => {
        rec.reset();
        const { outcome } = await store.verifyAttempt(input(over));
        return { outcome, statements: rec.calls.length };
      };
      expect(await perCall({})).toEqual({ outcome: 'missing', statements: 1 });
      await store.set(KEYS.challenge, challengeRecord(), 60_000);
      expect(await perCall({})).toEqual({ outcome: 'wrong', statements: 1 });
      expect(await perCall({ hashes: [RIGHT] })).toEqual({ outcome: 'right', statements: 1 });
      expect(rec.verbs()).toEqual(['SELECT']);
    });

    it('counts the attempt with a TTL to the challenge’s expiry, on the database clock', async () => {
      const { table, store } = await freshStore('ttl');
      await store.set(KEYS.challenge, challengeRecord({ expiresAt: NOW + 30_000 }), 60_000);
      expect((await store.verifyAttempt(input())).outcome).toBe('wrong');
      const { rows } = await query(
        `SELECT key, (extract(epoch FROM expires_at - now()) * 1000)::float8 AS ms FROM "${table}" WHERE key = ANY($1::text[]) ORDER BY key`,
        [[KEYS.attempts, KEYS.failures]],
      );
      const ms = Object.fromEntries(rows.map((r) => [(r as { key: string }).key, (r as { ms: number }).ms]));
      expect(ms[KEYS.attempts]).toBeGreaterThan(25_000);
      expect(ms[KEYS.attempts]).toBeLessThanOrEqual(30_000);
      expect(ms[KEYS.failures]).toBeGreaterThan(55_000);
    });

    it('answers late and changes nothing when it runs after the deadline (a wait on the account)', async () => {
      const { store, table } = await freshStore('late');
      await store.set(KEYS.challenge, challengeRecord(), 60_000);
      // One call first: the store learns the database's clock from its answer.
      expect((await store.verifyAttempt(input())).outcome).toBe('wrong');
      // Another verify of the same account holds it (the function's lock) until after the deadline.
      const holder = new pg.Client({ connectionString: postgresUrl() });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2::bigint))', [
          KEYS.lock,
          lockSeedOf(table),
        ]);
        const attempt = store.verifyAttempt(input({ hashes: [RIGHT], deadline: Date.now() + 200 }));
        await new Promise((resolve) => setTimeout(resolve, 600));
        await holder.query('COMMIT');
        expect(await attempt).toEqual({ outcome: 'late' });
      } finally {
        await holder.end();
      }
      expect(await store.get(KEYS.attempts)).toBe('1');
      expect(await store.get(KEYS.challenge)).toBe(challengeRecord());
      // Without a deadline in the way, the right code still verifies.
      expect(
        (await store.verifyAttempt(input({ hashes: [RIGHT], deadline: Date.now() + 5_000 }))).outcome,
      ).toBe('right');
    });

    // A trigger that fails every row write it is given, to show which outcomes write nothing.
    async function refuseWrites(table: string, events: string) {
      await query(
        `CREATE FUNCTION "${table}_no_write"() RETURNS trigger LANGUAGE plpgsql AS $f$
         BEGIN RAISE EXCEPTION 'written: % %', TG_OP, coalesce(NEW.key, OLD.key); END $f$`,
        [],
      );
      await query(
        `CREATE TRIGGER no_write BEFORE ${events} ON "${table}" FOR EACH ROW EXECUTE FUNCTION "${table}_no_write"()`,
        [],
      );
      return async () => {
        await query(`DROP TRIGGER no_write ON "${table}"`, []);
        await query(`DROP FUNCTION "${table}_no_write"()`, []);
      };
    }

    it('writes nothing for an attempt it refuses: used up, locked out, busy, expired, missing', async () => {
      const { table, store } = await freshStore('refused');
      await store.set(KEYS.challenge, challengeRecord(), 60_000);
      for (let i = 1; i <= 3; i++) expect((await store.verifyAttempt(input())).outcome).toBe('wrong');
      const allowed = await refuseWrites(table, 'INSERT OR UPDATE OR DELETE');
      try {
        // Used up: refused as the counter stands (no fourth count, nothing to commit).
        expect(await store.verifyAttempt(input({ hashes: [RIGHT] }))).toEqual({ outcome: 'exhausted' });
        expect(await store.verifyAttempt(input())).toEqual({ outcome: 'exhausted' });
        expect(await store.verifyAttempt(input({ now: NOW + 400_000 }))).toEqual({ outcome: 'expired' });
        expect(await store.verifyAttempt(input({ userId: 'u2' }))).toEqual({ outcome: 'missing' });
      } finally {
        await allowed();
      }
      expect(await store.get(KEYS.attempts)).toBe('3');
      await store.set(KEYS.failures, '10', 60_000);
      await store.set(KEYS.lock, '1', 60_000);
      const allowedAgain = await refuseWrites(table, 'INSERT OR UPDATE OR DELETE');
      try {
        expect(await store.verifyAttempt(input())).toEqual({ outcome: 'busy' });
        await query(`DROP TRIGGER no_write ON "${table}"`, []);
        await store.delete(KEYS.lock);
        await query(
          `CREATE TRIGGER no_write BEFORE INSERT OR UPDATE OR DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION "${table}_no_write"()`,
          [],
        );
        expect((await store.verifyAttempt(input())).outcome).toBe('locked');
      } finally {
        await allowedAgain();
      }
    });

    it('leaves no row behind for a right code: its count, the challenge, its state and the counters go', async () => {
      const { table, store } = await freshStore('right');
      await store.set(KEYS.challenge, challengeRecord(), 60_000);
      await store.set(KEYS.state, '["state"]', 60_000);
      expect((await store.verifyAttempt(input())).outcome).toBe('wrong');
      expect(await store.verifyAttempt(input({ hashes: [RIGHT] }))).toEqual({
        outcome: 'right',
        challenge: challengeRecord(),
        state: '["state"]',
      });
      const { rows } = await query(`SELECT key FROM "${table}"`, []);
      expect(rows).toEqual([]);
    });

    it('keeps the state and the counters when it did not take the challenge itself', async () => {
      const { table, store } = await freshStore('taken');
      await store.set(KEYS.challenge, challengeRecord(), 60_000);
      await store.set(KEYS.state, '["state"]', 60_000);
      expect((await store.verifyAttempt(input())).outcome).toBe('wrong');
      // Another taker's delete of the challenge wins between the function's read and its delete: here
      // a trigger that skips the function's delete of the challenge row.
      await query(
        `CREATE FUNCTION "${table}_keep"() RETURNS trigger LANGUAGE plpgsql AS $f$
         BEGIN IF OLD.key = '${KEYS.challenge}' THEN RETURN NULL; END IF; RETURN OLD; END $f$`,
        [],
      );
      await query(
        `CREATE TRIGGER keep BEFORE DELETE ON "${table}" FOR EACH ROW EXECUTE FUNCTION "${table}_keep"()`,
        [],
      );
      try {
        expect(await store.verifyAttempt(input({ hashes: [RIGHT] }))).toEqual({ outcome: 'missing' });
      } finally {
        await query(`DROP TRIGGER keep ON "${table}"`, []);
        await query(`DROP FUNCTION "${table}_keep"()`, []);
      }
      expect(await store.get(KEYS.state)).toBe('["state"]');
      // The wrong code's attempt only: a right code writes nothing but its take (its count could not
      // move meanwhile: the function holds the counter's lock), and that took nothing.
      expect(await store.get(KEYS.attempts)).toBe('1');
      expect(await store.get(KEYS.failures)).toBe('1');
      expect(await store.get(KEYS.failedAt)).toBe(String(NOW));
    });

    it('says how to create the function when the database was migrated before it existed', async () => {
      const { table, store } = await freshStore('old');
      await query(`DROP FUNCTION "${table}_verify"`, []);
      const error = await store.verifyAttempt(input()).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error?.message).toContain(`function "${table}_verify" does not exist`);
      expect(error?.message).toContain('await store.migrate()');
      expect(error?.message).toContain('postgresStore.schema()');
      // The rest of the store still works, and migrate() puts the function back.
      await store.set('k', 'v', 10_000);
      expect(await store.get('k')).toBe('v');
      await store.migrate();
      expect((await store.verifyAttempt(input())).outcome).toBe('missing');
    });
  });
}

describe.skipIf(!postgresUp)('postgresStore().verifyAttempt under a stricter isolation level', () => {
  for (const level of ['repeatable read', 'serializable']) {
    it(`stays one success of 50 and at most maxAttempts compared of 50 under ${level} (some fail instead of waiting)`, async () => {
      const pool = new pg.Pool({
        connectionString: postgresUrl(),
        max: 10,
        options: `-c default_transaction_isolation=${level.replace(' ', '\\ ')}`,
      });
      const table = uniqueTable('isolation');
      const store = postgresStore({ query: (text, params) => pool.query(text, params), table });
      try {
        await store.migrate();
        const { rows } = await pool.query('SHOW transaction_isolation');
        expect(rows).toEqual([{ transaction_isolation: level }]);
        const race = async (hashes: string[]) => {
          await store.set(KEYS.challenge, challengeRecord(), 60_000);
          const settled = await Promise.allSettled(
            Array.from({ length: 50 }, () => store.verifyAttempt(input({ hashes }))),
          );
          const outcomes = settled.map((s) =>
            s.status === 'fulfilled' ? s.value.outcome : (s.reason as { code?: string }).code,
          );
          // Anything but these is a bug: 40001 is the serialization failure (503 on the route).
          expect(
            outcomes.filter(
              (o) => !['right', 'wrong', 'missing', 'exhausted', '40001'].includes(o as string),
            ),
          ).toEqual([]);
          return outcomes;
        };
        expect((await race([RIGHT])).filter((o) => o === 'right')).toHaveLength(1);
        expect((await race(['wrong-hash'])).filter((o) => o === 'wrong').length).toBeLessThanOrEqual(3);
        expect(Number(await store.get(KEYS.failures))).toBeLessThanOrEqual(3);
      } finally {
        await dropTable((text, params) => pool.query(text, params), table);
        await pool.end();
      }
    });
  }
});

describe.skipIf(!postgresUp)('postgresStore().verifyAttempt racing the generic path (read committed)', () => {
  const db = usePoolPerTest('mixed');
  /** A migrated store with a challenge whose first two of three attempts were wrong. */
  const twoOfThreeUsed = async () => {
    const store = storeOnPool(db);
    await store.migrate();
    await store.set(KEYS.challenge, challengeRecord(), 60_000);
    for (let i = 1; i <= 2; i++) expect((await store.verifyAttempt(input())).outcome).toBe('wrong');
    return store;
  };
  it('compares at most maxAttempts codes when an older instance counts an attempt while a right code is being taken', async () => {
    const { pool, holder, table } = db;
    const store = await twoOfThreeUsed();
    // Hold the challenge row, so the function stops at its take of the challenge (after it read the
    // count and compared the code) until the older instance has counted.
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM "${table}" WHERE key = $1 FOR UPDATE`, [KEYS.challenge]);
    const right = store.verifyAttempt(input({ hashes: [RIGHT] }));
    await expect.poll(() => lockWaits(pool, table)).toBe(1);
    // An instance of the previous release verifies a code on the generic path: it counts the
    // attempt (`increment`) and compares the code if the count is within maxAttempts.
    let done = false;
    const generic = store
      .increment(KEYS.attempts, 60_000)
      .then(async (n) => ({ n, challenge: await store.get(KEYS.challenge) }))
      .finally(() => {
        done = true;
      });
    // Counted, or (this release's function holds the counter's lock) refused at once.
    await expect.poll(async () => done || (await lockWaits(pool, table)) === 2).toBe(true);
    await holder.query('COMMIT');
    const [verdict, counted] = await Promise.all([right, generic]);
    // The older instance compares when its count is within the limit and there is a challenge.
    const genericCompared = counted.n <= 3 && counted.challenge !== undefined;
    const compared = 2 + (genericCompared ? 1 : 0) + (['right', 'wrong'].includes(verdict.outcome) ? 1 : 0);
    expect({ verdict: verdict.outcome, counted: counted.n, compared }).toMatchObject({ compared: 3 });
  });

  it('takes nothing when an attempt counted outside the account lock reaches the limit while a right code waits for the counter', async () => {
    const { pool, holder, table } = db;
    const store = await twoOfThreeUsed();
    // An instance on the generic path (its lock row lapsed) counts the third attempt and has not
    // committed yet: it holds the counter's lock, so the right code waits for it after its compare.
    await holder.query('BEGIN');
    const { rows } = await holder.query(statements(table).increment, [KEYS.attempts, 60_000]);
    expect(Number((rows[0] as { value: unknown }).value)).toBe(3);
    const right = store.verifyAttempt(input({ hashes: [RIGHT] }));
    await expect.poll(() => lockWaits(pool, table)).toBe(1);
    await holder.query('COMMIT');
    // The generic path compares its code (count 3 = maxAttempts): the right code, reading the count
    // again once it holds the counter, would be the fourth compared, so it takes nothing.
    expect((await right).outcome).toBe('exhausted');
    expect(await store.get(KEYS.challenge)).toBeDefined();
    expect(await store.get(KEYS.attempts)).toBe('3');
  });

  it('refuses, without waiting or writing, an increment of the attempt counter while a right code is being taken', async () => {
    const { pool, holder, table } = db;
    const store = storeOnPool(db);
    await store.migrate();
    await store.set(KEYS.challenge, challengeRecord(), 60_000);
    // The function stops at its take of the challenge, after its read and compare.
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM "${table}" WHERE key = $1 FOR UPDATE`, [KEYS.challenge]);
    const right = store.verifyAttempt(input({ hashes: [RIGHT] }));
    await expect.poll(() => lockWaits(pool, table)).toBe(1);
    // The function holds the counter's lock: the count it compared on cannot move, and this
    // attempt answers past every limit (never compared), at once.
    const counted = await Promise.race([
      store.increment(KEYS.attempts, 60_000),
      new Promise((resolve) => setTimeout(() => resolve('waited'), 1_000)),
    ]);
    await holder.query('COMMIT');
    expect(counted).toBe(Number.MAX_SAFE_INTEGER);
    expect((await right).outcome).toBe('right');
    expect(await store.get(KEYS.attempts)).toBeUndefined();
  });
});

describe.skipIf(!postgresUp)('postgresStore().verifyAttempt on a snapshot older than the lock', () => {
  const db = usePoolPerTest('stale', { max: 2 });
  it('never compares on a stale attempt count under repeatable read: the right code fails closed', async () => {
    const { holder: early, table } = db;
    const store = storeOnPool(db);
    await store.migrate();
    await store.set(KEYS.challenge, challengeRecord(), 60_000);
    // A verify whose transaction took its snapshot before the others counted (it waited on the lock).
    await early.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await early.query('SELECT 1');
    for (let i = 1; i <= 3; i++) expect((await store.verifyAttempt(input())).outcome).toBe('wrong');
    const late = await early
      .query(`SELECT outcome FROM "${table}_verify"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
        Object.values(KEYS),
        'u1',
        'sess',
        'phone-hash',
        [RIGHT],
        NOW,
        3,
        [5, 1000, 3_600_000, 10],
        60_000,
        Object.values(CHALLENGE_RECORD_FIELDS),
        0,
      ])
      .then(
        (r) => (r.rows[0] as { outcome: string }).outcome,
        (e: { code?: string }) => e.code,
      );
    await early.query('ROLLBACK');
    // 40001 (or exhausted): never right after three counted wrong codes.
    expect(['40001', 'exhausted']).toContain(late);
    expect(await store.get(KEYS.challenge)).toBe(challengeRecord());
  });
});

describe.skipIf(!postgresUp)('postgresStore().verifyAttempt with 20,000 rows', () => {
  it('plans every statement inside the function on an index, never a sequential scan', async () => {
    const client = new pg.Client({ connectionString: postgresUrl() });
    const plans: string[] = [];
    client.on('notice', (notice) => plans.push(String(notice.message)));
    await client.connect();
    const table = uniqueTable('verify_plans');
    const store = postgresStore({ query: (text, params) => client.query(text, params), table });
    try {
      await store.migrate();
      await client.query(
        `INSERT INTO "${table}" (key, value, expires_at)
         SELECT 'k:' || i, 'v', now() + (i % 100 - 50) * interval '1 minute' FROM generate_series(1, 20000) AS i`,
      );
      await client.query(`ANALYZE "${table}"`);
      await store.set(KEYS.challenge, challengeRecord(), 60_000);
      // auto_explain prints the plan of every statement the function runs, as a notice to this session.
      await client.query("LOAD 'auto_explain'");
      for (const setting of ['log_min_duration = 0', 'log_nested_statements = on', 'log_level = notice']) {
        await client.query(`SET auto_explain.${setting}`);
      }
      const nestedOf = async (hashes?: string[]) => {
        plans.length = 0;
        const { outcome } = await store.verifyAttempt(input(hashes ? { hashes } : {}));
        return { outcome, nested: plans.filter((plan) => !plan.includes(`_verify"(`)) };
      };
      const wrong = await nestedOf();
      const right = await nestedOf([RIGHT]);
      expect(wrong.outcome).toBe('wrong');
      expect(right.outcome).toBe('right');
      // The lock, the one read, then the writes: the three counters' upsert; or the count read
      // again under the counter's lock and the delete of the challenge with its state and counters
      // (a right code writes no count it would delete).
      expect(wrong.nested).toHaveLength(3);
      expect(wrong.nested[2]).toMatch(/INSERT INTO/);
      expect(right.nested).toHaveLength(4);
      expect(right.nested[2]).toMatch(/SELECT value/);
      expect(right.nested[3]).toMatch(/DELETE FROM/);
      const nested = [...wrong.nested, ...right.nested];
      expect(
        nested.filter((plan) => /Index (Only )?Scan|Bitmap Index Scan/.test(plan)).length,
      ).toBeGreaterThanOrEqual(3);
      for (const plan of nested) expect(plan).not.toMatch(/Seq Scan/);
    } finally {
      await client.query("LOAD 'auto_explain'").catch(() => undefined);
      await client.query('SET auto_explain.log_min_duration = -1').catch(() => undefined);
      await client.query(`DROP TABLE IF EXISTS "${table}"`);
      await client.query(`DROP FUNCTION IF EXISTS "${table}_verify"`);
      await client.query(`DROP FUNCTION IF EXISTS "${table}_verify_many"`);
      await client.end();
    }
  });
});
