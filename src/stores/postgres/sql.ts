import { createHash } from 'node:crypto';
import { TwoFactorConfigError } from '../../errors.js';
import { lockSeed, verifyFunctionSql, verifyManyFunctionSql } from './verify-function.js';

export const DEFAULT_POSTGRES_TABLE = 'tfa_store';

/** Rows one sweep deletes at most: a short statement however large the backlog. */
export const SWEEP_BATCH = 500;

/** One part of a table name: what PostgreSQL takes unquoted, lower case, with room for `_expires_at`, `_verify` and `_verify_many`. */
const NAME_PART = /^[a-z_][a-z0-9_]{0,47}$/;

/**
 * `table` (or `schema.table`) checked and quoted. Only plain lower-case names pass, so the quoted
 * name is the one a person types unquoted in psql, and nothing can break out of the quotes.
 */
export function tableIdentifier(table: unknown): {
  name: string;
  quoted: string;
  indexName: string;
  /** The verify function, `<table>_verify`, in the table's schema: as typed, and quoted. */
  verifyName: string;
  verifyQuoted: string;
  /** The batch of verifies, `<table>_verify_many`, quoted (verify-function.ts). */
  verifyManyQuoted: string;
} {
  const parts = typeof table === 'string' ? table.split('.') : [];
  if (parts.length < 1 || parts.length > 2 || !parts.every((part) => NAME_PART.test(part))) {
    throw new TwoFactorConfigError(
      'table',
      "of `postgresStore()` must be a table name of lower-case letters, digits and _ (not starting with a digit, at most 48), optionally after a schema name and a dot, e.g. 'tfa_store' or 'auth.tfa_store'",
    );
  }
  const name = parts.join('.');
  const quote = (names: string[]) => names.map((part) => `"${part}"`).join('.');
  const last = parts.length - 1;
  const verifyParts = parts.map((part, i) => (i === last ? `${part}_verify` : part));
  const manyParts = parts.map((part, i) => (i === last ? `${part}_verify_many` : part));
  return {
    name,
    quoted: quote(parts),
    indexName: `${parts[last]}_expires_at`,
    verifyName: verifyParts.join('.'),
    verifyQuoted: quote(verifyParts),
    verifyManyQuoted: quote(manyParts),
  };
}

/**
 * The DDL of the store's one table and its verify function, for `migrate()` or the app's own
 * migration tool (which must run it as one script: the function's body holds semicolons).
 * `key` sorts as bytes (COLLATE "C"): cheaper comparisons than a locale's, and keys are not words.
 */
export function schemaSql(table: string = DEFAULT_POSTGRES_TABLE): string {
  const { quoted, indexName, verifyQuoted, verifyManyQuoted } = tableIdentifier(table);
  return `CREATE TABLE IF NOT EXISTS ${quoted} (
  key text COLLATE "C" PRIMARY KEY,
  value text NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "${indexName}" ON ${quoted} (expires_at);
COMMENT ON TABLE ${quoted} IS 'express-sms-2fa: challenges, counters and locks. Rows past expires_at count as absent and are deleted in batches as the store writes.';
${verifyFunctionSql(quoted, verifyQuoted)}
${verifyManyFunctionSql(quoted, verifyManyQuoted, verifyQuoted)}
`;
}

/**
 * `schemaSql` as one statement: one transaction that waits for any other instance migrating the
 * same table (two concurrent CREATE TABLE IF NOT EXISTS can collide in the catalog), without the
 * "already exists" notices some clients print.
 */
export function migrateSql(table: string): string {
  const { name } = tableIdentifier(table);
  return `DO $migrate$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('express-sms-2fa migrate ${name}'));
  PERFORM set_config('client_min_messages', 'warning', true);
  ${schemaSql(table).trim().split('\n').join('\n  ')}
END
$migrate$`;
}

/**
 * The name a statement is prepared under (`tfa_` and 16 hex digits of its text's SHA-256): the same
 * for the same text in every instance, another for another table or another version of the text,
 * so a connection never holds two texts under one name.
 */
export function statementName(text: string): string {
  return `tfa_${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;
}

/** A TTL as a parameter: `$n::bigint * interval '1 millisecond'` past the database's `now()`. */
const expiry = (n: number) => `now() + $${n}::bigint * interval '1 millisecond'`;

/**
 * Every statement the store sends; each call is one of them, found by the primary key (the sweep by
 * the expiry index). Time is the database's `now()`, the same for every app instance.
 */
export function statements(table: string) {
  const { quoted: t, verifyQuoted, verifyManyQuoted } = tableIdentifier(table);
  return {
    // verifyAttempt: the table's function (verify-function.ts), one row back.
    // The columns named, so a prepared statement's result type stays the same if the function grows one.
    verify: `SELECT outcome, clock_ms, attempts, failures, failed_at, challenge, state FROM ${verifyQuoted}($1::text[], $2::text, $3::text, $4::text, $5::text[], $6::bigint, $7::int, $8::float8[], $9::bigint, $10::int[], $11::bigint)`,
    // Several verifyAttempts that queued while the store's verifies were all in flight (verify-batch.ts).
    verifyMany: `SELECT i, outcome, clock_ms, attempts, failures, failed_at, challenge, state FROM ${verifyManyQuoted}($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bigint[], $8::int[], $9::float8[], $10::bigint[], $11::int[], $12::bigint[])`,
    get: `SELECT value FROM ${t} WHERE key = $1 AND expires_at > now()`,
    getMany: `SELECT key, value FROM ${t} WHERE key = ANY($1::text[]) AND expires_at > now()`,
    set: `INSERT INTO ${t} AS s (key, value, expires_at) VALUES ($1, $2, ${expiry(3)})
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
    // Both take several keys: deletes and consumes of one tick go together (batch.ts).
    delete: `DELETE FROM ${t} WHERE key = ANY($1::text[])`,
    // Deletes an expired row too, but hands back only a live value.
    consume: `DELETE FROM ${t} WHERE key = ANY($1::text[])
RETURNING key, CASE WHEN expires_at > now() THEN value END AS value`,
    // An expired row counts as absent: back to 1 with the new TTL. A live one keeps its TTL. A value
    // that is not a count stays as it is and comes back as NULL: never cast (the cast's error would
    // quote it), never returned. No row at all while a verify function holds the key's advisory lock
    // (verify-function.ts: the account's lock key, and the attempt counter of the challenge it
    // checks): the generic path's lock refuses, as the function refuses while the generic lock row
    // exists, and an attempt counted then is past every limit. (Shared: increments never wait for each other.)
    increment: `INSERT INTO ${t} AS s (key, value, expires_at)
SELECT $1::text, '1', ${expiry(2)} WHERE pg_try_advisory_xact_lock_shared(hashtextextended($1::text, ${lockSeed(t)}))
ON CONFLICT (key) DO UPDATE SET
  value = CASE WHEN s.expires_at <= now() THEN '1'
               WHEN s.value ~ '^[0-9]{1,15}$' THEN (s.value::bigint + 1)::text
               ELSE s.value END,
  expires_at = CASE WHEN s.expires_at <= now() THEN excluded.expires_at ELSE s.expires_at END
RETURNING CASE WHEN value ~ '^[0-9]{1,15}$' THEN value END AS value`,
    // compareAndSet when the key must be absent: inserts, or takes over an expired row, never a live one.
    createIfAbsent: `INSERT INTO ${t} AS s (key, value, expires_at) VALUES ($1, $2, ${expiry(3)})
ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
WHERE s.expires_at <= now()
RETURNING 1 AS done`,
    // compareAndSet over a live value; the row lock makes a concurrent caller re-check and miss.
    replaceIf: `UPDATE ${t} SET value = $2, expires_at = ${expiry(3)}
WHERE key = $1 AND value = $4 AND expires_at > now()
RETURNING 1 AS done`,
    // The oldest expired rows, at most one batch, skipping rows another transaction holds (another
    // instance sweeping, a write in flight). ARRAY(...) runs once; the delete is by primary key.
    sweep: `WITH swept AS (
  DELETE FROM ${t} WHERE key = ANY(ARRAY(
    SELECT key FROM ${t} WHERE expires_at <= now() ORDER BY expires_at LIMIT ${SWEEP_BATCH} FOR UPDATE SKIP LOCKED
  )) AND expires_at <= now() RETURNING 1
) SELECT count(*)::int AS swept FROM swept`,
  };
}
