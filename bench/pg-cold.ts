// What a pool's fresh connections cost the verify: `npx tsx bench/pg-cold.ts [rounds] [perRound]`.
// Each round runs `perRound` right-code verifies (10 in flight, pg.Pool of 10, the README's wiring,
// through the guarded store) on two pools alternately: `warm` keeps its connections from round to
// round; `cold` starts every round on 10 new connections that have each run one other query (as the
// bench's pool build leaves them after pg's 10 s idle timeout closed the old ones), so their first
// verify prepares the statement and compiles the PL/pgSQL function in its backend. Node CPU and the
// local PostgreSQL's CPU (all its processes: read it on a quiet machine) per verify, medians.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { guardStore } from '../src/stores/guarded-store.js';
import { postgresStore } from '../src/stores/postgres-store.js';
import { postgresServerCpuUs } from './cases/peer.js';
import { challengeRecord, verifyInputOf } from './pg-verify-fixture.js';

const URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.argv[2] ?? 8);
const perRound = Number(process.argv[3] ?? 400);
const table = `bench_pgcold_${process.pid}`;
const admin = new pg.Pool({ connectionString: URL, max: 2 });

const input = verifyInputOf;

let serial = 0;
async function seed(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `${process.pid}-${serial++}`);
  await admin.query(
    `INSERT INTO "${table}" (key, value, expires_at) SELECT 'c:' || id, v, now() + interval '10 minutes' FROM unnest($1::text[], $2::text[]) AS x(id, v)`,
    [ids, ids.map((id) => challengeRecord(`u${id}`, randomBytes(48).toString('base64url')))],
  );
  return ids;
}

function newPool() {
  const pool = new pg.Pool({ connectionString: URL });
  const store = guardStore(
    postgresStore({ query: (text, params, name) => pool.query({ name, text, values: params }), table }),
    5000,
  );
  return { pool, store };
}

/** Opens all 10 connections, each running one query that is not the verify (the sends of a pool build). */
async function touch(pool: pg.Pool) {
  const clients = await Promise.all(Array.from({ length: 10 }, () => pool.connect()));
  await Promise.all(clients.map((c) => c.query(`SELECT count(*) FROM "${table}" WHERE key = $1`, ['x'])));
  for (const c of clients) c.release();
}

async function run(store: ReturnType<typeof newPool>['store'], ids: string[]) {
  let next = 0;
  const pg0 = postgresServerCpuUs() ?? Number.NaN;
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < ids.length) {
        const result = await store.verifyAttempt?.(input(ids[next++] as string));
        if (result?.outcome !== 'right') throw new Error(`verify: ${result?.outcome}`);
      }
    }),
  );
  const ms = performance.now() - start;
  const { user, system } = process.cpuUsage(cpu);
  const pgUs = (postgresServerCpuUs() ?? Number.NaN) - pg0;
  return { nodeUs: (user + system) / ids.length, pgUs: pgUs / ids.length, perSec: (ids.length * 1000) / ms };
}

async function main() {
  await postgresStore({ query: (text, params) => admin.query(text, params), table }).migrate();
  const warm = newPool();
  await touch(warm.pool);
  await run(warm.store, await seed(200)); // the warm pool's backends prepare and compile once
  const results: Record<string, { nodeUs: number; pgUs: number; perSec: number }[]> = { warm: [], cold: [] };
  for (let r = 0; r < rounds; r++) {
    for (const kind of r % 2 ? ['cold', 'warm'] : ['warm', 'cold']) {
      const ids = await seed(perRound);
      if (kind === 'warm') {
        await touch(warm.pool);
        results.warm?.push(await run(warm.store, ids));
      } else {
        const cold = newPool();
        await touch(cold.pool);
        results.cold?.push(await run(cold.store, ids));
        await cold.pool.end();
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const [name, rs] of Object.entries(results)) {
    const m = (k: 'nodeUs' | 'pgUs' | 'perSec') => median(rs.map((x) => x[k])).toFixed(0);
    console.log(
      `${name}: Node ${m('nodeUs')} µs/verify, PostgreSQL ${m('pgUs')} µs/verify, ${m('perSec')} verifies/s  [Node ${rs.map((x) => x.nodeUs.toFixed(0)).join(' ')}] [PostgreSQL ${rs.map((x) => x.pgUs.toFixed(0)).join(' ')}]`,
    );
  }
  await admin.query(`DROP TABLE IF EXISTS "${table}"`);
  await admin.query(`DROP FUNCTION IF EXISTS "${table}_verify"`);
  await admin.query(`DROP FUNCTION IF EXISTS "${table}_verify_many"`);
  await warm.pool.end();
  await admin.end();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
