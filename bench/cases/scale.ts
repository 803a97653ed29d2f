// scale: verify throughput and heap per challenge with 1k, 100k and 1M pending challenges.
import { type Heap, type Server, startServer } from '../child.js';
import { measure, type Variant } from '../measure.js';
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

/**
 * One server process per size and store, all alive at once, measured round-robin like every case
 * (so the machine's drift hits each alike). Each server gets its pending challenges written into its
 * store before the runs (see `seed` in bench/server.ts: four records per challenge, the shapes the
 * send route writes), then a right-code verify of a fresh challenge is timed against that backdrop.
 * Heap per challenge is the heap's growth over the seeding, after forced GCs, divided by the count.
 */
export async function scaleCase(ctx: Context): Promise<CaseResult> {
  const sizes = [1_000, 100_000, 1_000_000];
  // Redis at 1M pending means 5M keys written through the store (over 10 minutes on the shared
  // 2-core machine, and minutes more to delete): only with BENCH_SCALE_REDIS=1.
  const redis = process.env.BENCH_SCALE_REDIS === '1' && (await pingRedis());
  const levels: Level[] = [
    ...sizes.map((pending) => ({
      label: `memoryStore, ${label(pending)} pending`,
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
  const heaps: Record<string, { bytesPerChallenge: number; seedSeconds: number }> = {};
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
      const before = await server.heap();
      const seeded = await server.request<{ seconds: number }>('seed', {
        kind: level.store,
        count: level.pending,
      });
      const after: Heap = await server.heap();
      const bytesPerChallenge = (after.heapUsed - before.heapUsed) / level.pending;
      heaps[level.label] = { bytesPerChallenge, seedSeconds: seeded.seconds };
      ctx.log(
        `  ${level.label}: seeded in ${seeded.seconds.toFixed(1)} s, ` +
          (level.store === 'memory'
            ? `${Math.round(bytesPerChallenge)} B of heap per challenge`
            : 'in Redis'),
      );
      variants.push(
        await verifyVariant(level.label, server, 'right', level.store === 'redis' ? '/r/2fa' : '/2fa'),
      );
    }
    const summaries = await measure(variants, ctx.settings, ctx.log);
    const rows: Row[] = [];
    for (const store of ['memory', 'redis'] as const) {
      const mine = levels.filter((l) => l.store === store);
      if (mine.length === 0) continue;
      const base = (mine[0] as Level).label;
      const own = new Map([...summaries].filter(([name]) => mine.some((l) => l.label === name)));
      const targets = Object.fromEntries(mine.slice(1).map((l) => [l.label, 1 - TOLERANCE]));
      for (const row of throughputRows('scale', own, base, targets)) {
        if (row.met !== null && row.ratio !== undefined) {
          row.met = row.met && row.ratio <= 1 + TOLERANCE;
          row.target = `within ${TOLERANCE * 100} % of ${base}`;
        }
        const heap = heaps[row.variant];
        if (store === 'memory' && heap) row.value = `${Math.round(heap.bytesPerChallenge)} B heap/challenge`;
        rows.push(row);
      }
    }
    if (!redis) {
      rows.push({
        case: 'scale',
        variant: 'redisStore, 1k vs 1M pending',
        value: 'not run: set BENCH_SCALE_REDIS=1 (and a Redis on 127.0.0.1)',
        met: null,
      });
    }
    for (const server of servers) await server.request('cleanup');
    return { name: 'scale', rows, details: { heaps, summaries: Object.fromEntries(summaries) } };
  } finally {
    for (const server of servers) await server.stop();
  }
}
