// scale: verify throughput and heap per challenge with 1k, 100k and 1M pending challenges.
import { type Server, startServer } from '../child.js';
import { login, type Mount, rightCodePool, sendCode } from '../client.js';
import { envNumber, measure, median, type Summary, type Variant } from '../measure.js';
import type { CaseResult, Context, Row } from '../report.js';
import { pingRedis } from './redis.js';
import {
  floorOf,
  groupBlocks,
  mean,
  pct,
  processEffects,
  processRatio,
  range,
  spread,
  variance,
} from './scale-stats.js';

/** Throughput at every size within this share of the smallest size's. */
const TOLERANCE = 0.1;

/** Heap per challenge at 1M within this share of 100k's ("constant"). */
const HEAP_TOLERANCE = 0.1;

/** One size of one store: a group of identical processes, measured and compared together. */
interface Level {
  label: string;
  store: 'memory' | 'redis';
  pending: number;
  /** A second group of the smallest size: the A/A control, compared like the sizes, no target. */
  control: boolean;
}

/** One server process of a level. */
interface Proc {
  level: Level;
  name: string;
  server: Server;
  bytesPerChallenge: number;
  seedSeconds: number;
  writes: number;
  /** The store's entries right after the seeding. */
  seeded: number;
}

/** What `trim` in bench/server.ts answers: the store's entries before and after it. */
interface Trim {
  before: number;
  after: number;
  removed: number;
  sessions: number;
}

const label = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);

/** A group's row name: the level and how many processes it has. */
const groupName = (level: Level, count: number) =>
  `${level.label} (${count} process${count > 1 ? 'es' : ''})`;

/**
 * One process of a level as a variant: a right-code `POST /2fa/verify` of a fresh challenge per
 * request. Before each pool is built (warm-ups too) the server deletes what the last pool's sends
 * wrote and empties express-session's sessions (`trim`), so the store is back at its seeded size
 * however many runs the process served; the sends building the new pool are tracked for the next
 * trim. Each measured run records the store's entries (held between runs, at its start, at its
 * end) and V8's main-thread GC pauses in `run.extra`.
 */
function scaleVariant(name: string, server: Server, kind: Level['store'], mount: Mount): Variant {
  let last: Trim | undefined;
  let atStart = { entries: 0, arrayBuffers: 0 };
  const size = () => server.request<{ entries: number; arrayBuffers: number }>('size', { kind });
  // BENCH_SCALE_TRIM=0: the harness before the eighth session (every run's leftovers stay).
  const trims = process.env.BENCH_SCALE_TRIM !== '0';
  return {
    name,
    server,
    method: 'POST',
    path: `${mount}/verify`,
    expect: 200,
    pool: async (count) => {
      if (!trims) {
        const { entries } = await size();
        last = { before: entries, after: entries, removed: 0, sessions: Number.NaN };
        return rightCodePool(server, count, mount);
      }
      last = await server.request<Trim>('trim', { kind });
      await server.request('track', { on: true, kind });
      try {
        return await rightCodePool(server, count, mount);
      } finally {
        await server.request('track', { on: false });
      }
    },
    beforeRun: async () => {
      await server.request('gcstats');
      atStart = await size();
    },
    afterRun: async (run) => {
      const gc = await server.request<{
        scavenges: number;
        scavengeMs: number;
        marks: number;
        markMs: number;
      }>('gcstats');
      const per = (ms: number) => Math.round((ms * 1000) / Math.max(run.requests, 1));
      const atEnd = await size();
      run.extra = {
        scavengeUs: per(gc.scavengeMs),
        markUs: per(gc.markMs),
        scavenges: gc.scavenges,
        marks: gc.marks,
        held: last?.after ?? Number.NaN,
        atStart: atStart.entries,
        atEnd: atEnd.entries,
        // A resize of the memory table within the run: its slot tags (array buffers) grow, 1 B a slot.
        tagBytesGrown: atEnd.arrayBuffers - atStart.arrayBuffers,
        sessionsTrimmed: last?.sessions ?? Number.NaN,
      };
    },
  };
}

/** A store's sizes, its processes per size and its rounds: measured together, apart from the other store's. */
interface Phase {
  store: Level['store'];
  levels: Level[];
  procs: number;
  rounds: number;
}

/**
 * One phase: its processes started and seeded (interleaved: #1 of every size, then #2 of every size,
 * …, and measured in that order), measured, their rows made, their keys cleaned up, stopped.
 */
async function runPhase(ctx: Context, phase: Phase) {
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) / 1000);
  const { store, levels, procs, rounds } = phase;
  const mount: Mount = store === 'redis' ? '/r/2fa' : '/2fa';
  const all: Proc[] = [];
  const servers: Server[] = [];
  let recorded: unknown;
  try {
    for (let k = 1; k <= procs; k++) {
      for (const level of levels) {
        const name = `${level.label} #${k}`;
        const server = await startServer(
          `scale-${store}-${label(level.pending)}-${all.length}`,
          {
            kind: 'app',
            auth: 'session',
            store: store === 'redis' ? 'memory+redis' : 'memory',
            storeMax: 6_000_000,
            transport: 'codes',
            // Each Redis process in a database of its own (1, 2, …): its own keyspace, of its own size.
            ...(store === 'redis'
              ? { redisPrefix: `bench-scale:${process.pid}:${all.length}:`, redisDatabase: 1 + all.length }
              : {}),
          },
          { profile: ctx.profile },
        );
        servers.push(server);
        // The template: what one real send over HTTP leaves in this store.
        const { jar, user } = await login(server);
        await server.request('record', { on: true, kind: store });
        await sendCode(server, jar, user, mount);
        recorded = await server.request('record', { on: false });
        const before = await server.heap();
        const seeded = await server.request<{ seconds: number; writes: number }>('seed', {
          kind: store,
          count: level.pending,
        });
        const after = await server.heap();
        // A Redis process's entries are its database's (DBSIZE), not its idle memory store's.
        const entries =
          store === 'redis'
            ? (await server.request<{ entries: number }>('size', { kind: store })).entries
            : (after.storeSize ?? 0);
        const proc: Proc = {
          level,
          name,
          server,
          bytesPerChallenge: (after.heapUsed - before.heapUsed) / level.pending,
          seedSeconds: seeded.seconds,
          writes: seeded.writes,
          seeded: entries,
        };
        all.push(proc);
        ctx.log(
          `  ${name}: ${seeded.writes.toLocaleString('en-US')} writes in ${seeded.seconds.toFixed(1)} s, ` +
            (store === 'memory'
              ? `${Math.round(proc.bytesPerChallenge)} B of heap per challenge, ${proc.seeded} store entries`
              : `${entries.toLocaleString('en-US')} keys in its Redis database`),
        );
      }
    }
    const seededAt = elapsed();
    ctx.log(`  one send's own writes (copied per challenge): ${JSON.stringify(recorded)}`);
    const variants = all.map((p) => scaleVariant(p.name, p.server, store, mount));
    const summaries = await measure(variants, { ...ctx.settings, runs: rounds }, ctx.log);
    const measuredFor = elapsed() - seededAt;
    ctx.log(
      `  ${store}: ${all.length} processes started and seeded in ${seededAt} s, measured in ${measuredFor} s`,
    );
    const runsOf = (p: Proc) => (summaries.get(p.name) as Summary).runs;

    // Per process: main-thread GC per request (medians; mark-compact work lands in few runs) and the
    // store's entries between runs, at the start and at the end of each run.
    const effects = processEffects(all, runsOf);
    const perProcess: Record<string, Record<string, unknown>> = {};
    for (const p of all) {
      const runs = runsOf(p);
      const of = (key: string) => runs.map((r) => r.extra?.[key] ?? Number.NaN);
      const sum = (key: string) => of(key).reduce((total, v) => total + (Number.isNaN(v) ? 0 : v), 0);
      perProcess[p.name] = {
        seeded: p.seeded,
        held: range(of('held')),
        atStart: range(of('atStart')),
        atEnd: range(of('atEnd')),
        sessionsTrimmed: range(of('sessionsTrimmed')),
        scavengeUs: median(of('scavengeUs')),
        markUs: median(of('markUs')),
        scavenges: sum('scavenges'),
        marks: sum('marks'),
        p99: runs.map((r) => r.p99),
        effect: effects.get(p),
        // Measured runs in which the table grew (over 1 MiB of slot tags: a resize of ≥ 1M slots).
        resizedRuns: runs.flatMap((r, i) => ((r.extra?.tagBytesGrown ?? 0) > 2 ** 20 ? [i + 1] : [])),
      };
      ctx.log(
        `  ${p.name}: entries seeded ${p.seeded}, between runs ${range(of('held'))}, at run start ` +
          `${range(of('atStart'))}, at run end ${range(of('atEnd'))}; GC ${median(of('scavengeUs'))} µs/req ` +
          `in scavenges (median), ${sum('scavenges')} scavenges and ${sum('marks')} mark-compacts; ` +
          `table resized in measured runs ${JSON.stringify(perProcess[p.name]?.resizedRuns)}; ` +
          `own speed ${Math.exp(effects.get(p) ?? Number.NaN).toFixed(3)}× the phase's round means`,
      );
    }

    const rows: Row[] = [];
    const groupOf = (l: Level) => all.filter((p) => p.level === l);
    const effectsOf = (group: Proc[]) => group.map((p) => effects.get(p) as number);
    const first = levels[0] as Level;
    const firstGroup = groupOf(first);
    // The sizes' baseline: every process of the smallest size (the first group and its A/A twin).
    const pooled = all.filter((p) => p.level.pending === first.pending);
    const pooledName = `${label(first.pending)} pending, ${pooled.length} processes`;
    const floors: Record<string, number> = {};
    const processRatios: Record<string, { ratio: number; se: number; against: string }> = {};
    for (const level of levels) {
      const group = groupOf(level);
      const against = level === first ? group : level.control ? firstGroup : pooled;
      const againstName = level === first || level.control ? groupName(first, firstGroup.length) : pooledName;
      const own = groupBlocks(group.map(runsOf));
      const baseBlocks = groupBlocks(against.map(runsOf));
      const rps = spread(own.map((b, i) => b.rps / (baseBlocks[i]?.rps ?? Number.NaN)));
      const cpu = spread(own.map((b, i) => (baseBlocks[i]?.cpuUs ?? Number.NaN) / b.cpuUs));
      const unexpected = group.reduce((n, p) => n + (summaries.get(p.name)?.unexpected ?? 0), 0);
      const heap = group.reduce((total, p) => total + p.bytesPerChallenge, 0) / group.length;
      // The CPU floor: the baseline's fastest-run CPU per request over this group's (each process's
      // fastest run, averaged over its group). The machine's noise only ever adds CPU.
      const floor = floorOf(against.map(runsOf)) / floorOf(group.map(runsOf));
      floors[level.label] = floor;
      const byProcess = processRatio(effectsOf(group), effectsOf(against));
      processRatios[level.label] = { ...byProcess, against: againstName };
      const row: Row = {
        case: 'scale',
        variant: groupName(level, group.length),
        rps: median(own.map((b) => b.rps)),
        p99: median(group.flatMap((p) => runsOf(p).map((r) => r.p99))),
        ratio: rps.ratio,
        ratioIqr: rps.iqr,
        cpuUs: median(own.map((b) => b.cpuUs)),
        cpuRatio: cpu.ratio,
        cpuRatioIqr: cpu.iqr,
        baseline: againstName,
        met: null,
      };
      const floorText = `CPU floor ${floor.toFixed(2)}× (best runs: leaves out a rare major GC or resize)`;
      const processText =
        level === first
          ? ''
          : `; by process ${byProcess.ratio.toFixed(3)}× ± ${pct(byProcess.se)} (1 SE from the processes' spread)`;
      row.value =
        (store === 'memory' ? `${Math.round(heap)} B heap/challenge; ${floorText}` : floorText) + processText;
      if (level.control) {
        row.target = 'none: the A/A control (a second group of identical processes, paired like the sizes)';
      } else if (level !== first) {
        row.target = `within ${TOLERANCE * 100} % of ${pooledName}`;
        row.met = Math.abs(rps.ratio - 1) <= TOLERANCE && unexpected === 0;
      }
      if (unexpected > 0) row.note = `${unexpected} unexpected answers`;
      // A Redis process whose challenges expired during the phase no longer held its size. Its
      // session pointers (`r:`, one of a challenge's four keys) have a 60 s TTL and go within a
      // minute, as a real store's do; under 60 % of the seeded keys the challenges' own went too.
      const held = group.map((p) => Math.min(...runsOf(p).map((r) => r.extra?.held ?? Number.NaN)));
      if (store === 'redis' && held.some((n, i) => n < 0.6 * (group[i]?.seeded ?? 0))) {
        row.note = `${row.note ? `${row.note}; ` : ''}keys expired: held ${range(held)} of ${range(group.map((p) => p.seeded))}`;
      }
      rows.push(row);
    }
    // What identical processes differ by for their whole life: each process's own speed over its
    // group's mean (sd and range), per group of two or more.
    const within: Record<string, { sd: number; low: number; high: number }> = {};
    for (const level of levels) {
      const e = effectsOf(groupOf(level));
      if (e.length < 2) continue;
      const m = mean(e);
      within[level.label] = {
        sd: Math.sqrt(variance(e)),
        low: Math.exp(Math.min(...e) - m),
        high: Math.exp(Math.max(...e) - m),
      };
    }
    if (Object.keys(within).length > 0) {
      rows.push({
        case: 'scale',
        variant: `${store}: each process over its group's mean`,
        value: Object.entries(within)
          .map(
            ([name, w]) =>
              `${name.replace(/^(memory|redis)Store, | pending/g, '')} sd ${pct(w.sd)} (${w.low.toFixed(2)}–${w.high.toFixed(2)}×)`,
          )
          .join(', '),
        met: null,
      });
    }
    for (const server of servers) await server.request('cleanup');
    return {
      rows,
      all,
      recorded,
      details: {
        procs,
        rounds,
        blocks: Math.ceil(rounds / 2),
        seededSeconds: seededAt,
        measuredSeconds: measuredFor,
        processes: perProcess,
        withinGroup: within,
        byProcess: processRatios,
        cpuFloorRatios: floors,
        summaries: Object.fromEntries(summaries),
      },
    };
  } finally {
    for (const server of servers) await server.stop();
  }
}

/**
 * Groups of identical server processes, one group per size and store; each process records one real
 * `POST /2fa/send` over HTTP (every key it wrote, with value, TTL and store method) and has `pending`
 * copies of it written straight into its store (`seed` in bench/server.ts: fresh ids, hashes and
 * sealed data per copy; the budgets every client shares once). Each process's heap holds its own
 * size: a 1M process pays the GC costs of a 1M heap.
 *
 * Two phases, each with its processes alive at once and gone after it: the memory store's sizes
 * (`BENCH_SCALE_PROCS` processes per size, default 4; `BENCH_SCALE_ROUNDS` rounds, default 8), then
 * Redis 1k and 1M (`BENCH_SCALE_REDIS_PROCS`, default 2; `BENCH_SCALE_REDIS_ROUNDS`, default the
 * memory phase's). Redis is measured right after its seeding: the seeded challenges' keys carry the
 * route's 15-minute TTL, and in one phase of 19 minutes Redis expired them before the last rounds.
 *
 * Every process runs once per round, in ABBA order over all processes of its phase (`measure`
 * without baselines), so every process does the same work. A group's rate per block is its
 * processes' requests over their seconds; a size's ratio is its rate over the smallest size's in the
 * same block, the median over the blocks. The smallest size given twice (the default) is an A/A
 * control: a second group of identical 1k processes, compared with the first; the larger sizes are
 * compared with both 1k groups pooled. Why four processes per size and not more rounds: identical
 * processes differ for their whole life (s9–s11: 1k pairs by ~5 %, 100k and 1M pairs by ~11 %),
 * which more rounds never average out and more processes do; each row also gives its ratio from
 * the processes' own speeds with a standard error from their spread (`processRatio`).
 *
 * Each Redis process keeps its keys in a database of its own (`redisDatabase` 1, 2, …): in one
 * database the 1k process's keys would sit in the same keyspace as the 1M process's 4M keys.
 */
/** A list of pending counts from the environment; a typo throws rather than measuring something else. */
function sizesOf(name: string, fallback: string): number[] {
  const sizes = (process.env[name] || fallback).split(',').map(Number);
  if (!sizes.every((n) => Number.isInteger(n) && n > 0)) {
    throw new Error(`${name}=${process.env[name]}: expected pending counts, e.g. ${fallback}`);
  }
  return sizes;
}

export async function scaleCase(ctx: Context): Promise<CaseResult> {
  const sizes = sizesOf('BENCH_SCALE_SIZES', '1000,1000,100000,1000000');
  const procs = Math.max(1, envNumber('BENCH_SCALE_PROCS') || 4);
  const redisProcs = Math.max(1, envNumber('BENCH_SCALE_REDIS_PROCS') || 2);
  // 8 rounds (4 ABBA blocks) unless BENCH_SCALE_ROUNDS says otherwise, with --quick too.
  const rounds = Math.max(2, envNumber('BENCH_SCALE_ROUNDS') || 8);
  const redisRounds = Math.max(2, envNumber('BENCH_SCALE_REDIS_ROUNDS') || rounds);
  // Redis 1k and 1M when a Redis answers on 127.0.0.1 (BENCH_SCALE_REDIS=0 leaves it out).
  const redis = process.env.BENCH_SCALE_REDIS !== '0' && (await pingRedis());
  const redisSizes = sizesOf('BENCH_SCALE_REDIS_SIZES', '1000,1000000');
  const levelsOf = (store: Level['store'], list: number[]): Level[] =>
    list.map((pending, i) => {
      const control = list.indexOf(pending) < i;
      const kind = store === 'memory' ? 'memoryStore' : 'redisStore';
      const name = `${kind}, ${label(pending)} pending${control ? ` (A/A ${i + 1})` : ''}`;
      return { label: name, store, pending, control };
    });
  const memory = await runPhase(ctx, { store: 'memory', levels: levelsOf('memory', sizes), procs, rounds });
  const second = redis
    ? await runPhase(ctx, {
        store: 'redis',
        levels: levelsOf('redis', redisSizes),
        procs: redisProcs,
        rounds: redisRounds,
      })
    : undefined;
  const rows = [...memory.rows, ...(second?.rows ?? [])];
  const heapOf = (pending: number) => {
    const group = memory.all.filter((p) => !p.level.control && p.level.pending === pending);
    return group.length === 0
      ? undefined
      : group.reduce((total, p) => total + p.bytesPerChallenge, 0) / group.length;
  };
  const mid = heapOf(100_000);
  const top = heapOf(1_000_000);
  if (mid !== undefined && top !== undefined) {
    rows.push({
      case: 'scale',
      variant: 'heap per challenge, 1M vs 100k pending',
      value: `${Math.round(top)} vs ${Math.round(mid)} B (${(top / mid).toFixed(2)}×)`,
      target: `within ${HEAP_TOLERANCE * 100} %`,
      met: Math.abs(top / mid - 1) <= HEAP_TOLERANCE,
    });
  }
  if (!redis) {
    rows.push({
      case: 'scale',
      variant: 'redisStore, 1k vs 1M pending',
      value: 'not run: no Redis on 127.0.0.1 (or BENCH_SCALE_REDIS=0)',
      met: null,
    });
  }
  const all = [...memory.all, ...(second?.all ?? [])];
  const heaps = Object.fromEntries(
    all.map((p) => [
      p.name,
      { bytesPerChallenge: p.bytesPerChallenge, seedSeconds: p.seedSeconds, writes: p.writes },
    ]),
  );
  // Each phase's details without its runs (those go under `summaries`, every process's together).
  const withoutRuns = (phase: typeof memory | undefined) => {
    if (!phase) return null;
    const { summaries: _runs, ...rest } = phase.details;
    return rest;
  };
  return {
    name: 'scale',
    rows,
    details: {
      design: {
        procs,
        redisProcs,
        rounds,
        redisRounds,
        blocks: Math.ceil(rounds / 2),
        trim: process.env.BENCH_SCALE_TRIM !== '0',
        phases: 'memory, then redis',
        baseline:
          'the larger sizes against every process of the smallest size; the A/A group against the first group',
      },
      heaps,
      memory: withoutRuns(memory),
      redis: withoutRuns(second),
      processes: { ...memory.details.processes, ...second?.details.processes },
      template: { memory: memory.recorded, redis: second?.recorded },
      summaries: { ...memory.details.summaries, ...second?.details.summaries },
    },
  };
}
