/**
 * postgresStore() under a pool whose default isolation is REPEATABLE READ or SERIALIZABLE (set by
 * the app or the DBA: `default_transaction_isolation`). There a statement's snapshot is taken
 * before any lock it then waits for, so it can miss what the lock's holder committed:
 * - the verify function must not miss the generic path's lock row committed after its snapshot
 *   (the two paths of one account would check codes at once);
 * - a store statement that fails with 40001 changed nothing, and is sent again (a fresh snapshot):
 *   the generic lock's `increment` racing another answers "taken", not an error after which the
 *   route deletes the lock another request holds.
 */
import { describe, expect, it } from 'vitest';
import { CHALLENGE_RECORD_FIELDS } from '../../src/challenge.js';
import { statements } from '../../src/stores/postgres/sql.js';
import { postgresStore } from '../../src/stores/postgres-store.js';
import { lockWaits, requirePostgres, storeOnPool, usePoolPerTest } from '../helpers/postgres.js';
import { RIGHT, verifyInput, verifyKeys } from '../helpers/verify-attempt.js';
import { challengeRecord } from '../helpers/verify-attempt-contract.js';

const postgresUp = await requirePostgres();
// Keys of their own: advisory locks are database-wide, shared with other test files' tables.
const KEYS = verifyKeys('isolation:');

/** The verify function's parameters for `verifyInput(over)`, as the store sends them. */
function verifyParams(hashes: string[]): unknown[] {
  const input = verifyInput({ hashes, keys: KEYS });
  const { lockout: l } = input;
  return [
    Object.values(KEYS),
    input.userId,
    input.session,
    input.phone,
    input.hashes,
    input.now,
    input.maxAttempts,
    [l.threshold, l.baseMs, l.maxDelayMs, l.hardLimit],
    input.failureTtlMs,
    Object.values(CHALLENGE_RECORD_FIELDS),
    0,
  ];
}

for (const level of ['repeatable read', 'serializable']) {
  describe.skipIf(!postgresUp)(`postgresStore() with default_transaction_isolation = ${level}`, () => {
    // `db.holder`'s transactions start early: their snapshots predate what the store then does.
    const db = usePoolPerTest('isolation_lows', {
      options: `-c default_transaction_isolation=${level.replace(' ', '\\ ')}`,
    });

    it('a verify whose snapshot predates the generic lock fails closed instead of comparing beside it', async () => {
      const store = storeOnPool(db);
      await store.migrate();
      await store.set(KEYS.challenge, challengeRecord(), 60_000);
      // A verify's transaction takes its snapshot (its statement starts, then waits for the lock)...
      await db.holder.query(`BEGIN ISOLATION LEVEL ${level.toUpperCase()}`);
      await db.holder.query('SELECT 1');
      // ...while an instance on the generic path takes the account's lock and starts checking.
      expect(await store.increment(KEYS.lock, 60_000)).toBe(1);
      const outcome = await db.holder
        .query(`SELECT outcome FROM "${db.table}_verify"($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [
          ...verifyParams([RIGHT]),
        ])
        .then(
          (r) => (r.rows[0] as { outcome: string }).outcome,
          (e: { code?: string }) => e.code,
        );
      await db.holder.query('ROLLBACK');
      // Never `right` (or any compare) while the generic lock is held: 40001, sent again by the store.
      expect(outcome).toBe('40001');
      expect(await store.get(KEYS.challenge)).toBe(challengeRecord());
      // The store's own call, sent on a fresh snapshot, sees the lock.
      expect(await store.verifyAttempt(verifyInput({ hashes: [RIGHT], keys: KEYS }))).toEqual({
        outcome: 'busy',
      });
    });

    it('the generic lock racing another answers taken, and the holder keeps its lock', async () => {
      const store = storeOnPool(db);
      await store.migrate();
      // Another request's increment of the lock, not yet committed when this one's statement starts.
      await db.holder.query('BEGIN');
      await db.holder.query(`${statements(db.table).increment}`, [KEYS.lock, 60_000]);
      const racing = store.increment(KEYS.lock, 60_000);
      await expect.poll(() => lockWaits(db.pool, db.table)).toBe(1);
      await db.holder.query('COMMIT');
      // Under this level the racing statement fails (40001) once; sent again, it counts as taken.
      expect(await racing).toBe(2);
    });

    it('a consume racing another consume of the row answers once, never an error', async () => {
      const store = storeOnPool(db);
      await store.migrate();
      await store.set(KEYS.challenge, 'record', 60_000);
      await db.holder.query('BEGIN');
      await db.holder.query(`DELETE FROM "${db.table}" WHERE key = $1`, [KEYS.challenge]);
      const racing = store.consume(KEYS.challenge);
      await expect.poll(() => lockWaits(db.pool, db.table)).toBe(1);
      await db.holder.query('COMMIT');
      expect(await racing).toBeUndefined();
    });
  });
}

describe('postgresStore(): a statement that fails with a serialization failure', () => {
  const failing = (failures: number) => {
    const sent: string[] = [];
    const store = postgresStore({
      query: async (text) => {
        sent.push(text);
        if (sent.length <= failures)
          throw Object.assign(new Error('could not serialize access'), { code: '40001' });
        return { rows: [{ value: 'v' }] };
      },
    });
    return { store, sent };
  };

  it('is sent again, up to three times, and answers as the next try does', async () => {
    const { store, sent } = failing(3);
    expect(await store.get('k')).toBe('v');
    expect(sent).toHaveLength(4);
  });

  it('throws the fourth failure', async () => {
    const { store, sent } = failing(4);
    await expect(store.get('k')).rejects.toMatchObject({ code: '40001' });
    expect(sent).toHaveLength(4);
  });

  it('answers an increment that still fails as taken, not with an error (the route would delete the lock)', async () => {
    // Each failure is another writer on that key's row: a lock someone holds, or a counter being
    // counted. Thrown, the route's withLock deleted the key, another request's lock.
    const { store, sent } = failing(4);
    expect(await store.increment('k', 1000)).toBe(Number.MAX_SAFE_INTEGER);
    expect(sent).toHaveLength(4);
  });

  it('is not sent again for any other error', async () => {
    const sent: string[] = [];
    const store = postgresStore({
      query: async (text) => {
        sent.push(text);
        throw Object.assign(new Error('deadlock detected'), { code: '40P01' });
      },
    });
    await expect(store.get('k')).rejects.toMatchObject({ code: '40P01' });
    expect(sent).toHaveLength(1);
  });
});
