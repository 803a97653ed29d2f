// peer: our right-code verify against better-auth's twoFactor verify-otp, on PostgreSQL and in memory.

import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { type Server, startServer } from '../child.js';
import { call, Jar, type PooledRequest, parallel } from '../client.js';
import { envNumber, measure, median, type Run, type Summary, type Variant } from '../measure.js';
import { PEER_PASSWORD } from '../peer.js';
import { type CaseResult, type Context, type Row, throughputRows } from '../report.js';
import { atConnections, peakRows, type Sweep, sweep, sweepConnections } from './peer-sweep.js';
import { BENCH_DATABASE_URL } from './postgres.js';
import { verifyVariant } from './verify.js';

const TARGET_POSTGRES = 10;
/** The TCP port of the bench's PostgreSQL (the case's self-check counts the app's connections to it). */
const POSTGRES_PORT = Number(new URL(BENCH_DATABASE_URL).port || 5432);

const NAMES = {
  oursMemory: 'express-sms-2fa, memoryStore',
  oursPostgres: 'express-sms-2fa, postgresStore (pg)',
  peerMemory: 'better-auth, memory adapter',
  peerPostgres: 'better-auth, PostgreSQL (Kysely, pg)',
} as const;

/**
 * `count` better-auth verifies with the right code, each on its own fresh challenge of its own
 * fresh user, built before the run exactly like ours: the user is signed up with 2FA on (in-process),
 * signs in with e-mail and password over HTTP (better-auth answers `twoFactorRedirect` and sets its
 * two-factor cookie), asks for the OTP (`POST /two-factor/send-otp`, whose `sendOTP` keeps the code),
 * and the pooled request is `POST /two-factor/verify-otp` with that cookie and `{ code }`.
 */
async function peerPool(server: Server, kind: 'postgres' | 'memory', count: number) {
  const base = kind === 'postgres' ? '/ba-pg/api/auth' : '/ba-mem/api/auth';
  const emails = await server.request<string[]>('peer-users', { kind, count });
  const pool: PooledRequest[] = new Array(count);
  await parallel(count, 16, async (i) => {
    const jar = new Jar();
    const email = emails[i] as string;
    const signIn = await call(server, jar, 'POST', `${base}/sign-in/email`, {
      email,
      password: PEER_PASSWORD,
    });
    if (signIn.status !== 200 || !signIn.text.includes('twoFactorRedirect')) {
      throw new Error(`better-auth sign-in answered ${signIn.status}: ${signIn.text.slice(0, 200)}`);
    }
    const sent = await call(server, jar, 'POST', `${base}/two-factor/send-otp`, {});
    if (sent.status !== 200) throw new Error(`better-auth send-otp answered ${sent.status}: ${sent.text}`);
    const code = await server.request<string | null>('peer-code', { email });
    if (!code) throw new Error('better-auth sent no code');
    pool[i] = { cookie: jar.header(), body: JSON.stringify({ code }) };
  });
  return pool;
}

/**
 * CPU time (user + system, in µs) of every PostgreSQL process on this machine so far, the backends
 * that exited included (the postmaster's reaped children); undefined without Linux's /proc or a
 * local PostgreSQL. Other clients of the same server count too: read it in a quiet run.
 */
export function postgresServerCpuUs(): number | undefined {
  const processes = new Map<number, { ppid: number; own: number; reaped: number }>();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited meanwhile
      }
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== 'postgres') continue;
      // After the name: state, ppid, … utime and stime (fields 14, 15), cutime and cstime (16, 17).
      const f = stat
        .slice(close + 2)
        .split(' ')
        .map(Number);
      processes.set(Number(entry), {
        ppid: f[1] ?? 0,
        own: (f[11] ?? 0) + (f[12] ?? 0),
        reaped: (f[13] ?? 0) + (f[14] ?? 0),
      });
    }
  } catch {
    return undefined;
  }
  if (processes.size === 0) return undefined;
  let ticks = 0;
  for (const p of processes.values()) {
    ticks += p.own;
    // The postmaster (its parent is no postgres process) holds what its exited backends used.
    if (!processes.has(p.ppid)) ticks += p.reaped;
  }
  return ticks * 10_000; // USER_HZ: 100 ticks per second
}

/**
 * What the kernel counts for one process (Linux /proc; undefined elsewhere): its user and system CPU
 * in µs (clock ticks, 10 ms each: sum them over many requests), its read-like and write-like system
 * calls (all threads), and its main thread's context switches: voluntary (it slept, e.g. in
 * epoll_wait with nothing to do) and involuntary (pre-empted).
 */
export function processStats(pid: number): Record<string, number> | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (text: string, name: string) =>
      Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text)?.[1]);
    return {
      userUs: (f[11] ?? 0) * 10_000,
      sysUs: (f[12] ?? 0) * 10_000,
      reads: field(io, 'syscr'),
      writes: field(io, 'syscw'),
      voluntary: field(status, 'voluntary_ctxt_switches'),
      involuntary: field(status, 'nonvoluntary_ctxt_switches'),
    };
  } catch {
    return undefined;
  }
}

/**
 * The inodes of `pid`'s TCP sockets connected to remote port `port` (Linux /proc; an empty set
 * elsewhere or over a Unix socket). A pg pool that dropped an idle connection and opened another
 * shows a new inode: the case counts every one it sees over a phase.
 */
export function tcpSocketsTo(pid: number, port: number): Set<string> {
  const found = new Set<string>();
  try {
    const own = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) own.add(m[1] as string);
      } catch {
        // closed meanwhile
      }
    }
    const wanted = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    for (const file of ['tcp', 'tcp6']) {
      let table: string;
      try {
        table = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
      } catch {
        continue;
      }
      for (const line of table.split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        const inode = f[9];
        if (f[2]?.endsWith(wanted) && inode && own.has(inode)) found.add(inode);
      }
    }
  } catch {
    // no /proc
  }
  return found;
}

/**
 * Records, per measured run, the app process's kernel counts (processStats) as totals
 * (`run.extra.node_*`, summed over runs by the case) and, with `postgres`, the PostgreSQL server's
 * CPU per request (`run.extra.serverCpuUs`).
 */
function withServerCpu(
  variant: Variant,
  postgres = true,
  sockets?: Set<string>,
  statements = false,
): Variant {
  let before: number | undefined;
  let stats: Record<string, number> | undefined;
  return {
    ...variant,
    beforeRun: async () => {
      if (statements) await variant.server.counters(true);
      stats = processStats(variant.server.pid);
      if (postgres) before = postgresServerCpuUs();
      for (const inode of sockets ? tcpSocketsTo(variant.server.pid, POSTGRES_PORT) : []) sockets?.add(inode);
    },
    afterRun: async (run: Run) => {
      const after = postgres ? postgresServerCpuUs() : undefined;
      const now = processStats(variant.server.pid);
      for (const inode of sockets ? tcpSocketsTo(variant.server.pid, POSTGRES_PORT) : []) sockets?.add(inode);
      if (run.requests === 0) return;
      if (statements) {
        // The store's statements over the run, by name (bench/server.ts's countingQuery), as totals.
        const { byName } = await variant.server.counters(true);
        for (const [name, n] of Object.entries(byName)) run.extra = { ...run.extra, [`count_${name}`]: n };
      }
      if (stats && now) {
        for (const [key, value] of Object.entries(now)) {
          run.extra = { ...run.extra, [`node_${key}`]: value - (stats[key] ?? 0) };
        }
      }
      if (before === undefined || after === undefined) return;
      run.extra = { ...run.extra, serverCpuUs: (after - before) / run.requests };
    },
  };
}

/** Per request, over all measured runs of a variant: the app's user and system CPU, syscalls, context switches. */
export function nodeSplit(runs: Run[]): string | undefined {
  const requests = runs.reduce((sum, r) => sum + r.requests, 0);
  const total = (key: string) => runs.reduce((sum, r) => sum + (r.extra?.[`node_${key}`] ?? Number.NaN), 0);
  if (requests === 0 || Number.isNaN(total('userUs'))) return undefined;
  const per = (key: string, digits = 0) => (total(key) / requests).toFixed(digits);
  return `Node user ${per('userUs')} + sys ${per('sysUs')} µs/req, ${per('reads', 2)} reads + ${per('writes', 2)} writes, ${per('voluntary', 2)} sleeps + ${per('involuntary', 2)} preemptions /req`;
}

/**
 * Per request, over all measured runs of a variant: the store's statements by name (`verify` alone,
 * `verifyMany` batches), a batch's items, those sent again alone, failed batches by SQLSTATE, the
 * connections the pool opened.
 */
export function statementSplit(runs: Run[]): string | undefined {
  const requests = runs.reduce((sum, r) => sum + r.requests, 0);
  const totals = new Map<string, number>();
  for (const run of runs) {
    for (const [key, n] of Object.entries(run.extra ?? {})) {
      if (key.startsWith('count_')) totals.set(key.slice(6), (totals.get(key.slice(6)) ?? 0) + n);
    }
  }
  if (requests === 0 || totals.size === 0) return undefined;
  const many = totals.get('verifyMany') ?? 0;
  const items = totals.get('verifyMany.items') ?? 0;
  const statements = [...totals].filter(([k]) => !k.includes('.')).reduce((sum, [, n]) => sum + n, 0);
  const rest = [...totals]
    .filter(([k]) => k !== 'verifyMany.items')
    .map(([k, n]) => `${k} ${(n / requests).toFixed(3)}`)
    .join(', ');
  return `${(statements / requests).toFixed(3)} statements/req (${rest}; ${many ? (items / many).toFixed(1) : '-'} items per batch) over ${requests} requests`;
}

function peerVariant(name: string, server: Server, kind: 'postgres' | 'memory'): Variant {
  const path = kind === 'postgres' ? '/ba-pg/api/auth' : '/ba-mem/api/auth';
  return {
    name,
    server,
    method: 'POST',
    path: `${path}/two-factor/verify-otp`,
    pool: (n) => peerPool(server, kind, n),
    // Its memory adapter copies the whole database per transaction (a few requests per second once
    // it holds a few hundred users): 60 verifies per run keep the case within minutes.
    ...(kind === 'memory' ? { maxAmount: 60 } : {}),
    expect: 200,
  };
}

/**
 * One app, one process: ours at /2fa (memoryStore) and /r/2fa (postgresStore over a pg.Pool), and
 * better-auth 1.7 at /ba-mem/api/auth (memory adapter) and /ba-pg/api/auth (pg.Pool through its
 * Kysely adapter, tables in a schema of their own). One iteration = one right-code verify of a fresh
 * challenge of a fresh user, built before each run; both end in a verified session: ours sets the
 * verified cookie and clears the challenge, better-auth creates its session row and cookie.
 */
export async function peerCase(ctx: Context): Promise<CaseResult> {
  const server = await startServer(
    'peer',
    {
      kind: 'app',
      auth: 'session',
      store: 'memory+postgres',
      transport: 'codes',
      postgresTable: `bench_peer_${process.pid}`,
      peer: true,
    },
    { profile: ctx.profile },
  );
  try {
    const oursMemory = withServerCpu(await verifyVariant(NAMES.oursMemory, server, 'right', '/2fa'), false);
    // Two phases. The memory adapter's runs and pool builds take 10-40 s each (it copies its whole
    // database per transaction): measured between the PostgreSQL variants, they left both pg pools
    // idle past pg's idleTimeoutMillis (10 s), so each PostgreSQL run started on 10 new connections
    // whose backends prepared the statements and (ours) compiled the PL/pgSQL function in the
    // measured window: ~17 ms per backend, 0.5-1 ms per verify of a 0.5 s run (bench/pg-cold.ts).
    // A server under steady load keeps its connections: here the PostgreSQL variants are measured
    // apart from the memory adapter's, and each run is re-warmed (below).
    const connections = new Set<string>();
    // `BENCH_PEER_FIXED=0` skips this phase (for iterating on the sweep below).
    const fixedPhase = process.env.BENCH_PEER_FIXED !== '0';
    if (!fixedPhase) ctx.log('  10-connection PostgreSQL phase skipped (BENCH_PEER_FIXED=0)');
    const pgSummaries = !fixedPhase
      ? new Map<string, Summary>()
      : await measure(
          [
            oursMemory,
            withServerCpu(
              await verifyVariant(NAMES.oursPostgres, server, 'right', '/r/2fa'),
              true,
              connections,
              true,
            ),
            withServerCpu(peerVariant(NAMES.peerPostgres, server, 'postgres'), true, connections),
          ],
          // Each measured run after a quarter run of unmeasured load on its own route (the harness's
          // re-warm, `BENCH_REWARM` overrides): a connection a pool reopened in the gap (pool builds
          // take seconds under load) has run the verify before the measured window, on both sides.
          { ...ctx.settings, rewarmSeconds: ctx.settings.seconds / 4 },
          ctx.log,
        );
    // Each pool holds 10: more than 20 means a pool reopened connections between runs.
    if (fixedPhase)
      ctx.log(
        `  PostgreSQL phase: ${connections.size} distinct connections of the app's two pools around its measured runs (20 = none reopened; a reopened one is re-warmed before the measured run)`,
      );
    // The PostgreSQL pairing at each side's peak: 10 connections (above) measure ours' latency (a
    // closed loop: each connection waits for its verify's commit, one statement out at a time), not
    // its throughput; better-auth is bound by its CPU at 10 already. Both sides over the same sweep
    // of connections, in the same rounds (bench/cases/peer-sweep.ts), the target judged peak vs peak.
    const list = sweepConnections();
    let swept: Sweep | undefined;
    if (list.length > 0) {
      const runs = envNumber('BENCH_PEER_SWEEP_RUNS') || (ctx.quick ? 4 : 6);
      if (runs % 2 !== 0)
        throw new Error(`BENCH_PEER_SWEEP_RUNS=${runs}: rounds come in pairs, expected an even number`);
      swept = await sweep(
        {
          name: NAMES.oursPostgres,
          variant: async (name) =>
            withServerCpu(await verifyVariant(name, server, 'right', '/r/2fa'), true, undefined, true),
        },
        {
          name: NAMES.peerPostgres,
          variant: (name) => withServerCpu(peerVariant(name, server, 'postgres'), true),
        },
        list,
        // The app is warm from the phase above: a short warm-up sizes the pools (and the peer's pool
        // builds take most of the sweep's time); each measured run re-warmed as above.
        { ...ctx.settings, runs, warmupSeconds: 1, rewarmSeconds: ctx.settings.seconds / 4 },
        ctx.log,
      );
      // Ours' statements at each point: more connections, more verifies per batch statement.
      for (const c of list) {
        for (const name of [NAMES.oursPostgres, NAMES.peerPostgres]) {
          const measured = swept.summaries.get(atConnections(name, c))?.runs ?? [];
          const split = [
            nodeSplit(measured),
            name === NAMES.oursPostgres ? statementSplit(measured) : undefined,
          ];
          if (split[0] || split[1])
            ctx.log(`  sweep, ${atConnections(name, c)}: ${split.filter(Boolean).join('; ')}`);
        }
      }
    }
    // `BENCH_PEER_MEMORY=0` skips the memory phase (better-auth's memory adapter takes most of the
    // case's minutes and has no target): for iterating on the PostgreSQL pairing.
    const memoryPhase = process.env.BENCH_PEER_MEMORY !== '0';
    if (!memoryPhase) ctx.log('  memory phase skipped (BENCH_PEER_MEMORY=0)');
    const memorySummaries = memoryPhase
      ? await measure(
          [oursMemory, withServerCpu(peerVariant(NAMES.peerMemory, server, 'memory'), false)],
          ctx.settings,
          ctx.log,
        )
      : new Map<string, Summary>();
    const pick = (rows: Row[], variant: string) => rows.find((r) => r.variant === variant) as Row;
    const overPg = throughputRows(
      'peer',
      pgSummaries,
      NAMES.peerPostgres,
      swept ? {} : { [NAMES.oursPostgres]: TARGET_POSTGRES },
    );
    const overMemory = memoryPhase ? throughputRows('peer', memorySummaries, NAMES.peerMemory, {}) : [];
    // The app's CPU and the database's, per request: on one machine both share its cores.
    const serverCpu = (variant: string) =>
      median((pgSummaries.get(variant)?.runs ?? []).map((r) => r.extra?.serverCpuUs ?? Number.NaN));
    const [peerServer, oursServer] = [serverCpu(NAMES.peerPostgres), serverCpu(NAMES.oursPostgres)];
    for (const row of overPg) {
      const server = row.variant === NAMES.peerPostgres ? peerServer : oursServer;
      if (Number.isNaN(server) || row.cpuUs === undefined) continue;
      row.value = `PostgreSQL ${Math.round(server)} µs/req, app + PostgreSQL ${Math.round(row.cpuUs + server)} µs/req`;
      if (row.variant === NAMES.oursPostgres && !Number.isNaN(peerServer)) {
        const peerCpu = pgSummaries.get(NAMES.peerPostgres)?.cpuUs ?? Number.NaN;
        row.value += ` (${((peerCpu + peerServer) / (row.cpuUs + server)).toFixed(2)}× less)`;
      }
    }
    // Ours on memoryStore in the PostgreSQL phase: the same route on the other store, same minutes.
    const ownMemory = overPg.find((r) => r.variant === NAMES.oursMemory);
    if (ownMemory) {
      ctx.log(
        `  PostgreSQL phase, ${NAMES.oursMemory}: ${Math.round(ownMemory.rps ?? 0)} req/s, ${Math.round(ownMemory.cpuUs ?? 0)} µs/req`,
      );
    }
    for (const [phase, summaries] of [
      ['PostgreSQL phase', pgSummaries],
      ['memory phase', memorySummaries],
    ] as const) {
      for (const name of Object.values(NAMES)) {
        const split = nodeSplit(summaries.get(name)?.runs ?? []);
        if (split) ctx.log(`  ${phase}, ${name}: ${split}`);
      }
    }
    const statements = statementSplit(pgSummaries.get(NAMES.oursPostgres)?.runs ?? []);
    if (statements) ctx.log(`  PostgreSQL phase, ${NAMES.oursPostgres}: ${statements}`);
    const atTen = pick(overPg, NAMES.oursPostgres);
    if (swept && atTen) {
      const said = `${ctx.settings.connections} connections; the target is judged at each side's peak (the next two rows)`;
      atTen.note = atTen.note ? `${said}; ${atTen.note}` : said;
    }
    const rows: Row[] = [
      ...(fixedPhase ? [pick(overPg, NAMES.peerPostgres), atTen] : []),
      ...(swept
        ? peakRows('peer', swept, { ours: NAMES.oursPostgres, peer: NAMES.peerPostgres }, TARGET_POSTGRES)
        : []),
      ...(memoryPhase ? [pick(overMemory, NAMES.peerMemory), pick(overMemory, NAMES.oursMemory)] : []),
    ];
    await server.request('cleanup');
    return {
      name: 'peer',
      rows,
      details: {
        postgres: Object.fromEntries(pgSummaries),
        ...(swept ? { sweep: { ...swept, summaries: Object.fromEntries(swept.summaries) } } : {}),
        memory: Object.fromEntries(memorySummaries),
      },
    };
  } finally {
    await server.stop();
  }
}
