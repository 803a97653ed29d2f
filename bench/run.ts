// `npm run bench [-- --quick] [-- --only=guard,verify,postgres] [-- --soak=300] [-- --profile] [-- --src]`
// Every case starts its own server processes; autocannon runs here, in this process.
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildPackage, packageKind, pinTo, profiles, ROOT } from './child.js';
import type { Settings } from './measure.js';
import { type CaseResult, type Context, machine, table, writeResults } from './report.js';

type Case = (ctx: Context) => Promise<CaseResult>;

// Loaded only once the package is built (bench/pkg.ts loads it, in guard-miss in this process).
const CASES: Record<string, () => Promise<Case>> = {
  guard: async () => (await import('./cases/guard.js')).guardCase,
  'guard-miss': async () => (await import('./cases/guard-miss.js')).guardMissCase,
  verify: async () => (await import('./cases/verify.js')).verifyCase,
  redis: async () => (await import('./cases/redis.js')).redisCase,
  'redis-one-call': async () => (await import('./cases/redis-one-call.js')).redisOneCallCase,
  'redis-generic': async () => (await import('./cases/redis-one-call.js')).redisGenericCase,
  'redis-cluster': async () => (await import('./cases/redis-one-call.js')).redisClusterCase,
  postgres: async () => (await import('./cases/postgres.js')).postgresCase,
  'postgres-js': async () => (await import('./cases/postgres.js')).postgresJsCase,
  'postgres-async': async () => (await import('./cases/postgres.js')).postgresAsyncCase,
  memory: async () => (await import('./cases/memory.js')).memoryCase,
  send: async () => (await import('./cases/send.js')).sendCase,
  soak: async () => (await import('./cases/soak.js')).soakCase,
  metrics: async () => (await import('./cases/metrics.js')).metricsCase,
  peer: async () => (await import('./cases/peer.js')).peerCase,
  scale: async () => (await import('./cases/scale.js')).scaleCase,
  cluster: async () => (await import('./cases/cluster.js')).clusterCase,
};

interface Args {
  quick: boolean;
  only: string[];
  soakSeconds: number;
  profile: boolean;
  out: string | undefined;
  pin: boolean;
  /** Bench the TypeScript sources through tsx (BENCH_SRC=1) instead of the build users run. */
  src: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: false,
    only: Object.keys(CASES),
    soakSeconds: 300,
    profile: false,
    out: undefined,
    pin: false,
    src: process.env.BENCH_SRC === '1',
  };
  let soakGiven = false;
  for (const arg of argv) {
    const [key, value] = arg.split('=', 2) as [string, string | undefined];
    if (key === '--quick') args.quick = true;
    else if (key === '--profile') args.profile = true;
    else if (key === '--pin') args.pin = true;
    else if (key === '--src') args.src = true;
    else if (key === '--only' && value) args.only = value.split(',').map((s) => s.trim());
    else if (key === '--soak' && value !== undefined) {
      args.soakSeconds = Number(value);
      soakGiven = true;
    } else if (key === '--out' && value) args.out = value;
    else if (key === '--help' || key === '-h') {
      console.log(
        'npm run bench -- [--quick] [--only=guard,guard-miss,verify,redis,redis-one-call,redis-generic,redis-cluster,postgres,postgres-js,postgres-async,memory,send,soak,metrics,peer,scale,cluster] [--soak=SECONDS] [--profile] [--pin] [--src] [--out=FILE]',
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  for (const name of args.only) if (!CASES[name]) throw new Error(`unknown case ${name}`);
  if (args.quick && !soakGiven) args.soakSeconds = 20;
  if (!Number.isFinite(args.soakSeconds) || args.soakSeconds < 5)
    throw new Error('--soak must be ≥ 5 seconds');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  // Many short rounds in ABBA pairs (see measure.ts): the ratios are medians over pairs of rounds.
  const settings: Settings = args.quick
    ? { runs: 8, seconds: 0.5, warmupSeconds: 1, connections: 10 }
    : { runs: 16, seconds: 1, warmupSeconds: 3, connections: 10 };
  settings.profile = args.profile;
  if (args.pin) {
    // The client (autocannon, here) on CPU 0, every server on CPU 1 (bench/child.ts reads BENCH_PIN).
    if (!pinTo(process.pid, '0')) throw new Error('--pin needs taskset (util-linux)');
    process.env.BENCH_PIN = '1';
  }
  // The package the servers (and guard-miss, here) run: its build, made now, or --src its sources.
  process.env.BENCH_SRC = args.src ? '1' : '0';
  const building = Date.now();
  if (!args.src) buildPackage();
  const pkg = packageKind();
  const pkgLine =
    pkg === 'src'
      ? 'package: src/ through tsx (--src / BENCH_SRC=1), not the build users run'
      : `package: the build users run (tsup ESM, built into bench/dist/ in ${((Date.now() - building) / 1000).toFixed(1)} s)`;
  const started = Date.now();
  const log = (line: string) => console.log(line);
  let unhandled = 0;
  process.on('unhandledRejection', (reason) => {
    unhandled++;
    console.error('unhandled rejection in the bench client:', reason);
  });
  const ctx: Context = {
    settings,
    quick: args.quick,
    soakSeconds: args.soakSeconds,
    profile: args.profile,
    log,
  };
  const results: CaseResult[] = [];
  const info = machine();
  log(`express-sms-2fa bench: ${info.cores} × ${info.cpuModel}, Node ${info.node}, ${info.ramGiB} GiB`);
  log(
    `${settings.runs} rounds × ${settings.seconds} s per variant (ABBA pairs, or between two runs of its baseline) after a ${settings.warmupSeconds} s warm-up` +
      `${args.pin ? ', client on CPU 0, servers on CPU 1' : ''}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  log(`${pkgLine}\n`);
  let crashed = false;
  const loads: Record<string, string> = {
    start: loadavg()
      .map((l) => l.toFixed(2))
      .join(' '),
  };
  for (const name of args.only) {
    log(`# ${name}`);
    const t0 = Date.now();
    try {
      const run = await (CASES[name] as () => Promise<Case>)();
      results.push(await run(ctx));
    } catch (error) {
      // A case that crashes is reported and the others still run; the exit code says so at the end.
      crashed = true;
      console.error(error);
      const message = error instanceof Error ? error.message : String(error);
      results.push({
        name,
        rows: [{ case: name, variant: 'CRASHED', value: message.slice(0, 120), met: false }],
        details: { error: message },
      });
    }
    const load = loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    loads[name] = load;
    log(`  (${Math.round((Date.now() - t0) / 1000)} s; load average ${load})\n`);
  }
  const rows = results.flatMap((r) => r.rows);
  log(table(rows));
  const misses = rows.filter((r) => r.met === false);
  log(
    misses.length
      ? `\nmissed: ${misses.map((r) => `${r.case}/${r.variant}`).join(', ')}`
      : '\nevery target met',
  );
  const partial = args.quick || args.profile || args.only.length < Object.keys(CASES).length;
  const out = args.out ?? (partial ? undefined : 'bench/results.json');
  const data = {
    date: new Date().toISOString(),
    machine: info,
    settings: {
      ...settings,
      quick: args.quick,
      pin: args.pin,
      /** `dist`: the build users run (bench/dist/); `src`: the sources through tsx (--src). */
      package: pkg,
      soakSeconds: args.soakSeconds,
      only: args.only,
    },
    durationSeconds: Math.round((Date.now() - started) / 1000),
    clientUnhandledRejections: unhandled,
    /** `uptime`'s load averages (1, 5, 15 min) at the start and after each case. */
    loadAverage: loads,
    table: rows,
    cases: Object.fromEntries(results.map((r) => [r.name, r.details])),
    ...(args.profile ? { profiles } : {}),
  };
  // Only a full, unprofiled run replaces bench/results.json; other runs go to the temp directory.
  const file = out ? resolve(ROOT, out) : join(tmpdir(), 'express-sms-2fa-bench.json');
  writeResults(file, data);
  log(`\nwrote ${file} (${data.durationSeconds} s)`);
  return crashed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
