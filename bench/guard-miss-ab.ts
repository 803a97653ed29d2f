// The claim check of the guard (the cookie jar's readVerified) at a git ref against this tree, in one
// process, passes alternating: a miss (20 000 browsers cycling through the 10 000-entry cache) and a
// hit (5 000 browsers, cached), each paired with a createHmac floor in the same round.
// Usage: npx tsx bench/guard-miss-ab.ts [--ref=main] [--rounds=31]
// Prints per case: CPU µs per call (fastest and median pass), the median per-round ratio of this
// tree over the ref, and each over the floor (CPU time: the other processes on a shared machine
// move it less than the clock).
import { execFileSync } from 'node:child_process';
import { createHmac, createSecretKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Request } from 'express';
import { createCookieJar } from '../src/cookie.js';
import { parseOptions } from '../src/options.js';
import { median } from './measure.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const ref = arg('ref', 'main');
const rounds = Number(arg('rounds', '31'));

// The ref's cookie.ts and verified-claim.ts, importing everything else from this tree's src/.
const dir = join(ROOT, 'tmp', `guard-miss-ab-${process.pid}`);
mkdirSync(dir, { recursive: true });
for (const file of ['cookie.ts', 'verified-claim.ts']) {
  const text = execFileSync('git', ['show', `${ref}:src/${file}`], { cwd: ROOT, encoding: 'utf8' })
    .replace(/from '\.\/verified-claim\.js'/g, "from './verified-claim.ts'")
    .replace(
      /from '\.\/(?!verified-claim\.ts)([^']+)'/g,
      (_, path: string) => `from '${pathToFileURL(join(ROOT, 'src', path)).href}'`,
    );
  writeFileSync(join(dir, file), text);
}
const old = (await import(pathToFileURL(join(dir, 'cookie.ts')).href)) as typeof import('../src/cookie.js');

const browsers = 20_000;
const hot = 5_000;
// The verified browsers of bench/cases/guard-miss.ts (bench/verified-browsers.ts), from src: this A/B
// times the sources (bench/pkg.ts, which apps.ts and verified-browsers.ts load, is src's here too).
process.env.BENCH_SRC = '1';
const { verifiedBrowsers } = await import('./verified-browsers.js');
const { SECRET } = await import('./apps.js');
const { options, users, requests, values } = verifiedBrowsers(browsers);
const config = parseOptions(options);

const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
let sink = 0;
const cpuOf = (calls: number, body: () => void) => {
  const t0 = process.cpuUsage();
  body();
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / calls;
};
const floor = (count: number) => () =>
  cpuOf(count, () => {
    for (let i = 0; i < count; i++)
      sink += createHmac('sha256', key)
        .update(values[i] as string)
        .digest('base64url').length;
  });
const reads = (jar: ReturnType<typeof createCookieJar>, count: number, repeat: number) => () =>
  cpuOf(count * repeat, () => {
    for (let k = 0; k < repeat; k++)
      for (let i = 0; i < count; i++) {
        if (jar.readVerified(requests[i] as Request, users[i] as never) === null) throw new Error('refused');
        sink++;
      }
  });

for (const [name, count, repeat] of [
  ['miss', browsers, 1],
  ['hit', hot, 4],
] as const) {
  const passes = {
    floor: floor(count),
    [ref]: reads(old.createCookieJar(config), count, repeat),
    tree: reads(createCookieJar(config), count, repeat),
  };
  const names = Object.keys(passes);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const n of names) passes[n]?.(); // warm (a hit pass also fills its cache)
  for (let r = 0; r < rounds; r++)
    for (const n of r % 2 === 0 ? names : [...names].reverse()) times[n]?.push(passes[n]?.() as number);
  const ratio = (a: string, b: string) =>
    median((times[a] as number[]).map((x, i) => x / (times[b]?.[i] as number)));
  console.log(`${name} (${count.toLocaleString('en-US')} browsers${repeat > 1 ? `, ×${repeat}` : ''}):`);
  for (const n of names) {
    const xs = times[n] as number[];
    console.log(
      `  ${n.padEnd(8)} CPU ${Math.min(...xs).toFixed(2)} µs fastest, ${median(xs).toFixed(2)} median; ` +
        `${ratio(n, 'floor').toFixed(2)}× the floor; ${ratio(n, ref).toFixed(2)}× ${ref}`,
    );
  }
}
if (sink === 0) console.log('');
