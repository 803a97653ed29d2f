// The Node-side CPU of one postgresStore verify, alone (no HTTP): `npx tsx bench/pg-client-cost.ts
// [rounds] [perRound]`. Each op is one right-code verifyAttempt of a challenge seeded before the
// round (not timed), 10 in flight, over a pg.Pool of 10 (the README's wiring), through the guarded
// store as the route calls it. Variants interleaved round by round; the median CPU µs/op of each.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { guardStore } from '../src/stores/guarded-store.js';
import { postgresStore } from '../src/stores/postgres-store.js';
import { challengeRecord, verifyInputOf } from './pg-verify-fixture.js';

const TCP = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const UNIX = 'postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test';
const rounds = Number(process.argv[2] ?? 6);
const perRound = Number(process.argv[3] ?? 2000);
const table = `bench_pgcost_${process.pid}`;

interface Variant {
  name: string;
  /** Seeds `n` challenges (untimed) and returns the op for the i-th. */
  prepare(n: number): Promise<(i: number) => Promise<unknown>>;
}

const input = verifyInputOf;
const record = (id: string) => challengeRecord(`u${id}`, randomBytes(48).toString('base64url'));

const admin = new pg.Pool({ connectionString: TCP, max: 2 });

async function seed(ids: string[]) {
  for (let k = 0; k < ids.length; k += 500) {
    const part = ids.slice(k, k + 500);
    await admin.query(
      `INSERT INTO "${table}" (key, value, expires_at) SELECT 'c:' || id, v, now() + interval '10 minutes' FROM unnest($1::text[], $2::text[]) AS x(id, v)`,
      [part, part.map(record)],
    );
  }
}

let serial = 0;
function storeVariant(name: string, url: string): Variant & { pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url });
  const store = postgresStore({
    query: (text, params, n) => pool.query({ name: n, text, values: params }),
    table,
  });
  const guarded = guardStore(store, 5000);
  return {
    name,
    pool,
    async prepare(n) {
      const ids = Array.from({ length: n }, () => `${process.pid}-${serial++}`);
      await seed(ids);
      return async (i) => {
        const result = await guarded.verifyAttempt?.(input(ids[i] as string));
        if (result?.outcome !== 'right') throw new Error(`${name}: ${result?.outcome}`);
      };
    },
  };
}

function selectOne(name: string, url: string): Variant & { pool: pg.Pool } {
  const pool = new pg.Pool({ connectionString: url });
  return {
    name,
    pool,
    async prepare() {
      return () => pool.query({ name: 'one', text: 'SELECT 1 AS x', values: [] });
    },
  };
}

async function runOps(op: (i: number) => Promise<unknown>, n: number) {
  let next = 0;
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < n) await op(next++);
    }),
  );
  const wall = Number(process.hrtime.bigint() - start) / 1e9;
  const { user, system } = process.cpuUsage(cpu);
  return { cpuUs: (user + system) / n, userUs: user / n, sysUs: system / n, perSec: n / wall };
}

async function main() {
  const setup = postgresStore({ query: (text, params) => admin.query(text, params), table });
  await setup.migrate();
  const only = (process.env.VARIANTS ?? 'store-tcp,store-unix,one-tcp,one-unix').split(',');
  const all = [
    storeVariant('store-tcp', TCP),
    storeVariant('store-unix', UNIX),
    selectOne('one-tcp', TCP),
    selectOne('one-unix', UNIX),
  ].filter((v) => only.includes(v.name));
  const results = new Map<string, { cpuUs: number; userUs: number; sysUs: number; perSec: number }[]>();
  for (const v of all) await runOps(await v.prepare(200), 200); // warm-up: connections, prepares, JIT
  for (let r = 0; r < rounds; r++) {
    for (const v of r % 2 ? [...all].reverse() : all) {
      const op = await v.prepare(perRound);
      const res = await runOps(op, perRound);
      results.set(v.name, [...(results.get(v.name) ?? []), res]);
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const [name, rs] of results) {
    console.log(
      `${name.padEnd(12)} cpu ${median(rs.map((r) => r.cpuUs)).toFixed(0)} µs/op (user ${median(rs.map((r) => r.userUs)).toFixed(0)}, sys ${median(rs.map((r) => r.sysUs)).toFixed(0)}), ${median(rs.map((r) => r.perSec)).toFixed(0)} op/s  [cpu ${rs.map((r) => r.cpuUs.toFixed(0)).join(' ')}]`,
    );
  }
  await admin.query(`DROP TABLE IF EXISTS "${table}"`);
  await admin.query(`DROP FUNCTION IF EXISTS "${table}_verify"`);
  await admin.query(`DROP FUNCTION IF EXISTS "${table}_verify_many"`);
  for (const v of all) await v.pool.end();
  await admin.end();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
