// scale: verify throughput and heap per challenge with 1k, 100k and 1M pending challenges.
import { type Server, startServer } from '../child.js';
import { login, type Mount, rightCodePool, sendCode } from '../client.js';
import { measure, median, quantile, type Run, type Summary, type Variant } from '../measure.js';
import type { CaseResult, Context, Row } from '../report.js';
import { pingRedis } from './redis.js';

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

/**
 * A group's rate and CPU per request in each ABBA block (rounds 2k and 2k+1): all its processes'
 * requests over all their seconds, CPU over requests. Every process runs once per round.
 */
function groupBlocks(runs: Run[][]): { rps: number; cpuUs: number }[] {
  const rounds = Math.min(...runs.map((r) => r.length));
  const out: { rps: number; cpuUs: number }[] = [];
  for (let k = 0; k < rounds; k += 2) {
    const block = runs.flatMap((r) => r.slice(k, Math.min(k + 2, rounds)));
    const requests = block.reduce((sum, r) => sum + r.requests, 0);
    const seconds = block.reduce((sum, r) => sum + r.seconds, 0);
    const cpu = block.reduce((sum, r) => sum + r.cpuUs * r.requests, 0);
    out.push({ rps: requests / Math.max(seconds, 0.001), cpuUs: cpu / Math.max(requests, 1) });
  }
  return out;
}

/**
 * A group's CPU floor: each process's lowest CPU per request over its measured runs (the fastest of
 * N), averaged over the group. The machine's noise (cache and core contention) only adds CPU, so the
 * floor resolves what it does not; but so do costs that land in few runs and grow with the store
 * (a mark-compact of a 1M heap, a table resize): the fastest run leaves them out. So it is shown
 * beside the ratio, never used for `met`.
 */
function floorOf(runs: Run[][]): number {
  return runs.reduce((total, r) => total + Math.min(...r.map((x) => x.cpuUs)), 0) / runs.length;
}

/** Median and quartiles of paired per-block ratios. */
function spread(ratios: number[]) {
  return { ratio: median(ratios), iqr: [quantile(ratios, 0.25), quantile(ratios, 0.75)] as [number, number] };
}

const range = (values: number[]) => {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const [low, high] = [Math.min(...values), Math.max(...values)];
  return low === high ? fmt(low) : `${fmt(low)}–${fmt(high)}`;
};

/**
 * Groups of identical server processes, one group per size and store (`BENCH_SCALE_PROCS` processes
 * each, default 2; Redis `BENCH_SCALE_REDIS_PROCS`, default 1), all alive at once. Each process
 * records one real `POST /2fa/send` over HTTP (every key it wrote, with value, TTL and store method)
 * and has `pending` copies of it written straight into its store (`seed` in bench/server.ts: fresh
 * ids, hashes and sealed data per copy; the budgets every client shares once). Each process's heap
 * holds its own size: a 1M process pays the GC costs of a 1M heap.
 *
 * Every process runs once per round, in ABBA order over all processes (`measure` without
 * baselines): each does the same work and serves the same number of runs, and a drift that is
 * linear over a block of two rounds slows every process alike. A group's rate per block is its
 * processes' requests over their seconds; a size's ratio is its rate over the smallest size's in the
 * same block, the median over the blocks. The smallest size given twice (the default) is an A/A
 * control: a second group of identical 1k processes, compared like the sizes.
 *
 * Each Redis process keeps its keys in a database of its own (`redisDatabase` 1, 2, …): in one
 * database the 1k process's keys would sit in the same keyspace as the 1M process's 4M keys.
 */
export async function scaleCase(ctx: Context): Promise<CaseResult> {
  const sizes = (process.env.BENCH_SCALE_SIZES || '1000,1000,100000,1000000').split(',').map(Number);
  const procs = Math.max(1, Number(process.env.BENCH_SCALE_PROCS) || 2);
  const redisProcs = Math.max(1, Number(process.env.BENCH_SCALE_REDIS_PROCS) || 1);
  // 16 rounds (8 ABBA blocks) unless BENCH_SCALE_ROUNDS says otherwise, with --quick too.
  const rounds = Math.max(2, Number(process.env.BENCH_SCALE_ROUNDS) || Math.max(ctx.settings.runs, 16));
  // Redis 1k and 1M when a Redis answers on 127.0.0.1 (BENCH_SCALE_REDIS=0 leaves it out).
  const redis = process.env.BENCH_SCALE_REDIS !== '0' && (await pingRedis());
  const redisSizes = (process.env.BENCH_SCALE_REDIS_SIZES || '1000,1000000').split(',').map(Number);
  const levels: Level[] = [
    ...sizes.map((pending, i) => {
      const control = sizes.indexOf(pending) < i;
      const name = `memoryStore, ${label(pending)} pending${control ? ` (A/A ${i + 1})` : ''}`;
      return { label: name, store: 'memory' as const, pending, control };
    }),
    ...(redis
      ? redisSizes.map((pending) => ({
          label: `redisStore, ${label(pending)} pending`,
          store: 'redis' as const,
          pending,
          control: false,
        }))
      : []),
  ];
  const all: Proc[] = [];
  const servers: Server[] = [];
  let recorded: unknown;
  try {
    for (const level of levels) {
      const count = level.store === 'redis' ? redisProcs : procs;
      for (let k = 1; k <= count; k++) {
        const name = `${level.label} #${k}`;
        const server = await startServer(
          `scale-${level.store}-${label(level.pending)}-${all.length}`,
          {
            kind: 'app',
            auth: 'session',
            store: level.store === 'redis' ? 'memory+redis' : 'memory',
            storeMax: 6_000_000,
            transport: 'codes',
            // Each Redis process in a database of its own (1, 2, …): its own keyspace, of its own size.
            ...(level.store === 'redis'
              ? {
                  redisPrefix: `bench-scale:${process.pid}:${all.length}:`,
                  redisDatabase: 1 + all.filter((p) => p.level.store === 'redis').length,
                }
              : {}),
          },
          { profile: ctx.profile },
        );
        servers.push(server);
        const mount: Mount = level.store === 'redis' ? '/r/2fa' : '/2fa';
        // The template: what one real send over HTTP leaves in this store.
        const { jar, user } = await login(server);
        await server.request('record', { on: true, kind: level.store });
        await sendCode(server, jar, user, mount);
        recorded = await server.request('record', { on: false });
        const before = await server.heap();
        const seeded = await server.request<{ seconds: number; writes: number }>('seed', {
          kind: level.store,
          count: level.pending,
        });
        const after = await server.heap();
        const proc: Proc = {
          level,
          name,
          server,
          bytesPerChallenge: (after.heapUsed - before.heapUsed) / level.pending,
          seedSeconds: seeded.seconds,
          writes: seeded.writes,
          seeded: after.storeSize ?? 0,
        };
        all.push(proc);
        ctx.log(
          `  ${name}: ${seeded.writes.toLocaleString('en-US')} writes in ${seeded.seconds.toFixed(1)} s, ` +
            (level.store === 'memory'
              ? `${Math.round(proc.bytesPerChallenge)} B of heap per challenge, ${proc.seeded} store entries`
              : 'in Redis'),
        );
      }
    }
    ctx.log(`  one send's own writes (copied per challenge): ${JSON.stringify(recorded)}`);
    const variants = all.map((p) =>
      scaleVariant(p.name, p.server, p.level.store, p.level.store === 'redis' ? '/r/2fa' : '/2fa'),
    );
    const summaries = await measure(variants, { ...ctx.settings, runs: rounds }, ctx.log);
    const runsOf = (p: Proc) => (summaries.get(p.name) as Summary).runs;

    // Per process: main-thread GC per request (medians; mark-compact work lands in few runs) and the
    // store's entries between runs, at the start and at the end of each run.
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
        // Measured runs in which the table grew (over 1 MiB of slot tags: a resize of ≥ 1M slots).
        resizedRuns: runs.flatMap((r, i) => ((r.extra?.tagBytesGrown ?? 0) > 2 ** 20 ? [i + 1] : [])),
      };
      ctx.log(
        `  ${p.name}: entries seeded ${p.seeded}, between runs ${range(of('held'))}, at run start ` +
          `${range(of('atStart'))}, at run end ${range(of('atEnd'))}; GC ${median(of('scavengeUs'))} µs/req ` +
          `in scavenges (median), ${sum('scavenges')} scavenges and ${sum('marks')} mark-compacts; ` +
          `table resized in measured runs ${JSON.stringify(perProcess[p.name]?.resizedRuns)}`,
      );
    }

    const rows: Row[] = [];
    const spreads: Record<string, { rps: number; floor: number }> = {};
    const floors: Record<string, number> = {};
    for (const store of ['memory', 'redis'] as const) {
      const mine = levels.filter((l) => l.store === store);
      if (mine.length === 0) continue;
      const base = mine[0] as Level;
      const groupOf = (l: Level) => all.filter((p) => p.level === l);
      const baseBlocks = groupBlocks(groupOf(base).map(runsOf));
      for (const level of mine) {
        const group = groupOf(level);
        const own = groupBlocks(group.map(runsOf));
        const rps = spread(own.map((b, i) => b.rps / (baseBlocks[i]?.rps ?? Number.NaN)));
        const cpu = spread(own.map((b, i) => (baseBlocks[i]?.cpuUs ?? Number.NaN) / b.cpuUs));
        const unexpected = group.reduce((n, p) => n + (summaries.get(p.name)?.unexpected ?? 0), 0);
        const heap = group.reduce((total, p) => total + p.bytesPerChallenge, 0) / group.length;
        // The CPU floor: the base group's fastest-run CPU per request over this group's (each
        // process's fastest run, averaged over the group). The machine's noise only ever adds CPU.
        const floor = floorOf(groupOf(base).map(runsOf)) / floorOf(group.map(runsOf));
        floors[level.label] = floor;
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
          baseline: groupName(base, groupOf(base).length),
          met: null,
        };
        const floorText = `CPU floor ${floor.toFixed(2)}× (best runs: leaves out a rare major GC or resize)`;
        row.value = store === 'memory' ? `${Math.round(heap)} B heap/challenge; ${floorText}` : floorText;
        if (level.control) {
          row.target = 'none: the A/A control (a second group of identical processes, paired like the sizes)';
        } else if (level !== base) {
          row.target = `within ${TOLERANCE * 100} % of ${base.label}`;
          row.met = Math.abs(rps.ratio - 1) <= TOLERANCE && unexpected === 0;
        }
        if (unexpected > 0) row.note = `${unexpected} unexpected answers`;
        rows.push(row);
        // Process #2 over #1 within the group, per block: what one process differs from another.
        if (group.length > 1) {
          const [one, two] = [runsOf(group[0] as Proc), runsOf(group[1] as Proc)];
          const first = groupBlocks([one]);
          const second = groupBlocks([two]);
          spreads[level.label] = {
            rps: median(second.map((b, i) => b.rps / (first[i]?.rps ?? Number.NaN))),
            floor: floorOf([one]) / floorOf([two]),
          };
        }
      }
    }
    if (Object.keys(spreads).length > 0) {
      rows.push({
        case: 'scale',
        variant: 'process #2 over #1 within each group',
        value: Object.entries(spreads)
          .map(
            ([name, r]) =>
              `${name.replace(/^memoryStore, | pending/g, '')} ${r.rps.toFixed(2)}× (CPU floor ${r.floor.toFixed(2)}×)`,
          )
          .join(', '),
        met: null,
      });
    }
    const heapOf = (pending: number) => {
      const group = all.filter(
        (p) => p.level.store === 'memory' && !p.level.control && p.level.pending === pending,
      );
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
    for (const server of servers) await server.request('cleanup');
    const heaps = Object.fromEntries(
      all.map((p) => [
        p.name,
        { bytesPerChallenge: p.bytesPerChallenge, seedSeconds: p.seedSeconds, writes: p.writes },
      ]),
    );
    return {
      name: 'scale',
      rows,
      details: {
        design: {
          procs,
          redisProcs,
          rounds,
          blocks: Math.ceil(rounds / 2),
          trim: process.env.BENCH_SCALE_TRIM !== '0',
        },
        heaps,
        processes: perProcess,
        withinGroup: spreads,
        cpuFloorRatios: floors,
        template: recorded,
        summaries: Object.fromEntries(summaries),
      },
    };
  } finally {
    for (const server of servers) await server.stop();
  }
}
