// The write that makes a full memory store purge its stale entries while its table is resizing:
// how long it takes, ours against another src tree's, alternating (s10-lows).
//
//   BASE_SRC=<dir> node --expose-gc --import tsx bench/purge-write.ts [max] [rounds]
//
// Each round builds a store of `max` entries (the default 196,700 passes 3/4 of 262,144 slots at
// 196,609: the table starts growing, a few old slots moved per write), lets all but 1 % go stale,
// then times the one write that finds the store full and purges, and the `after` (default 5,000)
// new keys written after it: the slowest of them and all of them together (a purge in slices
// spreads its lap over them). Base and ours alternate (ABBA).
//
//   BASE_SRC=<dir> node --expose-gc --import tsx bench/purge-write.ts [max] [rounds] [after]
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { memoryStore as ours } from '../src/stores/memory-store.js';

if (!process.env.BASE_SRC) throw new Error('set BASE_SRC to the src tree to compare with');
const base: typeof ours = (await import(`${resolve(process.env.BASE_SRC)}/stores/memory-store.ts`))
  .memoryStore;
const max = Number(process.argv[2] ?? 196_700);
const rounds = Number(process.argv[3] ?? 6);
const after = Number(process.argv[4] ?? 5_000);

interface Round {
  /** The write that found the store full, ms. */
  first: number;
  /** The slowest of the `after` writes after it, ms. */
  slowest: number;
  /** The `after` writes after it, ms in all. */
  rest: number;
}

async function once(make: typeof ours): Promise<Round> {
  let time = 1_000;
  const store = make({ max, now: () => time });
  for (let i = 0; i < max; i++) await store.set(`k:${i}`, `value ${i}`, i % 100 === 0 ? 3_600_000 : 10_000);
  time += 10_000;
  (globalThis.gc as () => void)();
  const t0 = performance.now();
  await store.set('k:new', 'v', 3_600_000); // full: purges first
  const first = performance.now() - t0;
  let slowest = 0;
  const t1 = performance.now();
  for (let i = 0; i < after; i++) {
    const t = performance.now();
    await store.set(`k:after${i}`, 'v', 3_600_000);
    slowest = Math.max(slowest, performance.now() - t);
  }
  const rest = performance.now() - t1;
  // Every stale entry gone, or (a purge in slices) going: at most the live ones and the stale.
  if (store.size < Math.ceil(max / 100) + 1 + after || store.size > max)
    throw new Error(`size ${store.size}`);
  return { first, slowest, rest };
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
console.log(`# purge write, ${max} entries, ${rounds} rounds ABBA; load average ${load()}`);
const times = { base: [] as Round[], ours: [] as Round[] };
for (let round = 0; round < rounds; round++) {
  for (const which of round % 2 ? (['ours', 'base'] as const) : (['base', 'ours'] as const)) {
    times[which].push(await once(which === 'base' ? base : ours));
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
for (const which of ['base', 'ours'] as const) {
  const rs = times[which];
  for (const field of ['first', 'slowest', 'rest'] as const) {
    const xs = rs.map((r) => r[field]);
    console.log(`  ${which} ${field} ms: ${fmt(xs)} (median ${med(xs).toFixed(2)})`);
  }
}
console.log(
  `  per round ours / base, first write: ${fmt(times.ours.map((x, i) => x.first / (times.base[i] as Round).first))}; load average ${load()}`,
);
