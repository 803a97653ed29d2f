/**
 * The five-method verify's lock on PostgreSQL (src/lock.ts `withVerifyLock`) and the failure count
 * it reads. The route reads the account's failures (its preload, `load()`) once the lock's
 * `increment` answered: read alongside it, on a pool the two went on two connections, so a verify
 * of the account that committed between them (through the function, whose advisory lock
 * `increment` honours, or a generic holder that then deletes its lock) left the new holder a count
 * one failure behind. Keys of their own: advisory locks are database-wide, so another test file's
 * lock on the shared test keys would answer this one's increment as taken.
 */
import { describe, expect, it } from 'vitest';
import type { Runtime } from '../../src/context.js';
import { withVerifyLock } from '../../src/lock.js';
import { lockSeedOf, requirePostgres, storeOnPool, usePoolPerTest } from '../helpers/postgres.js';
import { verifyKeys } from '../helpers/verify-attempt.js';

const KEYS = verifyKeys('verify-lock:');

const postgresUp = await requirePostgres();

describe.skipIf(!postgresUp)(
  'withVerifyLock() on postgresStore(): the failure count it hands the check',
  () => {
    const db = usePoolPerTest('verify_lock');

    it('is the count a verify that committed before the lock was taken left', async () => {
      const real = storeOnPool(db);
      await real.migrate();
      await real.set(KEYS.failures, '4', 60_000);
      // A verify through the function holds the account's lock and has counted a fifth failure.
      await db.holder.query('BEGIN');
      await db.holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2::bigint))', [
        KEYS.lock,
        lockSeedOf(db.table),
      ]);
      await db.holder.query(`UPDATE "${db.table}" SET value = '5' WHERE key = $1`, [KEYS.failures]);
      // The order a pool allows: the preload's read answers first, then that verify commits, then
      // the lock's increment runs.
      let read!: () => void;
      const preloaded = new Promise<void>((resolve) => {
        read = resolve;
      });
      const store = Object.assign(Object.create(real) as typeof real, {
        async increment(key: string, ttlMs: number) {
          // (A lock taken before the read, as the fix does, reads only after this: no wait then.)
          await Promise.race([preloaded, new Promise((resolve) => setTimeout(resolve, 200))]);
          await db.holder.query('COMMIT');
          return real.increment(key, ttlMs);
        },
      });
      const rt = { store, keys: { verifyLock: () => KEYS.lock }, config: { storeTimeoutMs: 2_000 } };
      const failures = await withVerifyLock(
        rt as unknown as Runtime,
        'u1',
        async () => {
          const [count] = await real.getMany([KEYS.failures]);
          read();
          return count;
        },
        async (count) => count,
      );
      expect(await real.get(KEYS.failures)).toBe('5');
      expect(failures).toBe('5');
    });
  },
);
