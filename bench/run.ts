// `npm run bench [-- --quick] [-- --only=guard,verify,postgres] [-- --soak=300] [-- --profile]`
// Every case starts its own server processes; autocannon runs here, in this process.
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { clusterCase } from './cases/cluster.js';
import { guardCase } from './cases/guard.js';
import { guardMissCase } from './cases/guard-miss.js';
import { memoryCase } from './cases/memory.js';
import { metricsCase } from './cases/metrics.js';
import { peerCase } from './cases/peer.js';
import { postgresAsyncCase, postgresCase, postgresJsCase } from './cases/postgres.js';
import { redisCase } from './cases/redis.js';
import { redisClusterCase, redisGenericCase, redisOneCallCase } from './cases/redis-one-call.js';
import { scaleCase } from './cases/scale.js';
import { sendCase } from './cases/send.js';
import { soakCase } from './cases/soak.js';
import { verifyCase } from './cases/verify.js';
import { pinTo, profiles, ROOT } from './child.js';
import type { Settings } from './measure.js';
import { type CaseResult, type Context, machine, table, writeResults } from './report.js';

const CASES: Record<string, (ctx: Context) => Promise<CaseResult>> = {
  guard: guardCase,
  'guard-miss': guardMissCase,
  verify: verifyCase,
  redis: redisCase,
  'redis-one-call': redisOneCallCase,
  'redis-generic': redisGenericCase,
  'redis-cluster': redisClusterCase,
  postgres: postgresCase,
  'postgres-js': postgresJsCase,
  'postgres-async': postgresAsyncCase,
  memory: memoryCase,
  send: sendCase,
  soak: soakCase,
  metrics: metricsCase,
  peer: peerCase,
  scale: scaleCase,
  cluster: clusterCase,
};

interface Args {
  quick: boolean;
  only: string[];
  soakSeconds: number;
  profile: boolean;
  out: string | undefined;
  pin: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: false,
    only: Object.keys(CASES),
    soakSeconds: 300,
    profile: false,
    out: undefined,
    pin: false,
  };
  let soakGiven = false;
  for (const arg of argv) {
    const [key, value] = arg.split('=', 2) as [string, string | undefined];
    if (key === '--quick') args.quick = true;
    else if (key === '--profile') args.profile = true;
    else if (key === '--pin') args.pin = true;
    else if (key === '--only' && value) args.only = value.split(',').map((s) => s.trim());
    else if (key === '--soak' && value !== undefined) {
      args.soakSeconds = Number(value);
      soakGiven = true;
    } else if (key === '--out' && value) args.out = value;
    else if (key === '--help' || key === '-h') {
      console.log(
        'npm run bench -- [--quick] [--only=guard,guard-miss,verify,redis,redis-one-call,redis-generic,redis-cluster,postgres,postgres-js,postgres-async,memory,send,soak,metrics,peer,scale,cluster] [--soak=SECONDS] [--profile] [--pin] [--out=FILE]',
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
    `${settings.runs} rounds (ABBA pairs) × ${settings.seconds} s per variant after a ${settings.warmupSeconds} s warm-up` +
      `${args.pin ? ', client on CPU 0, servers on CPU 1' : ''}; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
  );
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
      results.push(await (CASES[name] as (ctx: Context) => Promise<CaseResult>)(ctx));
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
