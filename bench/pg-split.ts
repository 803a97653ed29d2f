// Where the app's CPU goes per right-code verify, memoryStore against postgresStore (pg), in one
// app: `npx tsx bench/pg-split.ts [rounds] [seconds]` (Linux, perf, root). Each measured run is
// watched by `perf stat` (task-clock, context switches, system calls by kind) and `perf record`
// (cpu-clock samples, on-CPU only); afterwards the samples are split by where they ran: the kernel,
// the node binary (V8's runtime and GC, libuv, OpenSSL, the HTTP parser), JIT code (JS), libc.
// `[connections]` (default 10, autocannon's connections) shows what the event loop idling costs.
// One iteration = one right-code verify of a fresh challenge (as in the peer and postgres cases).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyVariant } from './cases/verify.js';
import { startServer } from './child.js';
import { measure, type Run, type Variant } from './measure.js';

const rounds = Number(process.argv[2] ?? 4);
const seconds = Number(process.argv[3] ?? 2);
const connections = Number(process.argv[4] ?? 10);
/** `memory`, `postgres` or both (default). */
const only = process.env.ONLY;
const EVENTS = [
  'task-clock',
  'context-switches',
  'raw_syscalls:sys_enter',
  'syscalls:sys_enter_writev',
  'syscalls:sys_enter_write',
  'syscalls:sys_enter_read',
  'syscalls:sys_enter_epoll_wait',
  'syscalls:sys_enter_epoll_pwait',
  'syscalls:sys_enter_futex',
];
const dir = mkdtempSync(join(tmpdir(), 'pg-split-'));

const totals = new Map<string, { requests: number; counts: Record<string, number>; records: string[] }>();

function watched(variant: Variant): Variant {
  let stat: ChildProcess | undefined;
  let record: ChildProcess | undefined;
  let statOut = '';
  let file = '';
  const stop = (p: ChildProcess | undefined) =>
    new Promise<void>((resolve) => {
      if (!p || p.exitCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGINT');
    });
  return {
    ...variant,
    beforeRun: async () => {
      const pid = String(variant.server.pid);
      statOut = '';
      stat = spawn('perf', ['stat', '-x', ',', '-e', EVENTS.join(','), '-p', pid], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      stat.stderr?.on('data', (d: Buffer) => {
        statOut += d.toString();
      });
      file = join(dir, `${variant.name.replace(/[^a-z]+/gi, '-')}-${Date.now()}.data`);
      record = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', '4000', '-o', file, '-p', pid], {
        stdio: 'ignore',
      });
      await new Promise((resolve) => setTimeout(resolve, 300)); // perf attaches
    },
    afterRun: async (run: Run) => {
      await Promise.all([stop(stat), stop(record)]);
      const t = totals.get(variant.name) ?? { requests: 0, counts: {}, records: [] };
      t.requests += run.requests;
      for (const line of statOut.split('\n')) {
        const [value, , event] = line.split(',');
        if (!event || value === undefined || Number.isNaN(Number(value))) continue;
        t.counts[event] = (t.counts[event] ?? 0) + Number(value);
      }
      t.records.push(file);
      totals.set(variant.name, t);
    },
  };
}

/** Share of cpu-clock samples by where they ran, summed over the variant's recordings. */
function byDso(files: string[]): Record<string, number> {
  const shares: Record<string, number> = {};
  for (const file of files) {
    const out = execFileSync(
      'perf',
      ['report', '-i', file, '--stdio', '--sort', 'dso', '-q', '--percent-limit', '0'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const samples = Number(
      /Event count \(approx\.\): (\d+)/.exec(
        execFileSync('perf', ['report', '-i', file, '--stdio', '--sort', 'dso'], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }),
      )?.[1] ?? 0,
    );
    for (const line of out.split('\n')) {
      const m = /^\s*([\d.]+)%\s+(.+?)\s*$/.exec(line);
      if (!m) continue;
      const name = (m[2] as string).startsWith('[kernel')
        ? 'kernel'
        : (m[2] as string).startsWith('[JIT]') ||
            (m[2] as string).startsWith('perf-') ||
            (m[2] as string) === '[unknown]'
          ? 'JIT or unknown (JS)'
          : (m[2] as string);
      shares[name] = (shares[name] ?? 0) + (Number(m[1]) / 100) * samples;
    }
  }
  const all = Object.values(shares).reduce((a, b) => a + b, 0);
  for (const key of Object.keys(shares)) shares[key] = (shares[key] as number) / Math.max(all, 1);
  return shares;
}

async function main() {
  const server = await startServer('pg-split', {
    kind: 'app',
    auth: 'session',
    store: 'memory+postgres',
    transport: 'codes',
    postgresTable: `bench_split_${process.pid}_${randomBytes(3).toString('hex')}`,
  });
  try {
    const variants = [
      ...(only === 'postgres' ? [] : [watched(await verifyVariant('memoryStore', server, 'right', '/2fa'))]),
      ...(only === 'memory'
        ? []
        : [watched(await verifyVariant('postgresStore (pg)', server, 'right', '/r/2fa'))]),
    ];
    await measure(variants, { runs: rounds, seconds, warmupSeconds: 1, connections }, console.log);
    for (const [name, t] of totals) {
      const per = (event: string) => (t.counts[event] ?? 0) / t.requests;
      const cpuUs = per('task-clock') * 1000; // perf stat's task-clock is in ms
      const split = byDso(t.records);
      console.log(`\n${name}: ${t.requests} requests, ${cpuUs.toFixed(0)} µs CPU/req (task-clock)`);
      console.log(
        `  per request: ${per('context-switches').toFixed(2)} context switches, ${per('raw_syscalls:sys_enter').toFixed(2)} syscalls (writev ${per('syscalls:sys_enter_writev').toFixed(2)}, write ${per('syscalls:sys_enter_write').toFixed(2)}, read ${per('syscalls:sys_enter_read').toFixed(2)}, epoll_wait ${(per('syscalls:sys_enter_epoll_wait') + per('syscalls:sys_enter_epoll_pwait')).toFixed(2)}, futex ${per('syscalls:sys_enter_futex').toFixed(2)})`,
      );
      const parts = Object.entries(split)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([dso, share]) => `${dso} ${(share * 100).toFixed(1)} % (${(share * cpuUs).toFixed(0)} µs)`);
      console.log(`  by where it ran: ${parts.join(', ')}`);
    }
    await server.request('cleanup');
  } finally {
    await server.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
