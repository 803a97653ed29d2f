// The scale case's statistics: per-block group rates and ratios, the CPU floor, and each process's
// own speed (the process as the unit), with the standard error of a ratio from the processes' spread.
import { median, quantile, type Run } from '../measure.js';

/**
 * A group's rate and CPU per request in each ABBA block (rounds 2k and 2k+1): all its processes'
 * requests over all their seconds, CPU over requests. Every process runs once per round.
 */
export function groupBlocks(runs: Run[][]): { rps: number; cpuUs: number }[] {
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
export function floorOf(runs: Run[][]): number {
  return runs.reduce((total, r) => total + Math.min(...r.map((x) => x.cpuUs)), 0) / runs.length;
}

/** Median and quartiles of paired per-block ratios. */
export function spread(ratios: number[]) {
  return { ratio: median(ratios), iqr: [quantile(ratios, 0.25), quantile(ratios, 0.75)] as [number, number] };
}

export const range = (values: number[]) => {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const [low, high] = [Math.min(...values), Math.max(...values)];
  return low === high ? fmt(low) : `${fmt(low)}–${fmt(high)}`;
};

export const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
/** The sample variance (n − 1); NaN for fewer than two values. */
export const variance = (xs: number[]) =>
  xs.length < 2 ? Number.NaN : xs.reduce((sum, x) => sum + (x - mean(xs)) ** 2, 0) / (xs.length - 1);

/**
 * Each process's own speed, the process as the unit: its mean log rate over the rounds less each
 * round's mean over every process of the phase (what the machine did to all of them that round
 * cancels). Identical processes differ here for their whole life (see `processRatio`).
 */
export function processEffects<P>(all: P[], runsOf: (p: P) => Run[]): Map<P, number> {
  const rounds = Math.min(...all.map((p) => runsOf(p).length));
  const rate = (r: Run) => Math.log(r.requests / Math.max(r.seconds, 0.001));
  const roundMean = Array.from({ length: rounds }, (_, k) => mean(all.map((p) => rate(runsOf(p)[k] as Run))));
  return new Map(
    all.map((p) => [
      p,
      mean(
        runsOf(p)
          .slice(0, rounds)
          .map((r, k) => rate(r) - (roundMean[k] as number)),
      ),
    ]),
  );
}

/**
 * Group `a` over group `b` from their processes' effects: exp of the difference of the means, and
 * its standard error (on the log scale, ≈ a relative error) from the spread of the effects within
 * each group. This error holds both the run-to-run noise and what one process differs from an
 * identical one for its whole life, which the per-block IQR does not show; NaN with one process.
 */
export function processRatio(a: number[], b: number[]) {
  return {
    ratio: Math.exp(mean(a) - mean(b)),
    se: Math.sqrt(variance(a) / a.length + variance(b) / b.length),
  };
}

export const pct = (x: number) => (Number.isNaN(x) ? 'n/a' : `${(x * 100).toFixed(1)} %`);
