// What a case hands back, the printed table, and bench/results.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { blocks, median, type Progress, quantile, type Settings, type Summary } from './measure.js';

export interface Row {
  case: string;
  variant: string;
  /** Median requests per second over the runs. */
  rps?: number;
  /** Median of the runs' p99 latency, in ms. */
  p99?: number;
  /**
   * rps / the baseline's rps: the median over ABBA blocks (two rounds, the second in reverse order)
   * of the ratio to the baseline's rate in the same block, so drift in the machine's load cancels out.
   */
  ratio?: number;
  /** The 25th and 75th percentiles of those per-block ratios: how noisy the machine was. */
  ratioIqr?: [number, number];
  /** Median server CPU time per request, in µs. */
  cpuUs?: number;
  /** The baseline's CPU per request / this one's (paired per block like `ratio`). */
  cpuRatio?: number;
  /** The 25th and 75th percentiles of the per-block CPU ratios. */
  cpuRatioIqr?: [number, number];
  baseline?: string;
  /** A measured value that is not a throughput (bytes, connections, heap growth). */
  value?: string;
  target?: string;
  /** `null` when the row has no target. */
  met: boolean | null;
  note?: string;
}

export interface CaseResult {
  name: string;
  rows: Row[];
  details: Record<string, unknown>;
}

export interface Context {
  settings: Settings;
  quick: boolean;
  soakSeconds: number;
  /** Start the servers with --cpu-prof (bench/profiles/). */
  profile: boolean;
  log: Progress;
}

/**
 * Rows for throughput variants against `baseline`; `targets` maps a variant to its minimum ratio.
 * Ratios are paired: per ABBA block of two rounds (see `blocks` in measure.ts) the variant's rate
 * over the baseline's in the same block, then the median and IQR over the blocks; or, for runs
 * measured between two runs of the baseline (`Run.neighbour`), per run against those two.
 */
export function throughputRows(
  name: string,
  summaries: Map<string, Summary>,
  baseline: string,
  targets: Record<string, number>,
): Row[] {
  const base = summaries.get(baseline);
  const baseBlocks = base ? blocks(base.runs) : [];
  const pairs = (s: Summary, pick: (r: Block, b: Block) => number) =>
    blocks(s.runs).map((r, i) => (baseBlocks[i] ? pick(r, baseBlocks[i] as Block) : Number.NaN));
  return [...summaries].map(([variant, s]) => {
    // Runs measured between two runs of this baseline (measure's `baselines`) pair with those.
    const near = s.runs.filter((r) => r.neighbour?.baseline === baseline);
    const neighbours = near.length > 0 && near.length === s.runs.length;
    const ratios = neighbours
      ? near.map((r) => r.rps / (r.neighbour?.rps ?? Number.NaN))
      : pairs(s, (r, b) => r.rps / b.rps);
    const cpuRatios = neighbours
      ? near.map((r) => (r.neighbour?.cpuUs ?? Number.NaN) / r.cpuUs)
      : pairs(s, (r, b) => b.cpuUs / r.cpuUs);
    const ratio = median(ratios);
    const min = targets[variant];
    const row: Row = {
      case: name,
      variant,
      rps: s.rps,
      p99: s.p99,
      ratio,
      ratioIqr: [quantile(ratios, 0.25), quantile(ratios, 0.75)],
      cpuUs: s.cpuUs,
      cpuRatio: median(cpuRatios),
      cpuRatioIqr: [quantile(cpuRatios, 0.25), quantile(cpuRatios, 0.75)],
      baseline,
      met: min === undefined ? null : ratio >= min && s.unexpected === 0,
    };
    if (min !== undefined) row.target = `≥ ${min}× ${baseline}`;
    if (s.unexpected > 0) row.note = `${s.unexpected} unexpected answers ${JSON.stringify(s.statuses)}`;
    return row;
  });
}

type Block = ReturnType<typeof blocks>[number];

export function machine() {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? model;
  } catch {
    // not Linux: os.cpus() is enough
  }
  return {
    cpuModel: model,
    cores: cpus().length,
    ramGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? ''
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export function table(rows: Row[]): string {
  const header = [
    'case',
    'variant',
    'req/s',
    'p99 ms',
    'ratio [IQR]',
    'CPU µs/req',
    'CPU ratio [IQR]',
    'value',
    'target',
    'met?',
  ];
  const times = (n: number | undefined) => (n === undefined ? '' : `${fmt(n, 2)}×`);
  const ratio = (r: Row) =>
    r.ratio === undefined
      ? ''
      : r.variant === r.baseline
        ? 'baseline'
        : `${times(r.ratio)} [${fmt(r.ratioIqr?.[0], 2)}–${fmt(r.ratioIqr?.[1], 2)}]`;
  const lines = rows.map((r) => [
    r.case,
    r.variant,
    fmt(r.rps),
    fmt(r.p99),
    ratio(r),
    fmt(r.cpuUs),
    r.cpuRatio === undefined || r.variant === r.baseline
      ? times(r.cpuRatio)
      : `${times(r.cpuRatio)} [${fmt(r.cpuRatioIqr?.[0], 2)}–${fmt(r.cpuRatioIqr?.[1], 2)}]`,
    r.value ?? '',
    r.target ?? '',
    r.met === null ? '—' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const render = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [render(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(render)].join(
    '\n',
  );
}

export function writeResults(path: string, data: Record<string, unknown>): void {
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}
