// The whole guard (requireSecondFactor, not only the cookie jar) with its claim cache missing, at a
// git ref against this tree, both built as users run them (esbuild, ESM, no keepNames) and loaded
// in this one process, passes alternating, each round beside a createHmac floor.
// Usage: npx tsx bench/guard-miss-whole.ts [--ref=main] [--rounds=21] [--only=tree|ref] [--kinds=miss,hit]
// --only: time one build alone (its miss passes, for `node --cpu-prof --import tsx …`).
// Prints per case (miss: 20 000 browsers cycling through the 10 000-entry claim cache; hit: 5 000
// browsers ×4, cached) µs per call by CPU time and by the clock (fastest and median pass), the
// median per-round ratio of this tree over the ref, each over the floor, and the load average.
import { execFileSync } from 'node:child_process';
import { createHmac, createSecretKey } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type { NextFunction, Request, RequestHandler } from 'express';
import { refusingResponse } from './guard-cost.js';
import { median } from './measure.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const ref = arg('ref', 'main');
const rounds = Number(arg('rounds', '21'));
const only = arg('only', '');
const kinds = arg('kinds', 'miss,hit').split(',');
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

// The pages' scripts are built by esbuild when src is run as is; the package build inlines them.
// The guard never sends a page: empty stand-ins, as in neither build's hot path.
const stubs: Plugin = {
  name: 'stub-page-scripts',
  setup(b) {
    b.onLoad({ filter: /[\\/]src[\\/]page[\\/]script\.ts$/ }, () => ({
      contents: "export const PAGE_SCRIPT = '';",
      loader: 'ts',
    }));
    b.onLoad({ filter: /[\\/]src[\\/]lifecycle[\\/]enroll[\\/]script\.ts$/ }, () => ({
      contents: "export function enrollScript() { return ''; }",
      loader: 'ts',
    }));
  },
};

const dir = join(ROOT, 'tmp', `guard-miss-whole-${process.pid}`);
mkdirSync(dir, { recursive: true });
/** The package built from `srcDir` (its index.ts), as tsup builds it (ESM, node20, packages external). */
async function packageOf(srcDir: string, name: string) {
  const outfile = join(dir, `${name}.js`);
  await build({
    entryPoints: [join(srcDir, 'index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outfile,
    logLevel: 'silent',
    plugins: [stubs],
  });
  return (await import(pathToFileURL(outfile).href)) as typeof import('../src/index.js');
}
const tarball = join(dir, 'ref.tar');
execFileSync('git', ['archive', '--format=tar', '-o', tarball, ref, 'src'], { cwd: ROOT });
mkdirSync(join(dir, 'ref'), { recursive: true });
execFileSync('tar', ['-xf', tarball, '-C', join(dir, 'ref')]);
const builds = {
  ref: await packageOf(join(dir, 'ref', 'src'), 'ref'),
  tree: await packageOf(join(ROOT, 'src'), 'tree'),
};

// The verified browsers of bench/cases/guard-miss.ts; their cookies are written by this tree's jar.
process.env.BENCH_SRC = '1';
const { verifiedBrowsers } = await import('./verified-browsers.js');
const { SECRET } = await import('./apps.js');
const BROWSERS = 20_000;
const HOT = 5_000;
const { options, requests, values } = verifiedBrowsers(BROWSERS);

let passed = 0;
const next: NextFunction = (error?: unknown) => {
  if (error) throw error;
  passed++;
};
interface Pass {
  cpu: number;
  wall: number;
}
const timed = (calls: number, body: () => void) => (): Pass => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  body();
  const wall = ((performance.now() - t0) * 1000) / calls;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / calls, wall };
};
const missPass = (guard: RequestHandler) =>
  timed(BROWSERS, () => {
    for (let i = 0; i < BROWSERS; i++) guard(requests[i] as Request, refusingResponse, next);
  });
const hitPass = (guard: RequestHandler) =>
  timed(4 * HOT, () => {
    for (let k = 0; k < 4; k++)
      for (let i = 0; i < HOT; i++) guard(requests[i] as Request, refusingResponse, next);
  });
const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
let sink = 0;
const floor = (count: number, repeat: number) =>
  timed(count * repeat, () => {
    for (let k = 0; k < repeat; k++)
      for (let i = 0; i < count; i++)
        sink += createHmac('sha256', key)
          .update(values[i] as string)
          .digest('base64url').length;
  });

const names = (only ? [only] : ['ref', 'tree']) as (keyof typeof builds)[];
console.log(`ref ${ref} against this tree; load ${load()}`);
for (const [kind, count, repeat] of [
  ['miss', BROWSERS, 1],
  ['hit', HOT, 4],
] as const) {
  if (!kinds.includes(kind)) continue;
  const passes: Record<string, () => Pass> = { floor: floor(count, repeat) };
  for (const name of names) {
    const guard = builds[name].twoFactor({
      ...options,
      store: builds[name].memoryStore(),
    }).requireSecondFactor;
    passes[name] = kind === 'miss' ? missPass(guard) : hitPass(guard);
  }
  const order = Object.keys(passes);
  const times: Record<string, Pass[]> = Object.fromEntries(order.map((n) => [n, []]));
  for (const n of order) passes[n]?.(); // warm (a hit pass also fills its cache)
  for (let r = 0; r < rounds; r++)
    for (const n of r % 2 === 0 ? order : [...order].reverse()) times[n]?.push(passes[n]?.() as Pass);
  const ratio = (a: string, b: string, of: (p: Pass) => number) =>
    median((times[a] as Pass[]).map((x, i) => of(x) / of(times[b]?.[i] as Pass)));
  console.log(`${kind} (${count.toLocaleString('en-US')} browsers${repeat > 1 ? `, ×${repeat}` : ''}):`);
  for (const n of order) {
    const xs = times[n] as Pass[];
    const cpu = xs.map((p) => p.cpu);
    const wall = xs.map((p) => p.wall);
    const vs =
      names.length === 2 && n !== 'floor'
        ? `; ${ratio(n, 'ref', (p) => p.cpu).toFixed(3)}× ref by CPU, ${ratio(n, 'ref', (p) => p.wall).toFixed(3)}× by the clock`
        : '';
    console.log(
      `  ${n.padEnd(5)} CPU ${Math.min(...cpu).toFixed(2)} µs fastest, ${median(cpu).toFixed(2)} median; clock ` +
        `${Math.min(...wall).toFixed(2)} / ${median(wall).toFixed(2)}; ${ratio(n, 'floor', (p) => p.cpu).toFixed(2)}× ` +
        `the floor by CPU, ${ratio(n, 'floor', (p) => p.wall).toFixed(2)}× by the clock${vs}`,
    );
  }
}
if (sink === 0 || passed === 0) console.log('');
console.log(`load ${load()}`);
