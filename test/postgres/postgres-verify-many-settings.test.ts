/**
 * `<table>_verify_many`'s own `lock_timeout` (src/stores/postgres/verify-function.ts) is the batch's
 * only: an app that wraps store calls in a transaction of its own keeps its own lock_timeout for
 * the rest of that transaction (before, the batch's 100 ms stayed in force to its end).
 */
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHALLENGE_RECORD_FIELDS } from '../../src/challenge.js';
import { postgresStore } from '../../src/stores/postgres-store.js';
import { postgresUrl, requirePostgres, uniqueTable } from '../helpers/postgres.js';
import { VERIFY_NOW as NOW, verifyKeys } from '../helpers/verify-attempt.js';

const postgresUp = await requirePostgres();
const KEYS = verifyKeys('verify-many-settings:');

describe.skipIf(!postgresUp)('<table>_verify_many in an app’s own transaction', () => {
  let client: pg.Client;
  let table: string;
  beforeEach(async () => {
    client = new pg.Client({ connectionString: postgresUrl() });
    await client.connect();
    table = uniqueTable('verify_many_settings');
    await postgresStore({ query: (text, params) => client.query(text, params), table }).migrate();
  });
  afterEach(async () => {
    await client.query('ROLLBACK').catch(() => {});
    await client.query(`DROP TABLE IF EXISTS "${table}"`);
    await client.query(`DROP FUNCTION IF EXISTS "${table}_verify"`);
    await client.query(`DROP FUNCTION IF EXISTS "${table}_verify_many"`);
    await client.end();
  });

  /** One batch of one verify (no challenge: `missing`), as the store sends it. */
  async function batch(): Promise<string> {
    const { rows } = await client.query(
      `SELECT outcome FROM "${table}_verify_many"($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::int[], $9::float8[], $10::bigint[], $11::int[], $12::bigint[])`,
      [
        Object.values(KEYS),
        ['u1'],
        ['sess'],
        ['phone-hash'],
        ['a-hash'],
        [1],
        [NOW],
        [3],
        [5, 1000, 3_600_000, 10],
        [60_000],
        Object.values(CHALLENGE_RECORD_FIELDS),
        [0],
      ],
    );
    return (rows[0] as { outcome: string }).outcome;
  }
  const lockTimeout = async () =>
    ((await client.query('SHOW lock_timeout')).rows[0] as { lock_timeout: string }).lock_timeout;

  it('leaves the transaction’s lock_timeout as it found it', async () => {
    await client.query('BEGIN');
    const before = await lockTimeout();
    expect(await batch()).toBe('missing');
    expect(await lockTimeout()).toBe(before);
    await client.query('SET LOCAL lock_timeout = 5000');
    expect(await batch()).toBe('missing');
    expect(await lockTimeout()).toBe('5s');
    await client.query('COMMIT');
  });
});
