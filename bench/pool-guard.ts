// Pools the guard case's paired ratios over several results files, with bootstrap 95 % intervals.
//   npx tsx bench/pool-guard.ts FILE.json [FILE.json ...]
// One results file decides little: a 1 s run's paired ratio varies by ±10–20 % here, so the median of
// 16 has a standard error of ~4 %, and whole runs differ by more than their pairs say (the same guard
// on two routes read 0.89–1.09× over single runs). The interval therefore resamples runs, then pairs
// within them, and narrows with the number of runs pooled (s12-guard).
import { readFileSync } from 'node:fs';
import {
  bootstrapMedian,
  type Interval,
  interval,
  logSd,
  type Pair,
  pairIntervals,
  pairsOf,
  seeded,
} from './guard-stats.js';
import { median, quantile, type Summary } from './measure.js';

const BARE = 'bare route';
const REMEMBER_BARE = 'bare route (rememberDevice process)';
const GUARD = 'requireSecondFactor';
const GUARD_AGAIN = 'requireSecondFactor again (A/A)';

interface File {
  path: string;
  date: string;
  pin: boolean;
  runs: number;
  seconds: number;
  load: string;
  summaries: Record<string, Summary>;
}

function load(path: string): File {
  const data = JSON.parse(readFileSync(path, 'utf8'));
  const guard = data.cases?.guard;
  if (!guard?.summaries) throw new Error(`${path}: no guard case`);
  return {
    path,
    date: String(data.date ?? ''),
    pin: Boolean(data.settings?.pin),
    runs: Number(guard.settings?.runs ?? data.settings?.runs),
    seconds: Number(guard.settings?.seconds ?? data.settings?.seconds),
    load: `${data.loadAverage?.start ?? '?'} → ${data.loadAverage?.guard ?? '?'}`,
    summaries: guard.summaries,
  };
}

/** The baseline a variant is paired with in the case. */
const baselineOf = (name: string) => (name.includes('rememberDevice') ? REMEMBER_BARE : BARE);

/**
 * The ratio of two variants' pooled medians (b over a, both against the same baseline) with a
 * bootstrap interval: the guard against itself on another route, the literal A/A of the issue.
 */
function ratioOfMedians(a: Pair[], b: Pair[], pick: (p: Pair) => number, reps = 4000): Interval {
  const random = seeded(41);
  const strata = [...new Set([...a, ...b].map((p) => p.stratum))];
  const by = (pairs: Pair[]) => {
    const map = new Map<number, number[]>();
    for (const p of pairs) map.set(p.stratum, [...(map.get(p.stratum) ?? []), pick(p)]);
    return map;
  };
  const [aBy, bBy] = [by(a), by(b)];
  const one = <T>(from: T[]) => from[Math.floor(random() * from.length)] as T;
  const ratios: number[] = [];
  for (let r = 0; r < reps; r++) {
    // The same resampled runs for both: the two routes ran in the same runs (two-level bootstrap).
    const drawn = strata.length === 1 ? strata : strata.map(() => one(strata));
    const sa: number[] = [];
    const sb: number[] = [];
    for (const k of drawn) {
      const ga = aBy.get(k) ?? [];
      const gb = bBy.get(k) ?? [];
      for (let i = 0; i < ga.length; i++) sa.push(one(ga));
      for (let i = 0; i < gb.length; i++) sb.push(one(gb));
    }
    ratios.push(median(sb) / median(sa));
  }
  return {
    median: median(b.map(pick)) / median(a.map(pick)),
    low: quantile(ratios, 0.025),
    high: quantile(ratios, 0.975),
    n: Math.min(a.length, b.length),
  };
}

function main() {
  const paths = process.argv.slice(2);
  if (paths.length === 0) throw new Error('usage: tsx bench/pool-guard.ts FILE.json [FILE.json ...]');
  const files = paths.map(load);
  const pooled = new Map<string, Pair[]>();
  for (const [k, file] of files.entries()) {
    console.log(
      `${file.path}: ${file.date}, ${file.runs} × ${file.seconds} s${file.pin ? ', pinned' : ''}, load ${file.load}`,
    );
    for (const [name, summary] of Object.entries(file.summaries)) {
      const pairs = pairsOf(summary.runs, baselineOf(name), k);
      if (pairs.length === 0) continue;
      pooled.set(name, [...(pooled.get(name) ?? []), ...pairs]);
      const rps = pairs.map((p) => p.rps);
      const cpu = pairs.map((p) => p.cpu);
      console.log(
        `  ${name.padEnd(42)} req/s ${median(rps).toFixed(3)}× (sd ${logSd(rps).toFixed(3)}), ` +
          `CPU ${median(cpu).toFixed(3)}× (sd ${logSd(cpu).toFixed(3)}), ${pairs.length} pairs`,
      );
    }
  }
  console.log(
    `\npooled over ${files.length} file(s): median of paired ratios [95 % interval, bootstrap over runs, then pairs]`,
  );
  for (const [name, pairs] of pooled) {
    const { rps, cpu } = pairIntervals(pairs);
    console.log(`  ${name.padEnd(42)} req/s ${interval(rps)}  CPU ${interval(cpu)}`);
  }
  const guard = pooled.get(GUARD);
  const again = pooled.get(GUARD_AGAIN);
  if (guard && again) {
    console.log(
      `  the guard twice (A/A: ${GUARD_AGAIN} over ${GUARD}): req/s ${interval(ratioOfMedians(guard, again, (p) => p.rps))}` +
        `  CPU ${interval(ratioOfMedians(guard, again, (p) => p.cpu))}`,
    );
    const both = [...guard, ...again];
    const strata = both.map((p) => p.stratum);
    console.log(
      `  the guard, both routes pooled:              req/s ${interval(
        bootstrapMedian(
          both.map((p) => p.rps),
          strata,
        ),
      )}  CPU ${interval(
        bootstrapMedian(
          both.map((p) => p.cpu),
          strata,
        ),
      )}`,
    );
  }
}

main();
