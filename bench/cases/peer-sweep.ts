// The peer case's PostgreSQL pairing at each side's peak: both sides over the same sweep of
// connections, in the same rounds. Used by bench/cases/peer.ts.
import {
  blocks,
  measure,
  median,
  type Progress,
  quantile,
  type Settings,
  type Summary,
  type Variant,
} from '../measure.js';
import type { Row } from '../report.js';

/** The sweep of a full run: better-auth peaks at 10 (CPU-bound), ours at 20–40 (commit-bound). */
const DEFAULT_SWEEP = '10,20,40';

/**
 * The connections of the sweep, from `BENCH_PEER_SWEEP` (default `10,20,40`; empty or `0`: no sweep,
 * the target back on the 10-connection rows). ~10 s per run of a side at one point, pool builds
 * included: 6 rounds of 3 points add ~6 minutes to the case (BENCHMARKS.md, s11-peer).
 */
export function sweepConnections(): number[] {
  const env = process.env.BENCH_PEER_SWEEP ?? DEFAULT_SWEEP;
  if (env === '' || env === '0') return [];
  const list = env.split(',').map((s) => Number(s.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`BENCH_PEER_SWEEP=${env}: expected connection counts such as 10,20,40, or 0`);
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

/** One side at one number of connections: medians over its runs (latencies in ms, CPU in µs per request). */
export interface Point {
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUs: number;
  /** The PostgreSQL server's CPU per request (median over runs), when the variant records it. */
  serverCpuUs?: number;
  unexpected: number;
  /** Each measured run's req/s, in order. */
  runs: number[];
}

export interface Side {
  /** The variant's name (the rows' name; the sweep's variants add the connections). */
  name: string;
  /** The side's variant at `connections`, named as given. */
  variant: (name: string, connections: number) => Variant | Promise<Variant>;
}

export interface Sweep {
  connections: number[];
  ours: Point[];
  peer: Point[];
  /** Each side's point with the highest median req/s. */
  oursPeak: Point;
  peerPeak: Point;
  /** Ours at its peak over the peer at its peak, per block of two rounds (median, IQR): by req/s and by CPU. */
  ratio: number;
  ratioIqr: [number, number];
  cpuRatio: number;
  cpuRatioIqr: [number, number];
  summaries: Map<string, Summary>;
}

/** A sweep variant's name: the side's and its connections. */
export const atConnections = (name: string, connections: number) => `${name}, ${connections} connections`;

function pointOf(connections: number, s: Summary): Point {
  const server = median(s.runs.map((r) => r.extra?.serverCpuUs ?? Number.NaN));
  return {
    connections,
    rps: s.rps,
    p50: s.p50,
    p99: s.p99,
    cpuUs: s.cpuUs,
    ...(Number.isNaN(server) ? {} : { serverCpuUs: server }),
    unexpected: s.unexpected,
    runs: s.runs.map((r) => r.rps),
  };
}

const peakOf = (points: Point[]) => points.reduce((best, p) => (p.rps > best.rps ? p : best));

/**
 * Measures `ours` and `peer` at every number of connections in `list`, all 2 × n variants in the
 * same rounds (ABBA pairs, measure.ts), and finds each side's peak: its highest median req/s. The
 * ratio pairs ours' peak and the peer's peak per block of two rounds, as `throughputRows` pairs a
 * variant with its baseline, so a drift of the machine's load over the sweep cancels out.
 */
export async function sweep(
  ours: Side,
  peer: Side,
  list: number[],
  settings: Settings,
  log: Progress,
): Promise<Sweep> {
  const variants: Variant[] = [];
  for (const connections of list) {
    for (const side of [ours, peer]) {
      const name = atConnections(side.name, connections);
      variants.push({ ...(await side.variant(name, connections)), name, connections });
    }
  }
  const summaries = await measure(variants, settings, log);
  const points = (side: Side) =>
    list.map((c) => pointOf(c, summaries.get(atConnections(side.name, c)) as Summary));
  const [oursPoints, peerPoints] = [points(ours), points(peer)];
  const [oursPeak, peerPeak] = [peakOf(oursPoints), peakOf(peerPoints)];
  const runsOf = (side: Side, p: Point) =>
    (summaries.get(atConnections(side.name, p.connections)) as Summary).runs;
  const [a, b] = [blocks(runsOf(ours, oursPeak)), blocks(runsOf(peer, peerPeak))];
  const ratios = a.map((x, i) => x.rps / (b[i]?.rps ?? Number.NaN));
  const cpuRatios = a.map((x, i) => (b[i]?.cpuUs ?? Number.NaN) / x.cpuUs);
  for (let k = 0; k < list.length; k++) {
    const [o, p] = [oursPoints[k] as Point, peerPoints[k] as Point];
    log(
      `  sweep, ${list[k]} connections: ${ours.name} ${Math.round(o.rps)} req/s (p50 ${o.p50}, p99 ${o.p99} ms, ${Math.round(o.cpuUs)} µs); ${peer.name} ${Math.round(p.rps)} req/s (p50 ${p.p50}, p99 ${p.p99} ms, ${Math.round(p.cpuUs)} µs); ${(o.rps / p.rps).toFixed(2)}×`,
    );
  }
  return {
    connections: list,
    ours: oursPoints,
    peer: peerPoints,
    oursPeak,
    peerPeak,
    ratio: median(ratios),
    ratioIqr: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
    cpuRatio: median(cpuRatios),
    cpuRatioIqr: [quantile(cpuRatios, 0.25), quantile(cpuRatios, 0.75)],
    summaries,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const latency = (p: Point) => `p50 ${p.p50} ms, p99 ${p.p99} ms`;

/**
 * The two rows of the pairing at each side's peak: the peer's (the baseline) and ours, which carries
 * `target` (minimum ratio, judged peak against peak) and says in words what a peak is.
 */
export function peakRows(
  caseName: string,
  s: Sweep,
  names: { ours: string; peer: string },
  target: number,
): [Row, Row] {
  const over = `${s.connections.join('/')} connections`;
  const peerName = `${names.peer}, at its peak`;
  const unexpected = [...s.ours, ...s.peer].reduce((sum, p) => sum + p.unexpected, 0);
  const server = (p: Point) =>
    p.serverCpuUs === undefined ? '' : `, PostgreSQL ${fmt(p.serverCpuUs)} µs/req`;
  const peerRow: Row = {
    case: caseName,
    variant: peerName,
    rps: s.peerPeak.rps,
    p99: s.peerPeak.p99,
    ratio: 1,
    ratioIqr: [1, 1],
    cpuUs: s.peerPeak.cpuUs,
    cpuRatio: 1,
    cpuRatioIqr: [1, 1],
    baseline: peerName,
    value: `peak at ${s.peerPeak.connections} of ${over} (${latency(s.peerPeak)}${server(s.peerPeak)}); req/s at each: ${s.peer.map((p) => fmt(p.rps)).join(' / ')}`,
    met: null,
  };
  const oursRow: Row = {
    case: caseName,
    variant: `${names.ours}, at its peak`,
    rps: s.oursPeak.rps,
    p99: s.oursPeak.p99,
    ratio: s.ratio,
    ratioIqr: s.ratioIqr,
    cpuUs: s.oursPeak.cpuUs,
    cpuRatio: s.cpuRatio,
    cpuRatioIqr: s.cpuRatioIqr,
    baseline: peerName,
    value: `peak at ${s.oursPeak.connections} of ${over} (${latency(s.oursPeak)}${server(s.oursPeak)}); req/s at each: ${s.ours.map((p) => fmt(p.rps)).join(' / ')}`,
    target: `≥ ${target}× ${names.peer}, each side at its peak (highest median req/s over ${over}, the same sweep for both)`,
    met: s.ratio >= target && unexpected === 0,
  };
  // The peer's best at the sweep's highest connections may not be its peak: more could serve more,
  // so the ratio would overstate ours. No verdict then (ours at that edge only understates it).
  const edge = s.peer.length > 1 && s.peerPeak.connections === s.peer[s.peer.length - 1]?.connections;
  if (edge) {
    oursRow.met = null;
    oursRow.note = `no verdict: ${names.peer} is best at the sweep's highest connections; sweep further (BENCH_PEER_SWEEP)`;
  }
  if (unexpected > 0) oursRow.note = `${unexpected} unexpected answers over the sweep`;
  return [peerRow, oursRow];
}
