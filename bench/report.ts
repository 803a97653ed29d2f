// What a case hands back, the printed table, and bench/results.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { median, type Progress, quantile, type Run, type Settings, type Summary } from './measure.js';

export interface Row {
  case: string;
  variant: string;
  /** Median requests per second over the runs. */
  rps?: number;
  /** Median of the runs' p99 latency, in ms. */
  p99?: number;
  /**
   * rps / the baseline's rps: the median over rounds of the ratio to the baseline's run of the same
   * round (variants run round-robin), so slow drift in the machine's load cancels out.
   */
  ratio?: number;
  /** The 25th and 75th percentiles of those per-round ratios: how noisy the machine was. */
  ratioIqr?: [number, number];
  /** Median server CPU time per request, in µs. */
  cpuUs?: number;
  /** The baseline's CPU per request / this one's (paired per round like `ratio`). */
  cpuRatio?: number;
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

/** Rows for throughput variants against `baseline`; `targets` maps a variant to its minimum ratio. */
export function throughputRows(
  name: string,
  summaries: Map<string, Summary>,
  baseline: string,
  targets: Record<string, number>,
): Row[] {
  const base = summaries.get(baseline);
  const pairs = (s: Summary, pick: (r: Run, b: Run) => number) =>
    s.runs.map((r, i) => (base?.runs[i] ? pick(r, base.runs[i] as Run) : Number.NaN));
  const paired = (s: Summary, pick: (r: Run, b: Run) => number) => median(pairs(s, pick));
  return [...summaries].map(([variant, s]) => {
    const ratios = pairs(s, (r, b) => r.rps / b.rps);
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
      cpuRatio: paired(s, (r, b) => b.cpuUs / r.cpuUs),
      baseline,
      met: min === undefined ? null : ratio >= min && s.unexpected === 0,
    };
    if (min !== undefined) row.target = `≥ ${min}× ${baseline}`;
    if (s.unexpected > 0) row.note = `${s.unexpected} unexpected answers ${JSON.stringify(s.statuses)}`;
    return row;
  });
}

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
    'CPU ratio',
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
    times(r.cpuRatio),
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
