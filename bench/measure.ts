// autocannon runs: warm-up, then several interleaved runs per variant, the median reported.
import { join } from 'node:path';
import autocannon, { type Result } from 'autocannon';
import type { Server } from './child.js';
import type { PooledRequest } from './client.js';

export interface Settings {
  /** Profile the servers during measured runs (bench/profiles/). */
  profile?: boolean;
  runs: number;
  seconds: number;
  warmupSeconds: number;
  connections: number;
  /**
   * Seconds of unmeasured load on the variant itself right before each measured run (default 0;
   * `BENCH_REWARM=0.5` sets it; 0.5 with `BENCH_GC=loaded`). A pooled variant's pool is built with
   * that many extra entries (at the run's rate) for it, before the collection. Off by default since
   * the fifth session: after a scavenge the code is still hot. With `BENCH_GC=full` it re-tiers the
   * code the full GC threw away, but 0.5 s is not enough (docs/benchmarks-history.md, "Steady state by default").
   */
  rewarmSeconds?: number;
  /**
   * With `measure`'s `baselines`: seconds of unmeasured load on a group's baseline right before the
   * group's turn in each round (default 0; `BENCH_TOUCH=0.5` sets it, `BENCH_TOUCH=0` turns it off).
   * A process that idled through the other groups' turns serves its first run of a turn dearer (3–6 %
   * more CPU per request in the guard case, s11-guard); without the touch that run is a measured
   * baseline run, and a group with one variant always pairs it with that run.
   */
  touchSeconds?: number;
}

/**
 * The collection before each measured run, from `BENCH_GC`: `minor` (default: a scavenge; the
 * first warm-up pass collects fully, after the case's setup), `full` (two full GCs before every run,
 * warm-ups included: the harness up to the fourth session), `loaded` (the full GC in the middle of
 * an unmeasured re-warm on the variant itself, under its own traffic, then a scavenge), `0` (none).
 */
export type Collection = 'minor' | 'full' | 'loaded' | 'none';

export function collectionOf(): Collection {
  const env = process.env.BENCH_GC ?? '';
  if (env === '0' || env === 'none') return 'none';
  if (env === 'full' || env === 'loaded') return env;
  if (env === '' || env === 'minor') return 'minor';
  throw new Error(`BENCH_GC=${env}: expected minor, full, loaded or 0`);
}

/** The re-warm before each measured run, in seconds (see `Settings.rewarmSeconds`). */
export function rewarmOf(settings: Settings): number {
  return envNumber('BENCH_REWARM') ?? settings.rewarmSeconds ?? (collectionOf() === 'loaded' ? 0.5 : 0);
}

/** The touch before each group's turn, in seconds (see `Settings.touchSeconds`). */
export function touchOf(settings: Settings): number {
  return envNumber('BENCH_TOUCH') ?? settings.touchSeconds ?? 0;
}

/** A number ≥ 0 from the environment; undefined when unset or empty. Anything else throws: a typo must not quietly measure something else. */
export function envNumber(name: string): number | undefined {
  const env = process.env[name];
  if (env === undefined || env === '') return undefined;
  const value = Number(env);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${env}: expected a number ≥ 0`);
  return value;
}

export interface Variant {
  name: string;
  server: Server;
  method: 'GET' | 'POST';
  path: string;
  /** The same cookies and body on every request (when there is no pool). */
  fixed?: PooledRequest;
  /** Extra headers for the request numbered `i` (e.g. a different user each time). */
  perRequest?: (i: number) => Record<string, string>;
  /** Requests that each consume state (a challenge): `count` of them are built before each run. */
  pool?: (count: number) => Promise<PooledRequest[]>;
  /** At most this many pooled requests per run (a peer too slow to fill a run in minutes). */
  maxAmount?: number;
  /** Requests used round-robin, again and again (built once). */
  rotate?: PooledRequest[];
  /** The only status the measured path answers; anything else is counted as unexpected. */
  expect: number;
  /** autocannon's connections for this variant's runs, warm-up and re-warm (default `Settings.connections`). */
  connections?: number;
  /** Called right before and right after each measured run (not the warm-up), e.g. to read counters. */
  beforeRun?: () => Promise<void>;
  afterRun?: (run: Run) => Promise<void>;
}

export interface Run {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  seconds: number;
  statuses: Record<string, number>;
  /** Socket errors, timeouts and answers other than `expect`. */
  unexpected: number;
  /** Server CPU time (user + system) per answered request, in µs: steadier than req/s on a busy machine. */
  cpuUs: number;
  /** Whatever `afterRun` recorded (e.g. Redis commands per request). */
  extra?: Record<string, number>;
  /**
   * With neighbour pairing (`measure`'s `baselines`): the baseline's runs right before and right
   * after this one, pooled (their requests over their time, their CPU over their requests).
   */
  neighbour?: { baseline: string; rps: number; cpuUs: number };
}

export interface Summary {
  rps: number;
  p99: number;
  p50: number;
  /** Median server CPU µs per request. */
  cpuUs: number;
  runs: Run[];
  unexpected: number;
  statuses: Record<string, number>;
}

/** The q-quantile (0..1) with linear interpolation; the median at 0.5. */
export function quantile(values: number[], q: number): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const low = sorted[Math.floor(at)] as number;
  const high = sorted[Math.ceil(at)] as number;
  return low + (high - low) * (at - Math.floor(at));
}

export const median = (values: number[]) => quantile(values, 0.5);

/**
 * One autocannon run against `variant`: for `seconds`, or exactly `amount` requests when given.
 * `fullGc` collects everything before it whatever `BENCH_GC` says (the first warm-up pass).
 */
export async function fire(
  variant: Variant,
  settings: Settings,
  seconds: number,
  amount?: number,
  measured = false,
  fullGc = false,
) {
  const collection = collectionOf();
  const rewarm = measured ? rewarmOf(settings) : 0;
  const connections = variant.connections ?? settings.connections;
  // A pooled variant's re-warm consumes extra entries of the same pool, built before the GC (the
  // run's rate, `amount / seconds`, over the re-warm's length), so its garbage is collected too.
  const extra =
    rewarm > 0 && amount !== undefined && variant.pool
      ? Math.max(20, connections, Math.round((amount * rewarm) / Math.max(seconds, 0.001)))
      : 0;
  const pool = amount !== undefined && variant.pool ? await variant.pool(amount + extra) : undefined;
  // Every run starts from a collected young generation, setup garbage included (see
  // `Collection`); with `loaded`, a measured run's full GC happens in the middle of its re-warm.
  const underLoad = rewarm > 0 && collection === 'loaded';
  if (collection !== 'none' && !underLoad) await variant.server.gc(fullGc);
  const base: Record<string, string> =
    variant.method === 'POST' ? { 'content-type': 'application/json' } : {};
  // Every variant builds its request per call, so autocannon's own cost is the same for all of them.
  // Request n of the measured run takes pool entry `extra + n` (the re-warm takes 0..extra-1).
  const requestsFrom = (first: number) => {
    let i = first;
    return (req: { headers?: Record<string, string>; body?: string | Buffer }) => {
      const n = i++;
      const item = pool
        ? pool[Math.min(n, pool.length - 1)]
        : variant.rotate
          ? variant.rotate[n % variant.rotate.length]
          : variant.fixed;
      const headers: Record<string, string> = { ...base, ...variant.perRequest?.(n), ...item?.headers };
      if (item?.cookie) headers.cookie = item.cookie;
      req.headers = headers;
      if (variant.method === 'POST') req.body = item?.body ?? '{}';
      return req;
    };
  };
  // After the GC, the variant's own code is tiered up again, unmeasured, before the measured window.
  if (rewarm > 0) {
    const warming = autocannon({
      url: variant.server.url,
      connections,
      pipelining: 1,
      timeout: 10,
      ...(pool ? { amount: extra } : { duration: rewarm }),
      requests: [{ method: variant.method, path: variant.path, setupRequest: requestsFrom(0) }],
    });
    if (underLoad) {
      // Halfway through (by time, or by pool entries answered), collect everything while the
      // variant's own requests are in flight, as a server under steady load is collected.
      let answered = 0;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, rewarm * 500);
        warming.on('response', () => {
          if (pool && ++answered >= extra / 2) {
            clearTimeout(timer);
            resolve();
          }
        });
        warming.on('done', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      await variant.server.request('gc-now');
    }
    await warming;
    if (underLoad || collection === 'minor') {
      await variant.server.request('gc-minor', { quiet: underLoad });
    }
  }
  const setupRequest = requestsFrom(extra);
  if (measured) await variant.beforeRun?.();
  const profiling = measured && settings.profile;
  if (profiling) await variant.server.request('profile-start');
  const cpu0 = await variant.server.cpu();
  const instance = autocannon({
    url: variant.server.url,
    connections,
    pipelining: 1,
    timeout: 10,
    sampleInt: 100,
    ...(amount !== undefined ? { amount } : { duration: seconds }),
    requests: [{ method: variant.method, path: variant.path, setupRequest }],
  });
  // autocannon only notices the end of an `amount` run at its next sample tick: time the run here.
  const started = performance.now();
  let last = started;
  instance.on('response', () => {
    last = performance.now();
  });
  const result: Result = await instance;
  const cpu1 = await variant.server.cpu();
  if (profiling) {
    const dir = join(variant.server.profileDir ?? '.', variant.name.replace(/[^a-z0-9]+/gi, '-'));
    await variant.server.request('profile-stop', { dir });
  }
  const elapsed = (last - started) / 1000;
  const run = toRun(result, variant.expect, elapsed, cpu1 - cpu0);
  if (measured) await variant.afterRun?.(run);
  return run;
}

function toRun(result: Result, expect: number, elapsed: number, cpu: number): Run {
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats)) statuses[code] = stat.count;
  const requests = result.requests.total;
  const expected = statuses[String(expect)] ?? 0;
  return {
    rps: requests / Math.max(elapsed, 0.001),
    cpuUs: cpu / Math.max(requests, 1),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    seconds: elapsed,
    statuses,
    unexpected: requests - expected + result.errors + result.timeouts,
  };
}

export type Progress = (line: string) => void;

/**
 * The order of every variant in round `round`: rounds come in pairs, the second the first reversed
 * (ABBA for two variants, ABC CBA for three), and each pair starts one variant further on. Every
 * variant's mean position within a pair is then the same, so a load that drifts linearly over a
 * pair slows every variant alike, and two variants are each other's neighbour in every pair.
 */
export function roundOrder<T>(variants: T[], round: number): T[] {
  const pair = Math.floor(round / 2);
  const order = variants.map((_, k) => variants[(k + pair) % variants.length] as T);
  return round % 2 === 0 ? order : order.reverse();
}

/**
 * The rounds paired into blocks (rounds 2k and 2k+1, one ABBA block): per block, the variant's and
 * the baseline's requests per second over both rounds, and their CPU per request over both rounds.
 * The ratio of a block is robust to a drift within it; the median over blocks to a bad block.
 */
export function blocks(runs: Run[]): { rps: number; cpuUs: number }[] {
  const out: { rps: number; cpuUs: number }[] = [];
  for (let k = 0; k < runs.length; k += 2) {
    const block = runs.slice(k, k + 2);
    const requests = block.reduce((sum, r) => sum + r.requests, 0);
    const seconds = block.reduce((sum, r) => sum + r.seconds, 0);
    const cpu = block.reduce((sum, r) => sum + r.cpuUs * r.requests, 0);
    out.push({ rps: requests / Math.max(seconds, 0.001), cpuUs: cpu / Math.max(requests, 1) });
  }
  return out;
}

/**
 * Warms every variant up equally (two passes of half the warm-up each, the second in reverse
 * order), then measures them in rounds, so that a noisy neighbour slows every variant alike.
 *
 * Without `baselines`, a round runs every variant once, in ABBA pairs of rounds (`roundOrder`).
 * With `baselines` (variant name → the name of its baseline), a round runs each baseline between
 * every two of its variants (B V1 B V2 B …, the variants' order rotating each round), and each
 * variant's run is paired with the baseline's two runs around it: a drift that is linear over those
 * three runs cancels out exactly (`Run.neighbour`; `throughputRows` then uses these pairs).
 *
 * Pooled variants run a fixed `amount` sized from their warm-up rate, so the pool never runs dry
 * and no request falls back onto another code path.
 */
export async function measure(
  variants: Variant[],
  settings: Settings,
  log: Progress,
  baselines?: Record<string, string>,
) {
  const amounts = new Map<string, number>();
  const half = settings.warmupSeconds / 2;
  for (const pass of [0, 1]) {
    for (const v of pass === 0 ? variants : [...variants].reverse()) {
      const cap = (n: number) => Math.min(n, v.maxAmount ?? Number.POSITIVE_INFINITY);
      const warm = v.pool
        ? await fire(v, settings, 0, cap(Math.max(100, Math.round(400 * half))), false, pass === 0)
        : await fire(v, settings, half, undefined, false, pass === 0);
      if (v.pool && pass === 1) {
        amounts.set(v.name, cap(Math.max(100, Math.round(warm.rps * settings.seconds))));
      }
      if (pass === 1) log(`  warm-up ${v.name}: ${Math.round(warm.rps)} req/s`);
    }
  }
  const byName = new Map(variants.map((v) => [v.name, v]));
  const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
  const show = (v: Variant, run: Run) => {
    const bad = run.unexpected ? ` (${run.unexpected} unexpected: ${JSON.stringify(run.statuses)})` : '';
    return `${v.name} ${Math.round(run.rps)}/s ${Math.round(run.cpuUs)} µs${bad}`;
  };
  const one = async (v: Variant) => {
    const run = await fire(v, settings, settings.seconds, amounts.get(v.name), true);
    runs.get(v.name)?.push(run);
    return run;
  };
  // Groups: a baseline and the variants paired with it (without `baselines`: none).
  const groups = new Map<string, Variant[]>();
  for (const v of variants) {
    const base = baselines?.[v.name];
    if (base === undefined || base === v.name) continue;
    if (!byName.has(base)) throw new Error(`measure: no baseline variant ${base} for ${v.name}`);
    groups.set(base, [...(groups.get(base) ?? []), v]);
  }
  const loose = variants.filter((v) => !groups.has(v.name) && !baselines?.[v.name]);
  for (let round = 0; round < settings.runs; round++) {
    const line: string[] = [];
    if (groups.size === 0) {
      for (const v of roundOrder(variants, round)) line.push(show(v, await one(v)));
    } else {
      for (const [baseName, members] of roundOrder([...groups], round)) {
        const base = byName.get(baseName) as Variant;
        const touch = touchOf(settings);
        if (touch > 0) {
          const amount = amounts.get(base.name);
          if (amount === undefined) await fire(base, settings, touch);
          else await fire(base, settings, 0, Math.max(20, Math.round((amount * touch) / settings.seconds)));
        }
        let before = await one(base);
        line.push(show(base, before));
        for (const v of roundOrder(members, round)) {
          const run = await one(v);
          const after = await one(base);
          const both = [before, after];
          const requests = both.reduce((sum, r) => sum + r.requests, 0);
          run.neighbour = {
            baseline: baseName,
            rps:
              requests /
              Math.max(
                both.reduce((sum, r) => sum + r.seconds, 0),
                0.001,
              ),
            cpuUs: both.reduce((sum, r) => sum + r.cpuUs * r.requests, 0) / Math.max(requests, 1),
          };
          line.push(show(v, run), show(base, after));
          before = after;
        }
      }
      for (const v of roundOrder(loose, round)) line.push(show(v, await one(v)));
    }
    log(`  round ${round + 1}/${settings.runs}: ${line.join('; ')}`);
  }
  const summaries = new Map<string, Summary>();
  for (const [name, list] of runs) {
    const statuses: Record<string, number> = {};
    for (const run of list)
      for (const [code, n] of Object.entries(run.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
    summaries.set(name, {
      rps: median(list.map((r) => r.rps)),
      p99: median(list.map((r) => r.p99)),
      p50: median(list.map((r) => r.p50)),
      cpuUs: median(list.map((r) => r.cpuUs)),
      runs: list,
      unexpected: list.reduce((sum, r) => sum + r.unexpected, 0),
      statuses,
    });
  }
  return summaries;
}
