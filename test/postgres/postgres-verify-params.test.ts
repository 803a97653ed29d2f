/**
 * postgresStore().verifyAttempt sends its array parameters as PostgreSQL array literals it writes
 * itself (`textArray`, src/stores/postgres/verify-attempt.ts), not as JS arrays for the client to
 * convert: keys, hashes and values with the characters an array literal gives a meaning to must
 * arrive as they are, through both clients.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CHALLENGE_RECORD_FIELDS } from '../../src/challenge.js';
import { textArray } from '../../src/stores/postgres/verify-attempt.js';
import { postgresStore } from '../../src/stores/postgres-store.js';
import type { VerifyAttemptInput } from '../../src/stores/store.js';
import { POSTGRES_CLIENTS, requirePostgres, usePostgresTables } from '../helpers/postgres.js';
import { challengeRecord } from '../helpers/verify-attempt-contract.js';

const postgresUp = await requirePostgres();

/** pg's own conversion of a parameter (what it sends for a JS array). */
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue: (value: unknown) => unknown;
};

const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
/** Quotes, backslashes, commas, braces, spaces, NULL as a word, non-ASCII. */
const ODD = ['"', '\\', '\\"', ',', '{', '}', ' a b ', 'NULL', 'ü€😀', "'"];

describe('textArray', () => {
  it('writes what pg writes for the same array', () => {
    expect(textArray(['a', 'b'])).toBe('{"a","b"}');
    expect(textArray([])).toBe('{}');
    expect(textArray(['"', '\\', 'x"y\\z'])).toBe('{"\\"","\\\\","x\\"y\\\\z"}');
    expect(textArray(ODD)).toBe(prepareValue(ODD));
    expect(textArray(['2fa:{u:abc}:c:x', 'hash'])).toBe(prepareValue(['2fa:{u:abc}:c:x', 'hash']));
  });
});

for (const { name, connect } of POSTGRES_CLIENTS) {
  describe.skipIf(!postgresUp)(`postgresStore().verifyAttempt's array parameters on ${name}`, () => {
    const { query, newTable } = usePostgresTables(connect, name);

    it('reads back every text array element as it was given', async () => {
      const { rows } = await query('SELECT $1::text[] AS a', [textArray(ODD)]);
      expect((rows[0] as { a: string[] }).a).toEqual(ODD);
    });

    it('finds, compares and takes a challenge whose keys and hash hold them', async () => {
      const table = newTable('params');
      const store = postgresStore({ query, table });
      await store.migrate();
      const odd = ODD.join('');
      const keys = {
        lock: `v:${odd}{u1}`,
        challenge: `c:${odd}{u1}`,
        state: `s:${odd}{u1}`,
        attempts: `a:${odd}{u1}`,
        failures: `f:${odd}{u1}`,
        failedAt: `fa:${odd}{u1}`,
      };
      const hash = `hash-${odd}`;
      await store.set(keys.challenge, challengeRecord({ hash, expiresAt: NOW + 300_000 }), 60_000);
      await store.set(keys.state, 'state', 60_000);
      const input: VerifyAttemptInput = {
        keys,
        challengeFields: CHALLENGE_RECORD_FIELDS,
        userId: 'u1',
        session: 'sess',
        phone: 'phone-hash',
        hashes: ['wrong"{,}\\', hash],
        now: NOW,
        maxAttempts: 3,
        lockout: { threshold: 5, baseMs: 1000, maxDelayMs: 3_600_000, hardLimit: 10 },
        failureTtlMs: 60_000,
      };
      const wrong = await store.verifyAttempt({ ...input, hashes: ['wrong"{,}\\'] });
      expect(wrong).toMatchObject({ outcome: 'wrong', attempts: 1, failures: 1 });
      expect(await store.get(keys.failures)).toBe('1');
      expect(await store.verifyAttempt(input)).toEqual({
        outcome: 'right',
        challenge: challengeRecord({ hash, expiresAt: NOW + 300_000 }),
        state: 'state',
      });
      expect(await store.get(keys.challenge)).toBeUndefined();
      expect(await store.get(keys.failures)).toBeUndefined();
    });
  });
}
