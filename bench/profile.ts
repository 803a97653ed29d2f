// Top self-time functions of V8 CPU profiles (.cpuprofile, as node --cpu-prof writes), e.g. from `npm run bench -- --profile`.
// Usage: npx tsx bench/profile.ts bench/profiles/<server>-<time>/<variant>[/run-N.cpuprofile] [--top=25] [--focus=fn]
// --by=file: self time summed per source file or package.
// --focus=requireSecondFactor: the share of busy time spent inside that function (its inclusive time,
// without what it hands on to through `next`) and the self time of the functions that ran under it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface Profile {
  busyMs: number;
  top: SelfTime[];
  /** With a focus: the share of busy time with the focus function on the stack. */
  focusShare?: number;
}

function where(url: string, line: number): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? relative(ROOT, fileURLToPath(url)) : url;
  return `${path}:${line + 1}`;
}

/** The .cpuprofile files at `path`: the file itself, or every one in the directory. */
function profileFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f));
}

/**
 * Self time per function (summed over every node of it and every profile at `path`), busiest
 * first; idle time left out. With `focus`, only samples with that function on the stack count
 * towards `top`, and `focusShare` says how much of the busy time they are.
 */
export function selfTimes(path: string, focus?: string): Profile {
  const totals = new Map<string, SelfTime>();
  let busy = 0;
  let focused = 0;
  for (const file of profileFiles(path)) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    // Inside `focus` and not below a call it hands on to (`next`: the rest of the request).
    const inFocus = (id: number) => {
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const name = byId.get(at)?.callFrame.functionName;
        if (name === focus) return true;
        if (name === 'next' || name === 'handle') return false;
      }
      return false;
    };
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i] as number;
      const us = profile.timeDeltas[i + 1] ?? 0;
      const frame = byId.get(id)?.callFrame;
      if (!frame || frame.functionName === '(idle)') continue;
      busy += us;
      if (focus && !inFocus(id)) continue;
      focused += us;
      const name = frame.functionName || '(anonymous)';
      const at = where(frame.url, frame.lineNumber);
      const key = `${name} ${at}`;
      const entry = totals.get(key) ?? { name, where: at, ms: 0, share: 0 };
      entry.ms += us / 1000;
      totals.set(key, entry);
    }
  }
  const top = [...totals.values()].sort((a, b) => b.ms - a.ms);
  for (const entry of top) entry.share = entry.ms / (busy / 1000);
  return { busyMs: busy / 1000, top, ...(focus ? { focusShare: focused / busy } : {}) };
}

/** The self-time table as text. */
export function formatTop(path: string, count = 20, focus?: string): string {
  const { busyMs, top, focusShare } = selfTimes(path, focus);
  const lines = top
    .slice(0, count)
    .map(
      (t) =>
        `${(t.share * 100).toFixed(1).padStart(5)} %  ${t.ms.toFixed(0).padStart(6)} ms  ${t.name}  ${t.where}`,
    );
  const head = focus
    ? `${path}: ${busyMs.toFixed(0)} ms busy, ${((focusShare ?? 0) * 100).toFixed(1)} % inside ${focus}`
    : `${path}: ${busyMs.toFixed(0)} ms busy`;
  return [head, ...lines].join('\n');
}

/** Self time summed by source file (`src/...`, a package, `node:...`, or V8's own entries). */
export function formatByFile(path: string, count = 20): string {
  const { busyMs, top } = selfTimes(path);
  const files = new Map<string, number>();
  for (const t of top) {
    const file = t.where.replace(/:\d+$/, '');
    const key = file.startsWith('node_modules/')
      ? (/^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1] ?? file)
      : file || t.name;
    files.set(key, (files.get(key) ?? 0) + t.ms);
  }
  const lines = [...files]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(
      ([file, ms]) =>
        `${((ms / busyMs) * 100).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${file}`,
    );
  return [`${path}: ${busyMs.toFixed(0)} ms busy, by file`, ...lines].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const option = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const top = Number(option('top') ?? 25);
  for (const file of process.argv.slice(2).filter((a) => !a.startsWith('--'))) {
    if (option('by') === 'file') console.log(`${formatByFile(file, top)}\n`);
    else console.log(`${formatTop(file, top, option('focus'))}\n`);
  }
}
