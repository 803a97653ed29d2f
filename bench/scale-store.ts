// In-process evidence for the scale case: does the memory store's send + right-code verify cost, or
// the GC work per iteration, grow with the number of pending challenges?
//
//   node --expose-gc --import tsx bench/scale-store.ts ops          # one process, 1k and 1M stores alternating
//   node --expose-gc --import tsx bench/scale-store.ts gc 1000000   # one process per size: GC per iteration
//   node --expose-gc --import tsx bench/scale-store.ts stall 1000000 100000   # iterations timed one by one
//   BASE_SRC=<dir> node --expose-gc --import tsx bench/scale-store.ts ab 1000000  # base's store vs ours
//
// `BASE_SRC=<dir>`: the memoryStore of another src tree (e.g. main's, from
// `git archive main src | tar -x -C .scratch/main-src`, then BASE_SRC=.scratch/main-src/src): every
// mode but `ab` runs on it instead of ours (a before/after in two processes); `ab` runs both in one
// process, each seeded with the same number of challenges, alternating.
//
// An iteration is what a send and a right-code verify do to the store: a fresh challenge's four
// writes (`b:p:`, `c:`, `s:`, `r:`, the shapes the scale case records from the route), then
// `verifyAttempt` of it with the right hash (which consumes it). `gc` mode adds 24 KB of
// short-lived garbage per iteration (about what an HTTP verify allocates) and keeps the last 2,000
// challenges pending the way the pool does before a run, and reads V8's GC entries.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { type MemoryStore, memoryStore as ours } from '../src/stores/memory-store.js';
import type { Store, VerifyAttemptInput } from '../src/stores/store.js';

const base: typeof ours | undefined = process.env.BASE_SRC
  ? (await import(`${resolve(process.env.BASE_SRC)}/stores/memory-store.ts`)).memoryStore
  : undefined;
const memoryStore = base ?? ours;

const FIELDS = { length: 8, userId: 1, session: 2, hash: 3, expiresAt: 4, phone: 5 };
let serial = 0;
const b64 = (n: number) => randomBytes(n).toString('base64url').slice(0, n);

interface Challenge {
  id: string;
  user: string;
  hash: string;
  /** The budget and session pointer keys, deleted after the verify so the store keeps its size. */
  extra: string[];
}

/** One send's writes: the challenge record (~195 B), its state (58 B), the session pointer, the budget. */
async function send(store: Store, now: number): Promise<Challenge> {
  const id = `${b64(24)}{FPS}`;
  const user = `u${serial++}`;
  const hash = b64(43);
  const record = JSON.stringify([
    user,
    'sess',
    hash,
    now + 900_000,
    'phonehash0123456789',
    0,
    now,
    'x'.repeat(40),
  ]);
  const extra = [`b:p:${b64(16)}`, `r:{FPS}${b64(22)}`];
  await store.set(extra[0] as string, '1', 86_400_000);
  await store.set(`c:${id}`, record.padEnd(195, ' ').slice(0, 195).replace(/ +$/, ''), 900_000);
  await store.set(`s:${id}`, JSON.stringify([now, 1, b64(30)]), 900_000);
  await store.set(extra[1] as string, id, 60_000);
  return { id, user, hash, extra };
}

function verifyInput(c: Challenge, now: number): VerifyAttemptInput {
  return {
    keys: {
      lock: `l:${c.user}`,
      challenge: `c:${c.id}`,
      state: `s:${c.id}`,
      attempts: `a:${c.id}`,
      failures: `f:${c.user}`,
      failedAt: `t:${c.user}`,
    },
    challengeFields: FIELDS,
    userId: c.user,
    session: 'sess',
    phone: 'phonehash0123456789',
    hashes: [c.hash],
    now,
    maxAttempts: 5,
    lockout: { threshold: 5, baseMs: 1000, maxDelayMs: 60_000, hardLimit: 20 },
    failureTtlMs: 86_400_000,
  };
}

async function seed(store: Store, count: number) {
  const now = Date.now();
  for (let i = 0; i < count; i++) await send(store, now);
}

const sink: unknown[] = [];
/** About 24 KB of short-lived objects and strings, as one HTTP request's parsing and answering leaves. */
function garbage() {
  const list: unknown[] = [];
  for (let i = 0; i < 120; i++) list.push({ i, s: `header-${i}-${serial}`, a: [i, i + 1] });
  sink[serial & 7] = list;
}

async function iterations(store: Store, count: number, pending: Challenge[], withGarbage: boolean) {
  for (let i = 0; i < count; i++) {
    const now = Date.now();
    pending.push(await send(store, now));
    const c = pending.shift() as Challenge;
    const result = await store.verifyAttempt?.(verifyInput(c, now));
    if (result?.outcome !== 'right') throw new Error(`verify: ${result?.outcome}`);
    for (const key of c.extra) await store.delete(key);
    if (withGarbage) garbage();
  }
}

/**
 * Two stores, `small` and `big`, seeded with `sizes` challenges each, then 20 rounds of 5,000
 * iterations on each in turn (ABBA): the median µs per iteration of each, and the median of the
 * rounds' ratios small over big.
 */
async function paired(small: MemoryStore, big: MemoryStore, sizes: [number, number]) {
  await seed(small, sizes[0]);
  await seed(big, sizes[1]);
  const pendings = new Map<Store, Challenge[]>([
    [small, []],
    [big, []],
  ]);
  for (const [store, list] of pendings)
    for (let i = 0; i < 2000; i++) list.push(await send(store, Date.now()));
  (globalThis.gc as () => void)();
  const times = new Map<Store, number[]>([
    [small, []],
    [big, []],
  ]);
  for (let round = 0; round < 20; round++) {
    for (const store of round % 2 ? [big, small] : [small, big]) {
      const t0 = process.hrtime.bigint();
      await iterations(store, 5_000, pendings.get(store) as Challenge[], false);
      times.get(store)?.push(Number(process.hrtime.bigint() - t0) / 5_000 / 1000);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
  const [s, b] = [med(times.get(small) as number[]), med(times.get(big) as number[])];
  const ratios = (times.get(small) as number[]).map(
    (x, i) => x / ((times.get(big) as number[])[i] as number),
  );
  return { small: s, big: b, ratio: med(ratios), sizes: [small.size, big.size] };
}

async function opsMode() {
  const max = 6_000_000;
  const { small, big, ratio, sizes } = await paired(
    memoryStore({ max }),
    memoryStore({ max }),
    [1_000, 1_000_000],
  );
  console.log(
    JSON.stringify({
      mode: 'ops',
      usPerIteration1k: +small.toFixed(2),
      usPerIteration1M: +big.toFixed(2),
      medianRatio1kOver1M: +ratio.toFixed(3),
      sizes,
    }),
  );
}

/** `BASE_SRC`'s store against ours, both at `pending`. */
async function abMode(pending: number) {
  if (!base) throw new Error('ab: set BASE_SRC to the src tree to compare with');
  const max = 6_000_000;
  const { small, big, ratio, sizes } = await paired(base({ max }), ours({ max }), [pending, pending]);
  console.log(
    JSON.stringify({
      mode: 'ab',
      base: process.env.BASE_SRC,
      pending,
      usPerIterationBase: +small.toFixed(2),
      usPerIterationOurs: +big.toFixed(2),
      medianRatioBaseOverOurs: +ratio.toFixed(3),
      sizes,
    }),
  );
}

/** A store seeded with `pending` challenges, and 2,000 live ones the iterations verify. */
async function seededWithLive(pending: number) {
  const store = memoryStore({ max: 6_000_000 });
  await seed(store, pending);
  const live: Challenge[] = [];
  for (let i = 0; i < 2000; i++) live.push(await send(store, Date.now()));
  return { store, live };
}

async function gcMode(pending: number) {
  const { store, live } = await seededWithLive(pending);
  (globalThis.gc as () => void)();
  (globalThis.gc as () => void)();
  await new Promise((resolve) => setTimeout(resolve, 3000)); // the sweeper's tail after gc()
  const byKind: Record<string, { count: number; ms: number }> = {};
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = String((entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? '?');
      const name = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' }[kind] ?? kind;
      byKind[name] ??= { count: 0, ms: 0 };
      const slot = byKind[name];
      slot.count++;
      slot.ms += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const n = Number(process.argv[4] ?? 200_000);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  // In slices, so the observer's callbacks run.
  for (let done = 0; done < n; done += 10_000) {
    await iterations(store, 10_000, live, true);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  const gcMs = Object.values(byKind).reduce((sum, k) => sum + k.ms, 0);
  console.log(
    JSON.stringify({
      mode: 'gc',
      pending,
      entries: store.size,
      heapMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
      wallUsPerIteration: +(wall / n).toFixed(2),
      cpuUsPerIteration: +((cpu.user + cpu.system) / n).toFixed(2),
      gcPauseUsPerIteration: +((gcMs * 1000) / n).toFixed(2),
      byKind,
    }),
  );
}

/** One store of `pending`, iterations only (no garbage): for a CPU profile of one size. */
async function oneMode(pending: number) {
  const { store, live } = await seededWithLive(pending);
  (globalThis.gc as () => void)();
  const t0 = process.hrtime.bigint();
  await iterations(store, 100_000, live, false);
  console.log(JSON.stringify({ mode: 'one', pending, us: Number(process.hrtime.bigint() - t0) / 1e8 }));
}

/** The store's writes and verifies timed one by one into `times` (µs), from `times.length` on. */
function timed(store: Store, times: number[]): Store {
  const time =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const t0 = process.hrtime.bigint();
      const result = method(...args); // the memory store's work is done before its promise is returned
      times.push(Number(process.hrtime.bigint() - t0) / 1000);
      return result;
    };
  return {
    ...store,
    set: time(store.set.bind(store)),
    delete: time(store.delete.bind(store)),
    verifyAttempt: time((store.verifyAttempt as NonNullable<Store['verifyAttempt']>).bind(store)),
  };
}

const heap = () => {
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapMB: +(heapUsed / 2 ** 20).toFixed(1), arrayBuffersMB: +(arrayBuffers / 2 ** 20).toFixed(1) };
};

/** Percentiles of `xs` (sorted in place), rounded. */
function spread(xs: number[]) {
  xs.sort((a, b) => a - b);
  const at = (q: number) => +(xs[Math.min(xs.length - 1, Math.floor(q * xs.length))] as number).toFixed(1);
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1) };
}

/**
 * One store of `pending`, then iterations timed one by one, and each store call in them: the
 * slowest, percentiles, how many iterations took over 10 ms (a full rehash moved every entry
 * inside one write), with the iteration each came at; heap (after a GC) before and after; the
 * iterations at which the table's tags (ArrayBuffers, sampled every 1,000) grew: a resize began.
 */
async function stallMode(pending: number, count: number) {
  const { store, live } = await seededWithLive(pending);
  (globalThis.gc as () => void)();
  const heapBefore = heap();
  const ops: number[] = [];
  const timedStore = timed(store, ops);
  // GC pauses over 10 ms in the same window, to tell them from the table's own stalls.
  const pauses: number[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (entry.duration > 10) pauses.push(+entry.duration.toFixed(1));
  });
  observer.observe({ entryTypes: ['gc'] });
  const slow: { at: number; ms: number }[] = [];
  const perIteration: number[] = [];
  const tagsGrew: number[] = [];
  let buffers = process.memoryUsage().arrayBuffers;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await iterations(timedStore, 1, live, false);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    total += ms;
    perIteration.push(ms * 1000);
    if (ms > 10) slow.push({ at: i, ms: +ms.toFixed(1) });
    if (i % 1000 === 0) {
      const now = process.memoryUsage().arrayBuffers;
      if (now > buffers + 2 ** 20) tagsGrew.push(i);
      buffers = now;
    }
    if (i % 10_000 === 0) await new Promise((resolve) => setImmediate(resolve)); // the observer's callbacks
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  observer.disconnect();
  (globalThis.gc as () => void)();
  console.log(
    JSON.stringify({
      mode: 'stall',
      src: process.env.BASE_SRC ?? 'src',
      pending,
      entries: store.size,
      iterations: count,
      meanUs: +((total * 1000) / count).toFixed(2),
      iterationUs: spread(perIteration),
      storeCalls: ops.length,
      storeCallUs: spread(ops),
      over10ms: slow.length,
      slowest: slow.sort((x, y) => y.ms - x.ms).slice(0, 5),
      gcPausesOver10ms: pauses.sort((x, y) => y - x).slice(0, 5),
      tagsGrewAt: tagsGrew,
      heapBefore,
      heapAfter: heap(),
    }),
  );
}

const [mode, arg, extra] = process.argv.slice(2);
if (mode === 'gc') await gcMode(Number(arg ?? 1000));
else if (mode === 'one') await oneMode(Number(arg ?? 1000));
else if (mode === 'ab') await abMode(Number(arg ?? 1_000_000));
else if (mode === 'stall') await stallMode(Number(arg ?? 1_000_000), Number(extra ?? 100_000));
else await opsMode();
