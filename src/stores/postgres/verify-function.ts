/**
 * The seed of the advisory lock on an account's verify lock key, per table: advisory locks are
 * database-wide, so two tables (two apps, or two instances of the middleware) with the same key
 * names would otherwise lock each other's accounts. A 31-bit FNV-1a of the quoted identifier, written
 * into both the generic `increment` and the verify function.
 */
export function lockSeed(quoted: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < quoted.length; i++) {
    hash ^= quoted.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) & 0x7fffffff;
}

/**
 * `verifyAttempt` on PostgreSQL: one PL/pgSQL function, so a verify is one statement and one
 * commit (see `VerifyAttemptInput` in ../store.ts for the steps). It is part of the schema
 * (`postgresStore.schema()`, `migrate()`), named after the table: `tfa_store_verify`.
 *
 * Atomicity: the function first takes a transaction-scoped advisory lock on the account (a hash of
 * its lock key), so the verifies of one account run one at a time across every instance, held until
 * the commit. In READ COMMITTED (PostgreSQL's default) every statement of a function takes a fresh
 * snapshot, so each one reads what the previous holder committed: of 50 parallel right codes one
 * consumes the challenge, of 50 wrong ones at most maxAttempts are compared. The consume is a
 * DELETE … RETURNING, so a store call outside this function that takes the challenge (the generic
 * path of an older instance) still leaves exactly one winner. The generic path's lock of the account
 * (the same lock key, `increment`, sql.ts) and this one exclude each other: the function answers
 * `busy` while that lock's row exists, and the `increment` takes this advisory lock shared, without
 * waiting, and answers "taken" while a function holds it (test/postgres/postgres-mixed-paths.test.ts):
 * an instance on the generic path (the function missing, an enrollment verify) and one here never
 * check codes of one account at once. (Under REPEATABLE READ a contested attempt fails with a
 * serialization error instead, which the store sends again on a fresh snapshot: closed, never
 * twice.) The advisory lock lives
 * in shared memory only; a row lock (`FOR UPDATE`) would write the row (its xmax, a WAL record),
 * and the lockout counters it must serialize belong to the account, not to one challenge row.
 *
 * Writes: only what the outcome changes, so an attempt that changes nothing commits nothing (no WAL,
 * no flush). A refused attempt (busy, locked out, used up, expired, missing) writes nothing: the
 * attempt counter is read with the other keys, and a challenge whose attempts are used up is
 * refused without counting one more (the answer is the same however many more there are). A wrong
 * code writes its three counters (attempts, failures, failed-at) in one upsert, after the compare:
 * one that comes back past the limit answers `exhausted`, whatever the compare said. A right code
 * writes no count: one statement takes the challenge and, only when it did, deletes its state and
 * the counters. Before that it takes the advisory lock of the challenge's attempts key and reads
 * the count again: every writer of that counter counts with `increment`, which tries the key's lock
 * shared (waited for while it holds it) and, while a function holds it, writes nothing and answers
 * past every limit (that attempt is not compared). So the count read under the lock stays what it
 * is to the commit, and a right code past the limit takes nothing. Without it a writer outside the
 * account's lock (a generic path whose lock row lapsed, or one that takes none) could count and
 * compare between the read and the take, and the right code be the (maxAttempts + 1)-th compared
 * (test/postgres/postgres-verify.test.ts, "racing the generic path"). (Before, a right code counted
 * itself in an upsert the take then deleted: a row inserted to die; its WAL was 406 bytes in 7
 * records, now 88 in 2.) Under REPEATABLE READ or SERIALIZABLE the snapshot predates the lock, so
 * there the attempt is counted (written) before the compare: a count another verify changed since
 * fails the attempt (40001) instead of comparing on a stale one; and the generic lock's key is
 * written (and dropped) too, so a generic lock taken since fails it the same way
 * (test/postgres/postgres-isolation.test.ts).
 *
 * The hash compare is a plain text `=` over keyed hashes: HMAC(secret, challenge id + code). An
 * attacker who timed it could at best learn a prefix of an HMAC they cannot compute for any other
 * code without the secret, so the early exit of `=` leaks nothing usable (unlike a compare of codes).
 *
 * Times: `now_ms` and `expiresAt` are the app's clock, as on the generic path; TTLs and "expired
 * row" run on the database's clock taken after the lock (`clock_timestamp()`), like every other
 * statement of the store. `deadline_ms` is the app's deadline moved into the database's clock by
 * the caller (0: none); the reply carries the database's clock so the caller can learn the offset.
 */
export function verifyFunctionSql(quoted: string, functionName: string): string {
  const t = quoted;
  const counter = `'^[0-9]{1,15}$'`;
  // The counter's upsert, as `increment` does it: an expired row starts again at 1 with the new TTL,
  // a live one keeps its TTL; a value that is not a count is kept and comes back NULL (never cast).
  const count = (key: string, ttlMs: string, into: string, indent: string) =>
    `INSERT INTO ${t} AS s (key, value, expires_at)
  VALUES (${key}, '1', db_now + (${ttlMs})::float8 * interval '1 millisecond')
  ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN s.expires_at <= db_now THEN '1'
                 WHEN s.value ~ ${counter} THEN (s.value::bigint + 1)::text
                 ELSE s.value END,
    expires_at = CASE WHEN s.expires_at <= db_now THEN excluded.expires_at ELSE s.expires_at END
  RETURNING CASE WHEN value ~ ${counter} THEN value::bigint END INTO ${into};
IF ${into} IS NULL THEN RAISE EXCEPTION 'postgresStore: the ${into} key holds a value that is not a counter'; END IF;`
      .split('\n')
      .join(`\n${indent}`);
  return `CREATE OR REPLACE FUNCTION ${functionName}(
  keys text[],       -- lock, challenge, state, attempts, failures, failed-at
  user_id text,
  session_id text,
  phone text,        -- '' when there is no number on file: no challenge matches
  hashes text[],     -- HMAC(secret, id + code), one per secret
  now_ms bigint,     -- the app's clock
  max_attempts int,
  lockout float8[],  -- threshold, baseMs, maxDelayMs, hardLimit
  failure_ttl_ms bigint,
  fields int[],      -- one-based positions in the record: length, userId, session, hash, expiresAt, phone
  deadline_ms bigint, -- in the database's clock; 0: none
  OUT outcome text, OUT clock_ms bigint, OUT attempts bigint, OUT failures bigint,
  OUT failed_at bigint, OUT challenge text, OUT state text
) LANGUAGE plpgsql AS $verify$
DECLARE
  db_now timestamptz;
  locked boolean;
  attempts_text text;
  failures_text text;
  failed_at_text text;
  c jsonb;
  expires_at_ms numeric;
  counted boolean;
  probed boolean;
  counter_locked boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(keys[1], ${lockSeed(quoted)}));
  db_now := clock_timestamp();
  clock_ms := floor(extract(epoch FROM db_now) * 1000);
  IF deadline_ms > 0 AND clock_ms > deadline_ms THEN outcome := 'late'; RETURN; END IF;

  SELECT bool_or(key = keys[1]), max(value) FILTER (WHERE key = keys[2]),
         max(value) FILTER (WHERE key = keys[4]), max(value) FILTER (WHERE key = keys[5]),
         max(value) FILTER (WHERE key = keys[6])
    INTO locked, challenge, attempts_text, failures_text, failed_at_text
    FROM ${t} WHERE key = ANY(ARRAY[keys[1], keys[2], keys[4], keys[5], keys[6]]) AND expires_at > db_now;
  IF locked THEN outcome := 'busy'; challenge := NULL; RETURN; END IF;

  failures := CASE WHEN failures_text ~ ${counter} THEN failures_text::bigint ELSE 0 END;
  failed_at := CASE WHEN failed_at_text ~ ${counter} THEN failed_at_text::bigint ELSE 0 END;
  -- 2^60 ms outlasts any maxDelayMs: the cap only keeps power() in range.
  IF failures >= lockout[4] OR (failures >= lockout[1] AND failed_at
      + least(lockout[3], lockout[2] * power(2::float8, least(failures - lockout[1], 60))) - now_ms > 0) THEN
    outcome := 'locked'; challenge := NULL; RETURN;
  END IF;

  outcome := 'missing';
  IF challenge IS NULL OR phone = '' THEN challenge := NULL; RETURN; END IF;
  BEGIN
    c := challenge::jsonb;
  EXCEPTION WHEN invalid_text_representation THEN
    challenge := NULL; RETURN;
  END;
  IF jsonb_typeof(c) IS DISTINCT FROM 'array' THEN challenge := NULL; RETURN; END IF;
  IF jsonb_array_length(c) <> fields[1]
      OR c -> (fields[2] - 1) IS DISTINCT FROM to_jsonb(user_id)
      OR c -> (fields[3] - 1) IS DISTINCT FROM to_jsonb(session_id)
      OR c -> (fields[6] - 1) IS DISTINCT FROM to_jsonb(phone)
      OR jsonb_typeof(c -> (fields[4] - 1)) IS DISTINCT FROM 'string'
      OR jsonb_typeof(c -> (fields[5] - 1)) IS DISTINCT FROM 'number' THEN
    challenge := NULL; RETURN;
  END IF;
  expires_at_ms := (c ->> (fields[5] - 1))::numeric;
  IF now_ms >= expires_at_ms THEN outcome := 'expired'; challenge := NULL; RETURN; END IF;

  -- The attempts so far (an expired row counts as none, as increment does); a value that is not a
  -- count is kept and never cast.
  IF attempts_text IS NOT NULL AND attempts_text !~ ${counter} THEN
    RAISE EXCEPTION 'postgresStore: the attempts key holds a value that is not a counter';
  END IF;
  attempts := coalesce(attempts_text::bigint, 0);
  -- Used up: refused as the counter stands, without counting one more.
  IF attempts >= max_attempts THEN outcome := 'exhausted'; challenge := NULL; attempts := NULL; RETURN; END IF;
  -- Under REPEATABLE READ or SERIALIZABLE the snapshot was taken before the lock, so the count just
  -- read may be stale: count this attempt first, a write that fails (40001) when another verify
  -- counted since, so no code is compared on a stale count. (READ COMMITTED reads after the lock.)
  counted := current_setting('transaction_isolation') <> 'read committed';
  IF counted THEN
    -- The generic path's lock row, committed after the snapshot (its increment ran while this call
    -- waited for the lock), is invisible to the read above: the insert of that key meets it and
    -- fails (40001; the store sends the call again on a fresh snapshot) instead of missing it.
    -- Otherwise its own row is dropped at once: no lock is taken here.
    INSERT INTO ${t} AS s (key, value, expires_at) VALUES (keys[1], '0', db_now)
      ON CONFLICT (key) DO NOTHING RETURNING true INTO probed;
    IF probed THEN DELETE FROM ${t} WHERE key = keys[1]; END IF;
    ${count('keys[4]', 'greatest(1, ceil(expires_at_ms - now_ms))', 'attempts', '    ')}
    IF attempts > max_attempts THEN outcome := 'exhausted'; challenge := NULL; attempts := NULL; RETURN; END IF;
  END IF;

  IF (c ->> (fields[4] - 1)) = ANY(hashes) THEN
    IF NOT counted THEN
      -- Right: the count read above may be stale by now (an increment outside the account's lock).
      -- Take the counter's lock, so no increment counts it from here to the commit (see above), and
      -- read it again; one past the limit takes nothing.
      -- (An assignment, not PERFORM: the result is not used.)
      counter_locked := pg_advisory_xact_lock(hashtextextended(keys[4], ${lockSeed(quoted)})) IS NULL;
      SELECT value INTO attempts_text FROM ${t} WHERE key = keys[4] AND expires_at > db_now;
      IF attempts_text IS NOT NULL AND attempts_text !~ ${counter} THEN
        RAISE EXCEPTION 'postgresStore: the attempts key holds a value that is not a counter';
      END IF;
      IF coalesce(attempts_text::bigint, 0) >= max_attempts THEN
        outcome := 'exhausted'; challenge := NULL; attempts := NULL; RETURN;
      END IF;
    END IF;
    -- Then take the challenge (one taker, whoever else deletes it), and only when this statement
    -- took it, its state and the counters.
    WITH taken AS (
      DELETE FROM ${t} WHERE key = keys[2] AND expires_at > db_now RETURNING value
    ), gone AS (
      DELETE FROM ${t} WHERE key = ANY(ARRAY[keys[3], keys[4], keys[5], keys[6]]) AND EXISTS (SELECT FROM taken)
        RETURNING key, value, expires_at
    ) SELECT (SELECT value FROM taken), (SELECT max(value) FILTER (WHERE key = keys[3] AND expires_at > db_now) FROM gone)
      INTO challenge, state;
    IF challenge IS NULL THEN outcome := 'missing'; state := NULL; RETURN; END IF;
    outcome := 'right'; attempts := NULL; failures := NULL; failed_at := NULL; RETURN;
  END IF;

  -- Wrong: the attempt, the failure and when, in one upsert, as increment and set do them: a
  -- counter's expired row starts again at 1 with the new TTL, a live one keeps its TTL (but the
  -- failure that reaches the hard limit gets a full TTL again, as on the generic path); a value that
  -- is not a count is kept and comes back NULL.
  WITH counted AS (
    INSERT INTO ${t} AS s (key, value, expires_at) VALUES
      (keys[4], '1', db_now + greatest(1, ceil(expires_at_ms - now_ms))::float8 * interval '1 millisecond'),
      (keys[5], '1', db_now + failure_ttl_ms * interval '1 millisecond'),
      (keys[6], now_ms::text, db_now + failure_ttl_ms * interval '1 millisecond')
    ON CONFLICT (key) DO UPDATE SET
      value = CASE WHEN s.key = keys[6] OR s.expires_at <= db_now THEN excluded.value
                   WHEN s.key = keys[4] AND counted THEN s.value
                   WHEN s.value ~ ${counter} THEN (s.value::bigint + 1)::text
                   ELSE s.value END,
      expires_at = CASE WHEN s.key = keys[6] OR s.expires_at <= db_now
                          OR (s.key = keys[5] AND s.value ~ ${counter} AND s.value::bigint + 1 = lockout[4])
                        THEN excluded.expires_at ELSE s.expires_at END
    RETURNING key, CASE WHEN value ~ ${counter} THEN value::bigint END AS n
  ) SELECT max(n) FILTER (WHERE key = keys[4]), max(n) FILTER (WHERE key = keys[5])
      INTO attempts, failures FROM counted;
  IF attempts IS NULL THEN RAISE EXCEPTION 'postgresStore: the attempts key holds a value that is not a counter'; END IF;
  IF failures IS NULL THEN RAISE EXCEPTION 'postgresStore: the failures key holds a value that is not a counter'; END IF;
  -- Past the limit only when an increment outside the account's lock counted in between.
  IF attempts > max_attempts THEN outcome := 'exhausted'; challenge := NULL; attempts := NULL; failures := NULL; failed_at := NULL; RETURN; END IF;
  outcome := 'wrong'; failed_at := NULL;
END
$verify$;
COMMENT ON FUNCTION ${functionName} IS 'express-sms-2fa: one verify attempt in one statement (postgresStore().verifyAttempt).';`;
}

/**
 * How long a batch of verifies waits for a row lock at most (ms) before it gives up and each of its
 * verifies is sent alone (`<table>_verify_many`'s `lock_timeout`). Rows of one account are written
 * only under its verify lock, except by an older instance's generic path or a resend: a wait is
 * rare and short, and one longer than this would hold every other account of the batch.
 */
export const VERIFY_BATCH_LOCK_TIMEOUT_MS = 100;

/**
 * Several verify attempts in one statement (`<table>_verify_many`), for verifies that queued while
 * the store's verify statements were all in flight (verify-batch.ts): one round trip and one commit
 * for all of them, each one the table's verify function exactly as a call of its own.
 *
 * Item k (1-based) is `keys[6k-5:6k]`, `user_ids[k]`, …, its hashes `hashes[hash_ends[k-1]+1 :
 * hash_ends[k]]`, `lockout[4k-3:4k]`, `fields[6k-5:6k]`; one row back per item, `i` = k, in order.
 * Before an item runs, its account's advisory lock is tried without waiting: held elsewhere (another
 * verify of the account, on another connection or instance), the item answers `retry` and changes
 * nothing, and the store sends it again on its own (where it waits for the lock as always). So a
 * batch never waits for an account's lock, and two batches never wait for each other's locks (no
 * deadlock, and a contested account never holds up the others). The lock, once taken, is the one
 * the function takes (re-entered), held to the batch's commit: two items of one account in one batch
 * run one after the other, the second reading what the first wrote, as two calls in a row would.
 * Under REPEATABLE READ or SERIALIZABLE (a snapshot taken before every lock) every item answers
 * `isolation` and nothing runs: the store sends them alone.
 *
 * An item that fails (the function raises) fails the whole statement, and nothing of it is
 * committed: the store then sends each item alone, so each gets its own answer or error.
 *
 * Deadlines (security F-08: a verify the app gave up on changes nothing): each item's is checked
 * when it starts, as alone, but nothing commits before the last item ends, so a slow later item
 * (another account's) would commit an earlier one after that one's caller was answered 503. So when
 * the batch ends past the smallest deadline of the items that ran, it raises and nothing of it is
 * is committed: each is sent again alone, where one past its deadline answers `late`. A row lock
 * wait (a write outside the verify lock on one item's keys) would hold every item the same way, so
 * the batch waits at most VERIFY_BATCH_LOCK_TIMEOUT_MS for a lock (`lock_timeout`, the function's
 * own setting: the caller's is back when it returns) and then fails (55P03) the same way: the item
 * that waits then waits alone.
 */
export function verifyManyFunctionSql(quoted: string, manyName: string, verifyName: string): string {
  return `CREATE OR REPLACE FUNCTION ${manyName}(
  keys text[], user_ids text[], session_ids text[], phones text[], hashes text[], hash_ends int[],
  now_ms bigint[], max_attempts int[], lockout float8[], failure_ttl_ms bigint[], fields int[],
  deadline_ms bigint[],
  OUT i int, OUT outcome text, OUT clock_ms bigint, OUT attempts bigint, OUT failures bigint,
  OUT failed_at bigint, OUT challenge text, OUT state text
) RETURNS SETOF record LANGUAGE plpgsql
-- The function's own setting, back to the caller's when it returns (or fails): an app's transaction
-- around store calls keeps its own lock_timeout after a batch.
SET lock_timeout = '${VERIFY_BATCH_LOCK_TIMEOUT_MS}ms'
AS $verify_many$
DECLARE
  n int := cardinality(user_ids);
  h0 int := 0;
  isolated boolean := current_setting('transaction_isolation') <> 'read committed';
  soonest bigint := 0; -- the smallest deadline of the items that ran (0: none)
BEGIN
  FOR k IN 1..n LOOP
    i := k; outcome := 'retry'; clock_ms := NULL; attempts := NULL; failures := NULL;
    failed_at := NULL; challenge := NULL; state := NULL;
    IF isolated THEN
      outcome := 'isolation';
    ELSIF pg_try_advisory_xact_lock(hashtextextended(keys[k * 6 - 5], ${lockSeed(quoted)})) THEN
      SELECT v.outcome, v.clock_ms, v.attempts, v.failures, v.failed_at, v.challenge, v.state
        INTO outcome, clock_ms, attempts, failures, failed_at, challenge, state
        FROM ${verifyName}(keys[k * 6 - 5 : k * 6], user_ids[k], session_ids[k], phones[k],
          hashes[h0 + 1 : hash_ends[k]], now_ms[k], max_attempts[k], lockout[k * 4 - 3 : k * 4],
          failure_ttl_ms[k], fields[k * 6 - 5 : k * 6], deadline_ms[k]) AS v;
      IF outcome IS DISTINCT FROM 'late' AND deadline_ms[k] > 0 AND (soonest = 0 OR deadline_ms[k] < soonest) THEN
        soonest := deadline_ms[k];
      END IF;
    END IF;
    h0 := hash_ends[k];
    RETURN NEXT;
  END LOOP;
  IF soonest > 0 AND floor(extract(epoch FROM clock_timestamp()) * 1000) > soonest THEN
    RAISE EXCEPTION 'postgresStore: a verify of this batch ran past its deadline';
  END IF;
END
$verify_many$;
COMMENT ON FUNCTION ${manyName} IS 'express-sms-2fa: several verify attempts in one statement (postgresStore().verifyAttempt under load).';`;
}
