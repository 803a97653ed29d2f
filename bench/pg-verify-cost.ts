// What PostgreSQL spends on one verify, old function against new, in process, no store, no HTTP:
// `OLD=/tmp/old-verify-function.ts npx tsx bench/pg-verify-cost.ts [rounds] [perRound] [clients]`.
// Two tables, one with the table's verify function as this checkout writes it (`new`), one with the
// function of the module OLD names (a copy of an older verify-function.ts, e.g. `git show
// <rev>:src/stores/postgres/verify-function.ts`; without OLD both are the new one, an A/A; NEW names
// a module for the new side the same way). Each op is one verify of a challenge seeded before the
// round (not timed), sent as the store sends it (the named statement) by `clients` connections at
// once; variants interleaved round by round. Per verify: the CPU of the variant's own backends
// (/proc, so other clients of the server do not count), of every PostgreSQL process (walwriter,
// autovacuum: read it on a quiet machine), wall time. Then the WAL of 50 verifies of each, counted
// exactly: each in its own transaction, whose xid picks its records out of pg_walinspect (other
// sessions' WAL does not count; skipped with SYNC=off).
// `WRONG=1`: wrong codes (one each, the first attempt). `SYNC=off`: synchronous_commit off on the
// clients (the function without the commit's flush). `GENERIC=1`: plan_cache_mode force_generic_plan.
// `STORE=1`: through the store as the route calls it instead (a guarded postgresStore over a pg.Pool
// of 10, `clients` verifies in flight, so verifies that queue go as one `_verify_many`); the
// backends are the pool's (found by application_name).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { guardStore } from '../src/stores/guarded-store.js';
import { numberArray, textArray } from '../src/stores/postgres/literals.js';
import { schemaSql, statementName, statements, tableIdentifier } from '../src/stores/postgres/sql.js';
import { verifyFunctionSql } from '../src/stores/postgres/verify-function.js';
import { postgresStore } from '../src/stores/postgres-store.js';
import { postgresServerCpuUs } from './cases/peer.js';
import { challengeRecord, verifyInputOf } from './pg-verify-fixture.js';

const URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.argv[2] ?? 6);
const perRound = Number(process.argv[3] ?? 1000);
const clients = Number(process.argv[4] ?? 4);
const wrong = process.env.WRONG === '1';
const admin = new pg.Client({ connectionString: URL });

type FunctionSql = (quoted: string, name: string) => string;

function params(id: string): unknown[] {
  const input = verifyInputOf(id);
  const { keys, challengeFields: f, lockout } = input;
  return [
    textArray([keys.lock, keys.challenge, keys.state, keys.attempts, keys.failures, keys.failedAt]),
    input.userId,
    input.session,
    input.phone,
    textArray(wrong ? ['not-the-hash'] : input.hashes),
    Math.floor(input.now),
    input.maxAttempts,
    numberArray([lockout.threshold, lockout.baseMs, lockout.maxDelayMs, lockout.hardLimit]),
    Math.max(1, Math.ceil(input.failureTtlMs)),
    numberArray([f.length, f.userId, f.session, f.hash, f.expiresAt, f.phone]),
    0,
  ];
}

/** The CPU (µs) a backend used so far (/proc: 10 ms ticks, so sum over many verifies). */
function backendCpuUs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ').map(Number) ?? [];
  return ((f[11] ?? 0) + (f[12] ?? 0)) * 10_000;
}

async function variant(name: string, functionSql: FunctionSql) {
  const table = `bench_pgcost_${process.pid}_${name}`;
  const { quoted, verifyQuoted } = tableIdentifier(table);
  await admin.query(schemaSql(table));
  await admin.query(functionSql(quoted, verifyQuoted));
  const text = statements(table).verify;
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const client = new pg.Client({ connectionString: URL });
      await client.connect();
      if (process.env.SYNC === 'off') await client.query('SET synchronous_commit = off');
      if (process.env.GENERIC === '1') await client.query('SET plan_cache_mode = force_generic_plan');
      const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
      return { client, pid: (rows[0] as { pid: number }).pid };
    }),
  );
  let serial = 0;
  const seed = async (n: number) => {
    const ids = Array.from({ length: n }, () => `${name}-${serial++}`);
    await admin.query(
      `INSERT INTO ${quoted} (key, value, expires_at) SELECT 'c:' || id, v, now() + interval '10 minutes' FROM unnest($1::text[], $2::text[]) AS x(id, v)`,
      [ids, ids.map((id) => challengeRecord(`u${id}`, randomBytes(48).toString('base64url')))],
    );
    return ids;
  };
  const verify = async (client: pg.Client, id: string) => {
    const { rows } = await client.query({ name: statementName(text), text, values: params(id) });
    const outcome = (rows[0] as { outcome: string }).outcome;
    if (outcome !== (wrong ? 'wrong' : 'right')) throw new Error(`${name}: ${outcome}`);
  };
  // The store's way (STORE=1): its own pool, whose backends are told apart by application_name.
  const application_name = `pgcost_${process.pid}_${name}`;
  const pool = new pg.Pool({ connectionString: URL, max: 10, application_name, idleTimeoutMillis: 0 });
  const store = guardStore(
    postgresStore({ query: (text, params, n) => pool.query({ name: n, text, values: params }), table }),
    5000,
  );
  const storeVerify = async (id: string) => {
    const outcome = (
      await store.verifyAttempt?.({ ...verifyInputOf(id), ...(wrong ? { hashes: ['x'] } : {}) })
    )?.outcome;
    if (outcome !== (wrong ? 'wrong' : 'right')) throw new Error(`${name}: ${outcome}`);
  };
  const poolPids = async () =>
    (
      await admin.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [application_name])
    ).rows.map((r) => r.pid as number);
  return { name, table, conns, seed, verify, pool, storeVerify, poolPids };
}

type Variant = Awaited<ReturnType<typeof variant>>;

async function run(v: Variant, ids: string[]) {
  let next = 0;
  const viaStore = process.env.STORE === '1';
  const pids = viaStore ? await v.poolPids() : v.conns.map((c) => c.pid);
  const cpu = () => pids.reduce((sum, pid) => sum + backendCpuUs(pid), 0);
  const own0 = cpu();
  const all0 = postgresServerCpuUs() ?? Number.NaN;
  const start = performance.now();
  await Promise.all(
    viaStore
      ? Array.from({ length: clients }, async () => {
          while (next < ids.length) await v.storeVerify(ids[next++] as string);
        })
      : v.conns.map(async ({ client }) => {
          while (next < ids.length) await v.verify(client, ids[next++] as string);
        }),
  );
  const ms = performance.now() - start;
  const own = cpu() - own0;
  const all = (postgresServerCpuUs() ?? Number.NaN) - all0;
  return { backendUs: own / ids.length, allUs: all / ids.length, wallUs: (ms * 1000) / ids.length };
}

/** The WAL of `n` verifies, each in a transaction of its own, by record type (pg_walinspect). */
async function wal(v: Variant, n: number) {
  const ids = await v.seed(n);
  const { client } = v.conns[0] as Variant['conns'][number];
  const xids: string[] = [];
  const start = (await client.query('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0].l as string;
  for (const id of ids) {
    await client.query('BEGIN');
    await v.verify(client, id);
    xids.push((await client.query('SELECT pg_current_xact_id_if_assigned()::text AS x')).rows[0].x as string);
    await client.query('COMMIT');
  }
  // The flush position: past every commit above (durable), and a range pg_walinspect can read.
  const end = (await client.query('SELECT pg_current_wal_flush_lsn()::text AS l')).rows[0].l as string;
  const { rows } = await admin.query(
    `SELECT resource_manager || ' ' || record_type AS record, count(*)::int AS n, sum(record_length)::int AS bytes,
            sum(fpi_length)::int AS fpi
       FROM pg_get_wal_records_info($1::pg_lsn, $2::pg_lsn)
      WHERE xid::text = ANY($3::text[]) GROUP BY 1 ORDER BY 1`,
    [start, end, xids.filter((x) => x !== null)],
  );
  const total = rows.reduce((sum, r) => sum + r.bytes, 0);
  const records = rows.reduce((sum, r) => sum + r.n, 0);
  console.log(
    `${v.name.padEnd(4)} WAL ${(total / n).toFixed(0)} bytes, ${(records / n).toFixed(2)} records per verify (${xids.filter((x) => x !== null).length}/${n} wrote): ${rows.map((r) => `${r.record} ${(r.n / n).toFixed(2)}×${(r.bytes / r.n).toFixed(0)}B${r.fpi ? ` fpi ${r.fpi}` : ''}`).join(', ')}`,
  );
}

async function main() {
  await admin.connect();
  const created =
    (await admin.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_walinspect'")).rowCount === 0;
  if (created) await admin.query('CREATE EXTENSION IF NOT EXISTS pg_walinspect');
  const old = process.env.OLD
    ? ((await import(process.env.OLD)) as { verifyFunctionSql: FunctionSql }).verifyFunctionSql
    : verifyFunctionSql;
  const neu = process.env.NEW
    ? ((await import(process.env.NEW)) as { verifyFunctionSql: FunctionSql }).verifyFunctionSql
    : verifyFunctionSql;
  const variants = [await variant('old', old), await variant('new', neu)];
  const results = new Map<string, Awaited<ReturnType<typeof run>>[]>(variants.map((v) => [v.name, []]));
  for (const v of variants) await run(v, await v.seed(200)); // warm-up: plans, caches
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [...variants].reverse() : variants;
    const seeded = await Promise.all(order.map((v) => v.seed(perRound)));
    for (const [i, v] of order.entries()) results.get(v.name)?.push(await run(v, seeded[i] as string[]));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const [name, rs] of results) {
    const list = (k: 'backendUs' | 'allUs' | 'wallUs') => rs.map((x) => x[k].toFixed(0)).join(' ');
    console.log(
      `${name.padEnd(4)} backend ${median(rs.map((x) => x.backendUs)).toFixed(0)} µs/verify [${list('backendUs')}], all PostgreSQL ${median(rs.map((x) => x.allUs)).toFixed(0)} [${list('allUs')}], wall ${median(rs.map((x) => x.wallUs)).toFixed(0)} µs [${list('wallUs')}]`,
    );
  }
  // Without durable commits the last records may not be flushed, where pg_walinspect reads.
  if (process.env.SYNC !== 'off') for (const v of variants) await wal(v, 50);
  for (const v of variants) {
    for (const { client } of v.conns) await client.end();
    await v.pool.end();
    await admin.query(`DROP TABLE IF EXISTS "${v.table}"`);
    await admin.query(`DROP FUNCTION IF EXISTS "${v.table}_verify"`);
    await admin.query(`DROP FUNCTION IF EXISTS "${v.table}_verify_many"`);
  }
  if (created) await admin.query('DROP EXTENSION IF EXISTS pg_walinspect');
  await admin.end();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
