// Batched verifies against one statement each (verify-batch.ts), in-process, no HTTP:
// `npx tsx bench/pg-batch-cost.ts [rounds] [perRound] [inFlight]`. Each op is one right-code
// verifyAttempt of a challenge seeded before the round (not timed), `inFlight` (10) at once, over a
// pg.Pool of 10 (the README's wiring), through the guarded store as the route calls it. `alone` is
// the same store with its batches refused (its query answers the batch statement 42883, as a
// database migrated before the batch function existed; the store then sends every verify alone).
// `BASE_SRC=<dir>` adds `base`: the postgresStore of another src tree (e.g. main's, from
// `git archive main src | tar -x -C /tmp/main`, then BASE_SRC=/tmp/main/src), on the same table;
// several, comma-separated, add `base:<the tree's parent directory>` each. `NO_ALONE=1` leaves `alone` out.
// Variants interleaved round by round; medians of Node CPU, the local PostgreSQL's CPU (all its
// processes: read it on a quiet machine) and verifies/s; the statements each verify cost.
// `ONLY=batched` (or alone, base) runs one variant (to watch the process with `perf stat -p`).
// `SPIN_US=290`: each op first burns that much CPU in an event-loop turn of its own, as the app's
// HTTP and route work per request does (ours on memoryStore: ~290 µs), so Node is busy as in the
// app and the statements come back while it works; its CPU is in the Node figure. `ASYNC_COMMIT=1`:
// the pools commit with synchronous_commit=off (a database whose commits are quick); `ASYNC_VARIANT=1`
// adds `batched-async`, the batched store on such a pool, beside the others. Each line also gives a
// statement's round trip (median, ms; every statement of the store, sent to answered) and the share
// of the run with at least one statement out.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import pg from 'pg';
import { guardStore } from '../src/stores/guarded-store.js';
import { postgresStore } from '../src/stores/postgres-store.js';
import { postgresServerCpuUs } from './cases/peer.js';
import { challengeRecord, verifyInputOf } from './pg-verify-fixture.js';

const URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
const rounds = Number(process.argv[2] ?? 6);
const perRound = Number(process.argv[3] ?? 1500);
const inFlight = Number(process.argv[4] ?? 10);
const table = `bench_pgbatch_${process.pid}`;
const admin = new pg.Pool({ connectionString: URL, max: 2 });

let serial = 0;
async function seed(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `${process.pid}-${serial++}`);
  await admin.query(
    `INSERT INTO "${table}" (key, value, expires_at) SELECT 'c:' || id, v, now() + interval '10 minutes' FROM unnest($1::text[], $2::text[]) AS x(id, v)`,
    [ids, ids.map((id) => challengeRecord(`u${id}`, randomBytes(48).toString('base64url')))],
  );
  return ids;
}

type StoreFactory = typeof postgresStore;
type GuardFactory = typeof guardStore;

function variant(
  batches: boolean,
  make: StoreFactory = postgresStore,
  guard: GuardFactory = guardStore,
  asyncCommit = process.env.ASYNC_COMMIT === '1',
) {
  const pool = new pg.Pool({
    connectionString: URL,
    ...(asyncCommit ? { options: '-c synchronous_commit=off' } : {}),
  });
  let statements = 0;
  /** Each verify statement's round trip (ms), and the time with at least one out (ms), this round. */
  const trips: number[] = [];
  let out = 0;
  let outSince = 0;
  let outMs = 0;
  const store = guard(
    make({
      query: (text, params, name) => {
        statements++;
        if (!batches && text.includes('_verify_many"(')) {
          return Promise.reject(Object.assign(new Error('refused by the bench'), { code: '42883' }));
        }
        const sent = performance.now();
        if (out++ === 0) outSince = sent;
        const done = () => {
          const back = performance.now();
          trips.push(back - sent);
          if (--out === 0) outMs += back - outSince;
        };
        const reply = pool.query({ name, text, values: params });
        reply.then(done, done);
        return reply;
      },
      table,
    }),
    5000,
  );
  /** Starts a round's count (a statement still out from before, e.g. a sweep, counts from now). */
  const start = () => {
    trips.length = 0;
    outMs = 0;
    if (out > 0) outSince = performance.now();
  };
  const timing = () => {
    const sorted = trips.splice(0).sort((a, b) => a - b);
    if (out > 0) {
      const now = performance.now();
      outMs += now - outSince;
      outSince = now;
    }
    const busy = outMs;
    outMs = 0;
    return { tripMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, outMs: busy };
  };
  return { pool, store, statements: () => statements, start, timing };
}

/** The app's own work per request (SPIN_US µs of CPU: HTTP, routing, cookies), 0 by default. */
const SPIN_US = Number(process.env.SPIN_US ?? 0);
function spin(): void {
  if (SPIN_US <= 0) return;
  const until = performance.now() + SPIN_US / 1000;
  while (performance.now() < until);
}

async function run(v: ReturnType<typeof variant>, ids: string[]) {
  let next = 0;
  const s0 = v.statements();
  const pg0 = postgresServerCpuUs() ?? Number.NaN;
  v.start();
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (;;) {
        // Each request arrives as an I/O callback of its own (a later turn of the event loop), as an
        // HTTP request does, not in the microtasks of the previous verify's answer.
        if (SPIN_US > 0) await new Promise((resolve) => setImmediate(resolve));
        if (next >= ids.length) break;
        const id = ids[next++] as string;
        spin();
        const result = await v.store.verifyAttempt?.(verifyInputOf(id));
        if (result?.outcome !== 'right') throw new Error(`verify: ${result?.outcome}`);
      }
    }),
  );
  const ms = performance.now() - start;
  const { user, system } = process.cpuUsage(cpu);
  const pgUs = (postgresServerCpuUs() ?? Number.NaN) - pg0;
  const { tripMs, outMs } = v.timing();
  return {
    tripMs,
    outShare: outMs / ms,
    nodeUs: (user + system) / ids.length,
    pgUs: pgUs / ids.length,
    perSec: (ids.length * 1000) / ms,
    statements: (v.statements() - s0) / ids.length,
  };
}

async function main() {
  await postgresStore({ query: (text, params) => admin.query(text, params), table }).migrate();
  const variants: Record<string, ReturnType<typeof variant>> = { batched: variant(true) };
  if (process.env.NO_ALONE !== '1') variants.alone = variant(false);
  // `ASYNC_VARIANT=1`: the same batched store on a pool that commits with synchronous_commit=off.
  if (process.env.ASYNC_VARIANT === '1')
    variants['batched-async'] = variant(true, postgresStore, guardStore, true);
  // Several trees, comma-separated: each is `base` (one) or `base:<its parent directory's name>`.
  const bases = (process.env.BASE_SRC ?? '').split(',').filter(Boolean);
  for (const dir of bases) {
    const base = resolve(dir);
    const { postgresStore: make } = await import(`${base}/stores/postgres-store.ts`);
    const { guardStore: guard } = await import(`${base}/stores/guarded-store.ts`);
    const label = bases.length === 1 ? 'base' : `base:${base.split('/').at(-2)}`;
    variants[label] = variant(true, make, guard);
  }
  type Result = Awaited<ReturnType<typeof run>>;
  const results: Record<string, Result[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const v of Object.values(variants)) await run(v, await seed(200)); // warm-up
  const names = Object.keys(variants);
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 ? [...names].reverse() : names) {
      if (process.env.ONLY && process.env.ONLY !== name) continue;
      results[name]?.push(await run(variants[name] as ReturnType<typeof variant>, await seed(perRound)));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  for (const [name, rs] of Object.entries(results)) {
    if (rs.length === 0) continue;
    const m = (k: keyof Result, digits = 0) => median(rs.map((x) => x[k])).toFixed(digits);
    console.log(
      `${name.padEnd(12)} Node ${m('nodeUs')} µs/verify, PostgreSQL ${m('pgUs')} µs/verify, ${m('perSec')} verifies/s, ${m('statements', 2)} statements/verify, a statement's round trip ${m('tripMs', 2)} ms (median), one or more out ${m('outShare', 2)} of the time  [Node ${rs.map((x) => x.nodeUs.toFixed(0)).join(' ')}] [PostgreSQL ${rs.map((x) => x.pgUs.toFixed(0)).join(' ')}] [/s ${rs.map((x) => x.perSec.toFixed(0)).join(' ')}]`,
    );
  }
  await admin.query(`DROP TABLE IF EXISTS "${table}"`);
  await admin.query(`DROP FUNCTION IF EXISTS "${table}_verify_many"`);
  await admin.query(`DROP FUNCTION IF EXISTS "${table}_verify"`);
  for (const v of Object.values(variants)) await v.pool.end();
  await admin.end();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
