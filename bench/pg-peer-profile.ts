// Where the app's CPU goes under the peer's PostgreSQL load: `npx tsx bench/pg-peer-profile.ts [rounds] [count]`
// (Linux /proc; `PERF=1` adds perf, root). One app (memory+postgres, as bench/pg-split.ts), right-code
// verifies of fresh challenges (`count` per run, pools built before each run, not timed), three
// variants per round, interleaved:
//   pg        POST /r/2fa/verify (postgresStore over a pg.Pool of 10), 10 connections, as the peer case;
//   memory    POST /2fa/verify (memoryStore), 10 connections;
//   memory@pg the memory route again at the pg run's own rate (autocannon's overallRate), so that
//             its event loop waits between requests about as often as the pg route's does.
// Per request: the app's CPU (all threads, /proc/<pid>/task/*/schedstat, ns), its main thread's
// alone, the other threads' (V8's compiler and GC helpers, libuv's pool), the main thread's wait on
// the run queue and its time slices, its voluntary (slept) and involuntary (pre-empted) switches,
// PostgreSQL's CPU (all its processes), the load generator's (this process) and req/s; the load
// average beside each round. `PERF=1`: the app runs with --perf-basic-prof (its V8 log in the temp
// directory) and every run is sampled (`perf record -e cpu-clock`), the samples split by thread and
// by what ran (kernel, V8's builtins, runtime, compiler, GC, libuv, and JS by package: pg, pg-pool,
// pg-protocol, ours, express, …), in µs per request, pg against memory@pg (`AGAINST=memory`: the
// memory route at full rate); with the top symbols where they differ most.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { postgresServerCpuUs } from './cases/peer.js';
import { buildPackage, packageKind, type Server, startServer } from './child.js';
import { type PooledRequest, rightCodePool } from './client.js';

const rounds = Number(process.argv[2] ?? 4);
const count = Number(process.argv[3] ?? 2000);
const CONNECTIONS = 10;
const PERF = process.env.PERF === '1';
const dir = mkdtempSync(join(tmpdir(), 'pg-peer-profile-'));

interface Threads {
  mainNs: number;
  mainWaitNs: number;
  mainSlices: number;
  otherNs: number;
  voluntary: number;
  involuntary: number;
}

/** The app's threads as the kernel counts them (schedstat: on-CPU ns, run-queue wait ns, slices). */
function threads(pid: number): Threads {
  const t: Threads = { mainNs: 0, mainWaitNs: 0, mainSlices: 0, otherNs: 0, voluntary: 0, involuntary: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let sched: number[];
    try {
      sched = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    } catch {
      continue; // exited meanwhile
    }
    if (Number(tid) !== pid) {
      t.otherNs += sched[0] ?? 0;
      continue;
    }
    t.mainNs = sched[0] ?? 0;
    t.mainWaitNs = sched[1] ?? 0;
    t.mainSlices = sched[2] ?? 0;
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(status)?.[1]);
    t.voluntary = field('voluntary_ctxt_switches');
    t.involuntary = field('nonvoluntary_ctxt_switches');
  }
  return t;
}

interface Measured {
  requests: number;
  perSec: number;
  appUs: number;
  mainUs: number;
  otherUs: number;
  waitUs: number;
  slices: number;
  voluntary: number;
  involuntary: number;
  pgUs: number;
  loadGenUs: number;
  p99: number;
  load: number;
}

async function fire(server: Server, path: string, pool: PooledRequest[], rate?: number, perfFile?: string) {
  let i = 0;
  const setupRequest = (req: { headers?: Record<string, string>; body?: string | Buffer }) => {
    const item = pool[Math.min(i++, pool.length - 1)] as PooledRequest;
    req.headers = { 'content-type': 'application/json', cookie: item.cookie };
    req.body = item.body;
    return req;
  };
  await server.gc(false);
  let perf: ChildProcess | undefined;
  if (perfFile) {
    perf = spawn(
      'perf',
      ['record', '-q', '-e', 'cpu-clock', '-F', '2000', '-o', perfFile, '-p', String(server.pid)],
      {
        stdio: 'ignore',
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 300)); // perf attaches
  }
  const t0 = threads(server.pid);
  const pg0 = postgresServerCpuUs() ?? Number.NaN;
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  let last = started;
  const instance = autocannon({
    url: server.url,
    connections: CONNECTIONS,
    pipelining: 1,
    timeout: 10,
    amount: pool.length,
    ...(rate ? { overallRate: Math.round(rate) } : {}),
    requests: [{ method: 'POST', path, setupRequest }],
  });
  instance.on('response', () => {
    last = performance.now();
  });
  const result = await instance;
  const cpu = process.cpuUsage(cpu0);
  const pg1 = postgresServerCpuUs() ?? Number.NaN;
  const t1 = threads(server.pid);
  if (perf) {
    const p = perf;
    await new Promise<void>((resolve) => {
      if (p.exitCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGINT');
    });
  }
  const ok = result.statusCodeStats['200']?.count ?? 0;
  if (ok !== pool.length) throw new Error(`${path}: ${ok} of ${pool.length} answered 200`);
  const n = pool.length;
  const m: Measured = {
    requests: n,
    perSec: (n * 1000) / (last - started),
    appUs: (t1.mainNs + t1.otherNs - t0.mainNs - t0.otherNs) / 1000 / n,
    mainUs: (t1.mainNs - t0.mainNs) / 1000 / n,
    otherUs: (t1.otherNs - t0.otherNs) / 1000 / n,
    waitUs: (t1.mainWaitNs - t0.mainWaitNs) / 1000 / n,
    slices: (t1.mainSlices - t0.mainSlices) / n,
    voluntary: (t1.voluntary - t0.voluntary) / n,
    involuntary: (t1.involuntary - t0.involuntary) / n,
    pgUs: (pg1 - pg0) / n,
    loadGenUs: (cpu.user + cpu.system) / n,
    p99: result.latency.p99,
    load: loadavg()[0] as number,
  };
  return m;
}

/** What a perf sample ran, by thread (main or other) and kind. */
function kindOf(dso: string, sym: string): string {
  if (dso.includes('kernel')) return 'kernel';
  const js = /^(JS|LazyCompile|Function|Script|InterpretedFunction|Builtin):|^[~*^+]/.exec(sym);
  if (js || dso.startsWith('perf-') || dso.startsWith('[JIT]') || dso === '[unknown]') {
    if (sym.includes('/pg-pool/')) return 'js pg-pool';
    if (sym.includes('/pg-protocol/')) return 'js pg-protocol';
    if (sym.includes('/node_modules/pg/')) return 'js pg';
    if (sym.includes('/bench/dist/')) return 'js ours';
    if (sym.includes('express-session')) return 'js express-session';
    if (
      /node_modules\/(express|router|body-parser|raw-body|cookie|on-finished|finalhandler|send|qs)/.test(sym)
    )
      return 'js express & co';
    if (sym.includes('/bench/')) return 'js bench app';
    if (sym.includes('node:')) return 'js node internals';
    if (dso === '[unknown]' || sym.startsWith('0x')) return 'unknown';
    return 'js other';
  }
  if (dso.startsWith('libc')) return 'libc';
  if (dso === 'node' || dso.endsWith('/node')) {
    if (sym.startsWith('Builtins_')) return 'v8 builtins';
    if (/compiler|turbofan|turboshaft|maglev|Pipeline/i.test(sym)) return 'v8 compiler';
    if (/Heap|Scaveng|Mark|Sweep|Evacuat|GC|Concurrent/i.test(sym)) return 'v8 gc';
    if (/^uv_|^uv__/.test(sym)) return 'libuv';
    if (/llhttp/.test(sym)) return 'http parser';
    return 'v8 runtime & node';
  }
  return dso;
}

/** perf samples of the files, by `thread kind` and by symbol, as shares of all samples. */
function split(files: string[]) {
  const byKind = new Map<string, number>();
  const bySym = new Map<string, number>();
  let total = 0;
  for (const file of files) {
    let out = '';
    try {
      out = execFileSync(
        'perf',
        [
          'report',
          '-i',
          file,
          '--stdio',
          '-q',
          '-t',
          '|',
          '--sort',
          'pid,dso,sym',
          '--percent-limit',
          '0',
          '-n',
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 * 1024 * 1024 },
      );
    } catch {
      continue;
    }
    for (const line of out.split('\n')) {
      const f = line.split('|').map((s) => s.trim());
      if (f.length < 5) continue;
      const samples = Number(f[1]);
      if (!Number.isFinite(samples)) continue;
      const tid = Number(/^(\d+)/.exec(f[2] as string)?.[1]);
      const sym = (f[4] as string).replace(/^\[[.k]\]\s*/, '');
      const kind = kindOf(f[3] as string, sym);
      const key = `${mainTids.has(tid) ? 'main ' : 'other'} ${kind}`;
      byKind.set(key, (byKind.get(key) ?? 0) + samples);
      const symKey = `${kind} | ${sym.slice(0, 110)}`;
      bySym.set(symKey, (bySym.get(symKey) ?? 0) + samples);
      total += samples;
    }
  }
  const share = (m: Map<string, number>) => new Map([...m].map(([k, v]) => [k, v / Math.max(total, 1)]));
  return { byKind: share(byKind), bySym: share(bySym), total };
}
const mainTids = new Set<number>();

async function main() {
  // `SPLIT=<dir> MAIN_TID=<pid> PG_US=<µs> MEMORY_US=<µs>`: split an earlier run's perf data again.
  if (process.env.SPLIT) {
    const files = readdirSync(process.env.SPLIT).filter((f) => f.endsWith('.data'));
    mainTids.add(Number(process.env.MAIN_TID));
    const of = (name: string) =>
      files.filter((f) => f.startsWith(`${name}-`)).map((f) => join(process.env.SPLIT as string, f));
    const us: Record<string, number> = {
      pg: Number(process.env.PG_US),
      memory: Number(process.env.MEMORY_US),
    };
    printSplits(
      { pg: of('pg'), memory: of('memory'), 'memory@pg': of('memory@pg') },
      (name) => us[name] ?? Number.NaN,
    );
    return;
  }
  if (packageKind() === 'dist') buildPackage();
  if (PERF)
    process.env.BENCH_NODE_FLAGS =
      `${process.env.BENCH_NODE_FLAGS ?? ''} --perf-basic-prof --no-logfile-per-isolate --logfile=${join(dir, 'v8.log')}`.trim();
  const server = await startServer('pg-peer-profile', {
    kind: 'app',
    auth: 'session',
    store: 'memory+postgres',
    transport: 'codes',
    postgresTable: `bench_peerprof_${process.pid}_${randomBytes(3).toString('hex')}`,
  });
  mainTids.add(server.pid);
  const results: Record<string, Measured[]> = { pg: [], memory: [], 'memory@pg': [] };
  const perfFiles: Record<string, string[]> = { pg: [], memory: [], 'memory@pg': [] };
  try {
    // Warm-up: both routes, not counted.
    await fire(server, '/r/2fa/verify', await rightCodePool(server, 600, '/r/2fa'));
    await fire(server, '/2fa/verify', await rightCodePool(server, 600, '/2fa'));
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 ? ['memory', 'pg'] : ['pg', 'memory'];
      for (const name of order) {
        const mount = name === 'pg' ? '/r/2fa' : '/2fa';
        const pool = await rightCodePool(server, count, mount);
        const file = PERF ? join(dir, `${name}-${r}.data`) : undefined;
        const m = await fire(server, `${mount}/verify`, pool, undefined, file);
        results[name]?.push(m);
        if (file) perfFiles[name]?.push(file);
        line(name, m);
      }
      const rate = results.pg?.at(-1)?.perSec;
      const file = PERF ? join(dir, `memory@pg-${r}.data`) : undefined;
      const m = await fire(server, '/2fa/verify', await rightCodePool(server, count, '/2fa'), rate, file);
      results['memory@pg']?.push(m);
      if (file) perfFiles['memory@pg']?.push(file);
      line('memory@pg', m);
    }
    await server.request('cleanup');
  } finally {
    await server.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  console.log('\nmedians per request over the rounds:');
  for (const [name, ms] of Object.entries(results)) {
    const agg: Measured = Object.fromEntries(
      Object.keys(ms[0] as Measured).map((k) => [k, median(ms.map((m) => m[k as keyof Measured]))]),
    ) as unknown as Measured;
    line(name, agg);
  }
  if (!PERF) return;
  printSplits(perfFiles, (name) => median((results[name] ?? []).map((m) => m.appUs)));
  console.log(`\nperf data in ${dir}`);
}

/** The perf samples split (µs per request: share × the variant's app CPU per request). */
function printSplits(perfFiles: Record<string, string[]>, app: (name: string) => number): void {
  // pg against the memory route at the same rate (memory@pg), or `AGAINST=memory`.
  const against = process.env.AGAINST ?? 'memory@pg';
  console.log(`\npg against ${against}:`);
  const splits = Object.fromEntries(Object.entries(perfFiles).map(([name, files]) => [name, split(files)]));
  console.log('\nperf samples by thread and kind, µs per request (share × the median app CPU per request):');
  const kinds = new Set([...Object.values(splits).flatMap((s) => [...s.byKind.keys()])]);
  const rows = [...kinds].map((k) => {
    const pg = (splits.pg?.byKind.get(k) ?? 0) * app('pg');
    const mem = (splits[against]?.byKind.get(k) ?? 0) * app(against);
    return { k, pg, mem };
  });
  rows.sort((a, b) => b.pg - b.mem - (a.pg - a.mem));
  for (const { k, pg, mem } of rows) {
    if (pg < 1 && mem < 1) continue;
    console.log(
      `  ${k.padEnd(32)} pg ${pg.toFixed(0).padStart(5)}  ${against} ${mem.toFixed(0).padStart(5)}  diff ${(pg - mem).toFixed(0).padStart(5)}`,
    );
  }
  console.log('\ntop symbols by pg − the other, µs per request:');
  const syms = new Set([...Object.values(splits).flatMap((s) => [...s.bySym.keys()])]);
  const symRows = [...syms].map((k) => ({
    k,
    pg: (splits.pg?.bySym.get(k) ?? 0) * app('pg'),
    mem: (splits[against]?.bySym.get(k) ?? 0) * app(against),
  }));
  symRows.sort((a, b) => b.pg - b.mem - (a.pg - a.mem));
  for (const { k, pg, mem } of symRows.slice(0, 40)) {
    console.log(
      `  ${(pg - mem).toFixed(1).padStart(6)}  (pg ${pg.toFixed(1)}, ${against} ${mem.toFixed(1)})  ${k}`,
    );
  }
}

function line(name: string, m: Measured) {
  console.log(
    `${name.padEnd(10)} ${m.perSec.toFixed(0).padStart(5)} req/s  app ${m.appUs.toFixed(0)} µs/req (main ${m.mainUs.toFixed(0)} + other threads ${m.otherUs.toFixed(0)}), main waits ${m.waitUs.toFixed(0)} µs on the run queue, ${m.slices.toFixed(2)} slices, ${m.voluntary.toFixed(2)} sleeps + ${m.involuntary.toFixed(2)} preemptions; PostgreSQL ${m.pgUs.toFixed(0)} µs, load generator ${m.loadGenUs.toFixed(0)} µs; p99 ${m.p99} ms; load ${m.load.toFixed(2)}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
