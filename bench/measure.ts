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

/** One autocannon run against `variant`: for `seconds`, or exactly `amount` requests when given. */
export async function fire(
  variant: Variant,
  settings: Settings,
  seconds: number,
  amount?: number,
  measured = false,
) {
  const pool = amount !== undefined && variant.pool ? await variant.pool(amount) : undefined;
  await variant.server.gc(); // every run starts from a collected heap, setup garbage included
  if (measured) await variant.beforeRun?.();
  let i = 0;
  const base: Record<string, string> =
    variant.method === 'POST' ? { 'content-type': 'application/json' } : {};
  // Every variant builds its request per call, so autocannon's own cost is the same for all of them.
  const setupRequest = (req: { headers?: Record<string, string>; body?: string | Buffer }) => {
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
  const profiling = measured && settings.profile;
  if (profiling) await variant.server.request('profile-start');
  const cpu0 = await variant.server.cpu();
  const instance = autocannon({
    url: variant.server.url,
    connections: settings.connections,
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
 * Warms every variant up, then runs them round-robin (the order rotates each round), so that a
 * noisy neighbour slows every variant alike. Pooled variants run a fixed `amount` sized from their
 * warm-up rate, so the pool never runs dry and no request falls back onto another code path.
 */
export async function measure(variants: Variant[], settings: Settings, log: Progress) {
  const amounts = new Map<string, number>();
  for (const v of variants) {
    const cap = (n: number) => Math.min(n, v.maxAmount ?? Number.POSITIVE_INFINITY);
    const warm = v.pool
      ? await fire(v, settings, 0, cap(Math.max(200, Math.round(400 * settings.warmupSeconds))))
      : await fire(v, settings, settings.warmupSeconds);
    if (v.pool) amounts.set(v.name, cap(Math.max(200, Math.round(warm.rps * settings.seconds))));
    log(`  warm-up ${v.name}: ${Math.round(warm.rps)} req/s`);
  }
  const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < settings.runs; round++) {
    const order = variants.map((_, k) => variants[(k + round) % variants.length] as Variant);
    for (const v of order) {
      const run = await fire(v, settings, settings.seconds, amounts.get(v.name), true);
      runs.get(v.name)?.push(run);
      const bad = run.unexpected ? ` (${run.unexpected} unexpected: ${JSON.stringify(run.statuses)})` : '';
      log(
        `  run ${round + 1}/${settings.runs} ${v.name}: ${Math.round(run.rps)} req/s, p99 ${run.p99} ms, ` +
          `${Math.round(run.cpuUs)} µs CPU/req${bad}`,
      );
    }
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
