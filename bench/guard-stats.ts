// The guard case's paired ratios, and a bootstrap confidence interval for their median (s12-guard).
import { median, quantile, type Run } from './measure.js';

/** One variant run against the baseline runs right before and after it (`Run.neighbour`). */
export interface Pair {
  /** The variant's req/s over its neighbours'. */
  rps: number;
  /** The neighbours' CPU per request over the variant's (> 1: the variant is cheaper). */
  cpu: number;
  /** Which sample (results file, or run) the pair came from: the bootstrap resamples within it. */
  stratum: number;
}

/** The paired ratios of `runs` against `baseline` (runs without that neighbour are left out). */
export function pairsOf(runs: Run[], baseline: string, stratum = 0): Pair[] {
  const out: Pair[] = [];
  for (const run of runs) {
    const near = run.neighbour;
    if (!near || near.baseline !== baseline) continue;
    out.push({ rps: run.rps / near.rps, cpu: near.cpuUs / run.cpuUs, stratum });
  }
  return out;
}

/** A small seeded generator (mulberry32): the same files give the same interval every time. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Interval {
  median: number;
  low: number;
  high: number;
  n: number;
}

/**
 * The median of `values` and its percentile-bootstrap 95 % interval over `reps` resamples. Each
 * resample draws the strata (results files) with replacement, then each drawn stratum's values with
 * replacement: a two-level bootstrap, because pairs of one run are not independent (the machine has
 * spells longer than a pair: the same guard on two routes read 0.89× in one run, s12-guard), so the
 * spread between runs must count. With one stratum it is the plain bootstrap over pairs.
 */
export function bootstrapMedian(values: number[], strata: number[], reps = 4000, seed = 14): Interval {
  const groups = new Map<number, number[]>();
  values.forEach((v, i) => {
    const key = strata[i] ?? 0;
    groups.set(key, [...(groups.get(key) ?? []), v]);
  });
  const list = [...groups.values()];
  const random = seeded(seed);
  const pick = <T>(from: T[]) => from[Math.floor(random() * from.length)] as T;
  const medians: number[] = [];
  const sample: number[] = [];
  for (let r = 0; r < reps; r++) {
    sample.length = 0;
    for (let g = 0; g < list.length; g++) {
      const group = list.length === 1 ? (list[0] as number[]) : pick(list);
      for (let i = 0; i < group.length; i++) sample.push(pick(group));
    }
    medians.push(median(sample));
  }
  return {
    median: median(values),
    low: quantile(medians, 0.025),
    high: quantile(medians, 0.975),
    n: values.length,
  };
}

/** The spread of paired ratios: the standard deviation of their logarithms (0.10 ≈ ±10 % per pair). */
export function logSd(values: number[]): number {
  const logs = values.filter((v) => v > 0 && Number.isFinite(v)).map(Math.log);
  if (logs.length < 2) return Number.NaN;
  const mean = logs.reduce((s, v) => s + v, 0) / logs.length;
  return Math.sqrt(logs.reduce((s, v) => s + (v - mean) ** 2, 0) / (logs.length - 1));
}

export const interval = (i: Interval, digits = 3) =>
  `${i.median.toFixed(digits)}× [${i.low.toFixed(digits)}–${i.high.toFixed(digits)}] (n=${i.n})`;

/** The bootstrap intervals of a set of pairs' medians, by req/s and by CPU, each over the pairs' strata. */
export function pairIntervals(pairs: Pair[]): { rps: Interval; cpu: Interval } {
  const strata = pairs.map((p) => p.stratum);
  return {
    rps: bootstrapMedian(
      pairs.map((p) => p.rps),
      strata,
    ),
    cpu: bootstrapMedian(
      pairs.map((p) => p.cpu),
      strata,
    ),
  };
}
