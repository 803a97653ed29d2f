// The package's sources through tsx (what the bench servers ran up to the seventh session) against
// its build (tsup, what users run), interleaved, on the cases of issue 14:
//   node --import tsx bench/dist-ab.ts [--quick] [--only=names,guard-miss,verify,guard]
// names: how many `__name` wrappers (tsx's keepNames) each request kind runs, src minus dist.
// guard-miss: both packages in this one process, their guards' passes alternating (ABBA).
// verify, guard: one server per package (same bench/server.ts, same app, same config), their
// variants interleaved in the same rounds (bench/measure.ts); ratios per round, median and range.
import { type ChildProcess, fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { NextFunction, Request } from 'express';
import { VERIFY_NAMES, type VerifyKind, verifyVariant } from './cases/verify.js';
import { buildPackage, type Server, startServer } from './child.js';
import { call, verifiedUser } from './client.js';
import { refusingResponse } from './guard-cost.js';
import { measure, median, type Settings, type Summary, type Variant } from './measure.js';
import type { PackageKind } from './pkg.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = (args.find((a) => a.startsWith('--only='))?.slice(7) ?? 'names,guard-miss,verify,guard').split(
  ',',
);
const settings: Settings = quick
  ? { runs: 8, seconds: 0.5, warmupSeconds: 1, connections: 10 }
  : { runs: 12, seconds: 1, warmupSeconds: 3, connections: 10 };
const KINDS: PackageKind[] = ['src', 'dist'];
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const range = (values: number[]) =>
  `${median(values).toFixed(3)} [${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}]`;

const CHILD = args.find((a) => a.startsWith('--child='));
if (CHILD === '--child=guard-miss') {
  await guardMissChild();
} else if (CHILD === '--child=names') {
  await namesChild();
} else {
  buildPackage();
  console.log(`src (tsx) vs dist (bench/dist/, tsup ESM); load average ${load()}`);
}

/** dist/src per round: requests per second and CPU µs per request, paired by round index. */
function perRound(src: Summary, dist: Summary) {
  const n = Math.min(src.runs.length, dist.runs.length);
  const rps: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = src.runs[i];
    const b = dist.runs[i];
    if (!a || !b) continue;
    rps.push(b.rps / a.rps);
    cpu.push(b.cpuUs / a.cpuUs);
  }
  return { rps, cpu };
}

function report(summaries: Map<string, Summary>, names: string[], bare: string) {
  for (const name of names) {
    const src = summaries.get(`src ${name}`) as Summary;
    const dist = summaries.get(`dist ${name}`) as Summary;
    const { rps, cpu } = perRound(src, dist);
    const vsBare = (kind: PackageKind) => {
      const v = summaries.get(`${kind} ${name}`) as Summary;
      const b = summaries.get(`${kind} ${bare}`) as Summary;
      return median(v.runs.map((r, i) => r.rps / (b.runs[i]?.rps ?? Number.NaN)));
    };
    console.log(
      `  ${name}: src ${Math.round(src.rps)}/s ${Math.round(src.cpuUs)} µs, dist ${Math.round(dist.rps)}/s ${Math.round(dist.cpuUs)} µs; ` +
        `dist/src req/s ${range(rps)}, CPU/req ${range(cpu)}` +
        (name === bare
          ? ''
          : `; vs ${bare}: src ${vsBare('src').toFixed(3)}×, dist ${vsBare('dist').toFixed(3)}×`) +
        (src.unexpected + dist.unexpected ? ` (${src.unexpected + dist.unexpected} unexpected)` : ''),
    );
  }
}

async function servers(label: string, config: Parameters<typeof startServer>[1]) {
  const out = {} as Record<PackageKind, Server>;
  for (const pkg of KINDS) {
    const server = await startServer(`${label}-${pkg}`, config, { pkg });
    if (server.ready.package !== pkg) throw new Error(`${label}-${pkg} runs ${String(server.ready.package)}`);
    out[pkg] = server;
  }
  return out;
}

/** A guard-miss process (`--child`): the package from bench/pkg.ts (BENCH_SRC), passes on request. */
async function guardMissChild() {
  // Imported here, after the parent built bench/dist/ (both load ./pkg.js, which needs it).
  const { twoFactor } = await import('./pkg.js');
  const { verifiedBrowsers } = await import('./verified-browsers.js');
  const browsers = 20_000;
  // The cookies from the middleware's own jar (internal, src, setup only), as bench/cases/guard-miss.ts.
  const { options, requests } = verifiedBrowsers(browsers);
  const guard = twoFactor(options).requireSecondFactor;
  let passed = 0;
  const res = refusingResponse;
  const next: NextFunction = (error?: unknown) => {
    if (error) throw error;
    passed++;
  };
  // CPU time of this process (user + system), not wall time: another helper's load on the two
  // cores takes the CPU away between slices but does not count here.
  const cpuNow = () => {
    const { user, system } = process.cpuUsage();
    return user + system;
  };
  const missPass = () => {
    const t0 = cpuNow();
    for (let i = 0; i < browsers; i++) guard(requests[i] as Request, res, next);
    return (cpuNow() - t0) / browsers;
  };
  const hitPass = () => {
    for (let i = 0; i < 5000; i++) guard(requests[i] as Request, res, next);
    const t0 = cpuNow();
    for (let k = 0; k < 8; k++) for (let i = 0; i < 5000; i++) guard(requests[i] as Request, res, next);
    return (cpuNow() - t0) / 40_000;
  };
  missPass();
  process.on('message', () => {
    const before = passed;
    const miss = missPass();
    const hit = hitPass();
    if (passed - before !== browsers + 45_000) throw new Error(`${passed - before} passed`);
    process.send?.({ miss, hit });
  });
  process.send?.({ ready: true });
}

/** Two processes, one per package, each with its own guard and browsers; their passes alternate (ABBA). */
async function guardMiss() {
  const children = {} as Record<PackageKind, ChildProcess>;
  const next = (child: ChildProcess) =>
    new Promise<{ miss: number; hit: number; ready?: boolean }>((resolve) =>
      child.once('message', resolve as never),
    );
  for (const pkg of KINDS) {
    const child = fork(fileURLToPath(import.meta.url), ['--child=guard-miss'], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_SRC: pkg === 'src' ? '1' : '0' },
    });
    await next(child);
    children[pkg] = child;
  }
  const miss: Record<PackageKind, number[]> = { src: [], dist: [] };
  const hit: Record<PackageKind, number[]> = { src: [], dist: [] };
  const rounds = quick ? 8 : 16;
  for (let round = 0; round < rounds; round++) {
    for (const pkg of round % 2 === 0 ? KINDS : [...KINDS].reverse()) {
      const answer = next(children[pkg]);
      children[pkg].send('pass');
      const { miss: m, hit: h } = await answer;
      miss[pkg].push(m);
      hit[pkg].push(h);
    }
  }
  for (const child of Object.values(children)) child.kill();
  const ratios = (a: number[], b: number[]) => a.map((x, i) => (b[i] as number) / x);
  console.log(
    `# guard-miss (one process per package, 20 000 browsers, ${rounds} ABBA rounds, CPU µs per call; load average ${load()})\n` +
      `  miss: src min ${Math.min(...miss.src).toFixed(2)} / median ${median(miss.src).toFixed(2)} µs, ` +
      `dist min ${Math.min(...miss.dist).toFixed(2)} / median ${median(miss.dist).toFixed(2)} µs; dist/src ${range(ratios(miss.src, miss.dist))}\n` +
      `  hit: src min ${Math.min(...hit.src).toFixed(2)} / median ${median(hit.src).toFixed(2)} µs, ` +
      `dist min ${Math.min(...hit.dist).toFixed(2)} / median ${median(hit.dist).toFixed(2)} µs; dist/src ${range(ratios(hit.src, hit.dist))}`,
  );
}

/**
 * A names process (`--child=names`): counts `Object.defineProperty(fn, 'name', …)` calls (what
 * esbuild's keepNames `__name(fn, "name")` does each time a closure is created) per request of each
 * kind, on an in-process app of bench/apps.ts. The count is patched in before the package loads;
 * the fetch client in this process (Node's bundled undici) adds the same calls in both packages.
 */
async function namesChild() {
  const define = Object.defineProperty;
  let count = 0;
  Object.defineProperty = ((target: object, key: PropertyKey, descriptor: PropertyDescriptor) => {
    if (key === 'name' && typeof target === 'function') count++;
    return define(target, key, descriptor);
  }) as typeof Object.defineProperty;
  const { benchMemoryStore, buildApp, codeTransport, phoneOf } = await import('./apps.js');
  const codes = new Map<string, string>();
  const { app } = buildApp({
    auth: 'session',
    store: benchMemoryStore(100_000),
    transport: codeTransport(codes),
    codes,
    onError: (what) => console.error(what),
  });
  const http = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => http.once('listening', resolve));
  const url = `http://127.0.0.1:${(http.address() as { port: number }).port}`;
  let cookie = '';
  const counts: Record<string, number[]> = {};
  const request = async (kind: string, method: string, path: string, body?: unknown) => {
    const before = count;
    const res = await fetch(url + path, {
      method,
      headers: { cookie, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const jar = new Map(cookie ? cookie.split('; ').map((p) => p.split('=', 2) as [string, string]) : []);
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';', 1)[0] ?? '';
      jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
    cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    await res.text();
    const key = `${kind} ${res.status}`;
    counts[key] = [...(counts[key] ?? []), count - before];
  };
  for (let u = 0; u < 6; u++) {
    cookie = '';
    await request('login', 'POST', `/login?u=${u}`);
    await request('bare JSON POST', 'POST', '/echo', { code: '123456' });
    await request('send', 'POST', '/2fa/send', {});
    const code = codes.get(phoneOf(u)) ?? '';
    const wrong = code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
    if (u % 2 === 0) {
      for (let k = 0; k < 10; k++) await request('verify wrong', 'POST', '/2fa/verify', { code: wrong });
      await request('verify refused', 'POST', '/2fa/verify', { code: wrong });
    } else {
      await request('verify right', 'POST', '/2fa/verify', { code });
      await request('guarded GET', 'GET', '/guarded');
      await request('bare GET', 'GET', '/bare');
    }
  }
  http.close();
  // The steady count: the last request of each kind (the first of a kind may create its caches).
  process.send?.(Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v[v.length - 1]])));
}

/** The names each request kind creates, src against dist (deterministic: no timing). */
async function names() {
  const counts = {} as Record<PackageKind, Record<string, number>>;
  for (const pkg of KINDS) {
    const child = fork(fileURLToPath(import.meta.url), ['--child=names'], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, BENCH_SRC: pkg === 'src' ? '1' : '0' },
    });
    counts[pkg] = await new Promise((resolve) => child.once('message', resolve as never));
    child.kill();
  }
  console.log("# names: __name calls per request, src minus dist (the package's own share)");
  for (const [kind, n] of Object.entries(counts.src)) {
    console.log(`  ${kind}: ${n - (counts.dist[kind] ?? Number.NaN)} (src ${n}, dist ${counts.dist[kind]})`);
  }
}

async function verify() {
  const config = { kind: 'app', auth: 'session', store: 'memory', transport: 'codes' } as const;
  const both = await servers('verify', config);
  try {
    const variants: Variant[] = [];
    const kinds: VerifyKind[] = ['bare', 'wrong', 'refused', 'right'];
    for (const kind of kinds) {
      for (const pkg of KINDS) {
        variants.push(await verifyVariant(`${pkg} ${VERIFY_NAMES[kind]}`, both[pkg], kind, '/2fa'));
      }
    }
    const summaries = await measure(variants, settings, () => {});
    console.log(`# verify (memory store, session; load average ${load()})`);
    report(
      summaries,
      kinds.map((k) => VERIFY_NAMES[k]),
      VERIFY_NAMES.bare,
    );
  } finally {
    for (const s of Object.values(both)) await s.stop();
  }
}

async function guard() {
  const config = { kind: 'app', auth: 'session', store: 'memory', transport: 'memory' } as const;
  const both = await servers('guard', config);
  try {
    const variants: Variant[] = [];
    const browsers = {} as Record<PackageKind, Awaited<ReturnType<typeof verifiedUser>>>;
    for (const pkg of KINDS) {
      const server = both[pkg];
      const browser = await verifiedUser(server);
      browsers[pkg] = browser;
      const marked = await call(server, browser.jar, 'POST', '/__bench/mark');
      if (marked.status !== 204) throw new Error(`mark answered ${marked.status}`);
      for (const [name, path] of [
        ['bare route', '/bare'],
        ['requireSecondFactor', '/guarded'],
      ] as const) {
        const fixed = { cookie: browser.jar.header(), body: '' };
        variants.push({ name: `${pkg} ${name}`, server, method: 'GET', path, fixed, expect: 200 });
      }
    }
    const summaries = await measure(variants, settings, () => {});
    console.log(`# guard (verified GET, session; load average ${load()})`);
    report(summaries, ['bare route', 'requireSecondFactor'], 'bare route');
    // The in-process cost on real requests (bench/guard-cost.ts), each server in turn, twice.
    const own: Record<PackageKind, number[]> = { src: [], dist: [] };
    for (const order of [KINDS, [...KINDS].reverse(), KINDS, [...KINDS].reverse()]) {
      for (const pkg of order) {
        const cost = await both[pkg].request<{ ownUs: number }>('guardcost', {
          cookie: browsers[pkg].jar.header(),
          user: browsers[pkg].user,
        });
        own[pkg].push(cost.ownUs);
      }
    }
    console.log(
      `  in-process guard cost on real requests: src ${own.src.map((v) => v.toFixed(2)).join('/')} µs, ` +
        `dist ${own.dist.map((v) => v.toFixed(2)).join('/')} µs`,
    );
  } finally {
    for (const s of Object.values(both)) await s.stop();
  }
}

const CASES: Record<string, () => Promise<void>> = { names, 'guard-miss': guardMiss, verify, guard };
if (!CHILD) {
  for (const name of only) {
    const run = CASES[name];
    if (!run) throw new Error(`unknown case ${name}`);
    await run();
  }
  console.log(`load average at the end ${load()}`);
  process.exit(0);
}
