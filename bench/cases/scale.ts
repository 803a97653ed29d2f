// scale: verify throughput and heap per challenge with 1k, 100k and 1M pending challenges.
import { type Heap, type Server, startServer } from '../child.js';
import { login, sendCode } from '../client.js';
import { measure, median, type Variant } from '../measure.js';
import { type CaseResult, type Context, type Row, throughputRows } from '../report.js';
import { pingRedis } from './redis.js';
import { verifyVariant } from './verify.js';

/** Throughput at every size within this share of the smallest size's. */
const TOLERANCE = 0.1;

interface Level {
  label: string;
  store: 'memory' | 'redis';
  pending: number;
}

const label = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);

/** Heap per challenge at 1M within this share of 100k's ("constant"). */
const HEAP_TOLERANCE = 0.1;

/**
 * One server process per size and store, all alive at once, measured round-robin like every case
 * (so the machine's drift hits each alike). Each server first records one real `POST /2fa/send`
 * over HTTP (a fresh user signed in with express-session): every key that send wrote into the
 * store, with its value and TTL and the store method that wrote it. Then `pending` copies of that
 * send are written straight into the store (`seed` in bench/server.ts): the same keys, value
 * lengths and TTLs, fresh random ids, hashes and sealed data in each copy; the budgets every
 * client shares (per IP, per number prefix, the app's) once, as they are. The memory store takes
 * them through its own methods in-process; Redis as pipelined raw `SET … PX` commands.
 *
 * An iteration is a right-code `POST /2fa/verify` of a fresh challenge: before each run the
 * variant's pool signs in that many fresh users and sends each a code over HTTP (the real route),
 * so every timed verify finds its own new challenge among the seeded ones and consumes it. The
 * seeded challenges are the backdrop (the store's size); none of them is verified.
 * Heap per challenge is the heap's growth over the seeding, after forced GCs, divided by the count.
 */
/**
 * The variant with V8's main-thread GC pauses of each measured run in `run.extra`: microseconds of
 * scavenges and of mark-compact work per request, and how many of each.
 */
function withGcStats(variant: Variant): Variant {
  return {
    ...variant,
    beforeRun: async () => {
      await variant.server.request('gcstats');
    },
    afterRun: async (run) => {
      const gc = await variant.server.request<{
        scavenges: number;
        scavengeMs: number;
        marks: number;
        markMs: number;
      }>('gcstats');
      const per = (ms: number) => Math.round((ms * 1000) / Math.max(run.requests, 1));
      run.extra = {
        scavengeUs: per(gc.scavengeMs),
        markUs: per(gc.markMs),
        scavenges: gc.scavenges,
        marks: gc.marks,
      };
    },
  };
}

export async function scaleCase(ctx: Context): Promise<CaseResult> {
  // The first size is the baseline; a size given twice is an A/A control (a second, identical
  // process, paired like the others, no target): what two processes of the same size differ by in
  // this run. BENCH_SCALE_SIZES chooses others (e.g. 1000,1000 for an A/A alone).
  const sizes = (process.env.BENCH_SCALE_SIZES || '1000,1000,100000,1000000').split(',').map(Number);
  // Redis 1k and 1M when a Redis answers on 127.0.0.1 (BENCH_SCALE_REDIS=0 leaves it out).
  const redis = process.env.BENCH_SCALE_REDIS !== '0' && (await pingRedis());
  const levels: Level[] = [
    ...sizes.map((pending, i) => ({
      label: `memoryStore, ${label(pending)} pending${sizes.indexOf(pending) < i ? ` (A/A ${i + 1})` : ''}`,
      store: 'memory' as const,
      pending,
    })),
    ...(redis
      ? [1_000, 1_000_000].map((pending) => ({
          label: `redisStore, ${label(pending)} pending`,
          store: 'redis' as const,
          pending,
        }))
      : []),
  ];
  const servers: Server[] = [];
  const heaps: Record<string, { bytesPerChallenge: number; seedSeconds: number; writes: number }> = {};
  let recorded: unknown;
  try {
    const variants: Variant[] = [];
    for (const level of levels) {
      const server = await startServer(
        `scale-${level.store}-${label(level.pending)}`,
        {
          kind: 'app',
          auth: 'session',
          store: level.store === 'redis' ? 'memory+redis' : 'memory',
          storeMax: 6_000_000,
          transport: 'codes',
          ...(level.store === 'redis'
            ? { redisPrefix: `bench-scale:${process.pid}:${servers.length}:` }
            : {}),
        },
        { profile: ctx.profile },
      );
      servers.push(server);
      const mount = level.store === 'redis' ? '/r/2fa' : '/2fa';
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
      const after: Heap = await server.heap();
      const bytesPerChallenge = (after.heapUsed - before.heapUsed) / level.pending;
      heaps[level.label] = { bytesPerChallenge, seedSeconds: seeded.seconds, writes: seeded.writes };
      ctx.log(
        `  ${level.label}: ${seeded.writes.toLocaleString('en-US')} writes in ${seeded.seconds.toFixed(1)} s, ` +
          (level.store === 'memory'
            ? `${Math.round(bytesPerChallenge)} B of heap per challenge, ${after.storeSize} store entries`
            : 'in Redis'),
      );
      variants.push(withGcStats(await verifyVariant(level.label, server, 'right', mount)));
    }
    ctx.log(`  one send's own writes (copied per challenge): ${JSON.stringify(recorded)}`);
    // Each larger size runs between two runs of its store's 1k server and is compared with those.
    const baselines: Record<string, string> = {};
    for (const store of ['memory', 'redis'] as const) {
      const mine = levels.filter((l) => l.store === store);
      for (const l of mine.slice(1)) baselines[l.label] = (mine[0] as Level).label;
    }
    const summaries = await measure(variants, ctx.settings, ctx.log, baselines);
    // Main-thread GC per request, medians over the measured runs (mark-compact work lands in few runs).
    const gc: Record<string, Record<string, number>> = {};
    for (const [name, summary] of summaries) {
      const of = (key: string) => median(summary.runs.map((r) => r.extra?.[key] ?? Number.NaN));
      const sum = (key: string) => summary.runs.reduce((total, r) => total + (r.extra?.[key] ?? 0), 0);
      gc[name] = {
        scavengeUs: of('scavengeUs'),
        markUs: of('markUs'),
        scavenges: sum('scavenges'),
        marks: sum('marks'),
      };
      ctx.log(
        `  ${name}: GC on the main thread ${of('scavengeUs')} µs/req in scavenges (median), ` +
          `${sum('scavenges')} scavenges and ${sum('marks')} mark-compacts over the runs`,
      );
    }
    const rows: Row[] = [];
    for (const store of ['memory', 'redis'] as const) {
      const mine = levels.filter((l) => l.store === store);
      if (mine.length === 0) continue;
      const base = (mine[0] as Level).label;
      const own = new Map([...summaries].filter(([name]) => mine.some((l) => l.label === name)));
      const targets = Object.fromEntries(
        mine
          .slice(1)
          .filter((l) => !l.label.includes('(A/A'))
          .map((l) => [l.label, 1 - TOLERANCE]),
      );
      for (const row of throughputRows('scale', own, base, targets)) {
        if (row.met !== null && row.ratio !== undefined) {
          row.met = row.met && row.ratio <= 1 + TOLERANCE;
          row.target = `within ${TOLERANCE * 100} % of ${base}`;
        }
        if (row.variant.includes('(A/A')) {
          row.target = 'none: the A/A control (the harness between two identical processes)';
        }
        const heap = heaps[row.variant];
        if (store === 'memory' && heap) row.value = `${Math.round(heap.bytesPerChallenge)} B heap/challenge`;
        rows.push(row);
      }
    }
    const mid = heaps['memoryStore, 100k pending']?.bytesPerChallenge;
    const top = heaps['memoryStore, 1M pending']?.bytesPerChallenge;
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
    return {
      name: 'scale',
      rows,
      details: { heaps, gc, template: recorded, summaries: Object.fromEntries(summaries) },
    };
  } finally {
    for (const server of servers) await server.stop();
  }
}
