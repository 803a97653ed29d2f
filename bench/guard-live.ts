// The guard's cost in live HTTP traffic, and an old/new A/B of it in one server process.
// One Express app (express-session in front, as in the guard case), a verified browser, and routes
// that differ only in their one middleware: `/bare` (a pass-through), `/a` and `/b` (the guards of
// two src trees, e.g. a `git archive` of main's and this one, on the same secret and cookie name),
// `/flag` (the hand-rolled session flag). Each middleware is timed where it runs, between its call
// and its `next` (performance.now), on every live request; the server's CPU per request is read
// per block. autocannon runs in a child process; the routes take turns in short blocks, the order
// reversed every other round, so the machine's load drifts alike for all.
// Usage: node --import tsx bench/guard-live.ts <srcA> <srcB> [--rounds=8] [--seconds=2] [--connections=10]
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import session from 'express-session';
import type * as Index from '../src/index.js';
import type * as Testing from '../src/testing/index.js';

const args = process.argv.slice(2);
const trees = args.filter((a) => !a.startsWith('--'));
const opt = (name: string, def: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const rounds = Number(opt('rounds', '8'));
const seconds = Number(opt('seconds', '2'));
const connections = Number(opt('connections', '10'));
if (trees.length !== 2) throw new Error('usage: guard-live.ts <srcA> <srcB>');

const load = async (tree: string) => ({
  index: (await import(resolve(tree, 'index.ts'))) as typeof Index,
  testing: (await import(resolve(tree, 'testing/index.ts'))) as typeof Testing,
});
const [A, B] = [await load(trees[0] as string), await load(trees[1] as string)] as const;

declare module 'express-session' {
  interface SessionData {
    user?: { id: string; phone: string };
    twoFactorOk?: boolean;
  }
}

const transport = A.index.memoryTransport();
const options = (lib: typeof Index): Index.TwoFactorOptions => ({
  secret: 'bench-secret-that-is-long-enough-0123456789',
  getUser: (req) => {
    const user = req.session.user;
    return user ? { id: user.id, phone: user.phone, sessionId: req.sessionID } : null;
  },
  transport,
  store: lib.memoryStore({ max: 10_000 }),
  allowedCountries: ['BE'],
  warnings: { memoryStore: false },
  // --remember: rememberDevice on, as the guard case's second process.
  ...(args.includes('--remember') ? { rememberDevice: {} } : {}),
});
const tfaA = A.index.twoFactor(options(A.index));
const tfaB = B.index.twoFactor(options(B.index));

/** Per route: µs inside its middleware on each live request (call to `next`). */
const inside = new Map<string, number[]>();
function timed(name: string, handler: RequestHandler): RequestHandler {
  const samples: number[] = [];
  inside.set(name, samples);
  return (req, res, next) => {
    const t0 = performance.now();
    handler(req, res, (error?: unknown) => {
      samples.push((performance.now() - t0) * 1000);
      next(error);
    });
  };
}
const pass: RequestHandler = (_req, _res, next) => next();
const flag: RequestHandler = (req, res, next) => {
  if (!req.session.twoFactorOk) {
    res.sendStatus(401);
    return;
  }
  next();
};

const app = express();
app.disable('x-powered-by');
app.use(
  session({ secret: 'bench-session-secret-0123456789-abcdefghij', resave: false, saveUninitialized: false }),
);
app.post('/login', (req, res) => {
  req.session.user = { id: 'u1', phone: '+32470000001' };
  req.session.twoFactorOk = true;
  res.send('ok');
});
// Each tree's guard behind its own router (the mount stamps every request that passes): `/b` and
// `/bareB` through tree b's, everything else (the flow, `/bare`, `/a`, `/flag`) through tree a's.
app.use((req, res, next) => (req.url === '/b' || req.url === '/bareB' ? tfaB : tfaA)(req, res, next));
const ok = (_req: Request, res: Response) => {
  res.json({ ok: true });
};
// With --parts: the guard's steps alone, from tree b (what each costs on a live request).
const parts = args.includes('--parts')
  ? await (async () => {
      const { readCookie } = (await import(
        resolve(trees[1] as string, 'cookie.ts')
      )) as typeof import('../src/cookie.js');
      const { isHttps } = (await import(
        resolve(trees[1] as string, 'request-scheme.ts')
      )) as typeof import('../src/request-scheme.js');
      const getUser = options(B.index).getUser as (req: Request) => unknown;
      let sink = 0;
      return {
        user: ((req, _res, next) => {
          sink += getUser(req) ? 1 : 0;
          next();
        }) as RequestHandler,
        scheme: ((req, _res, next) => {
          sink += isHttps(req) ? 1 : 0;
          next();
        }) as RequestHandler,
        cookie: ((req, _res, next) => {
          sink += readCookie(req, '2fa')?.length ?? 0;
          next();
        }) as RequestHandler,
        prop: ((req, _res, next) => {
          req.secondFactor = { verifiedAt: sink, method: 'sms' };
          next();
        }) as RequestHandler,
      };
    })()
  : {};
const ROUTES = {
  bare: pass,
  a: tfaA.requireSecondFactor,
  bareB: pass,
  b: tfaB.requireSecondFactor,
  flag,
  ...parts,
} as Record<string, RequestHandler>;
for (const [name, handler] of Object.entries(ROUTES)) app.get(`/${name}`, timed(name, handler), ok);
app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
  console.error(error);
  res.status(500).end();
});

const server = app.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// One verified browser through the real flow.
const cookies = new Map<string, string>();
const header = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
async function call(method: string, path: string, body?: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { cookie: header(), ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  for (const line of res.headers.getSetCookie()) {
    const [pair = ''] = line.split(';', 1);
    const eq = pair.indexOf('=');
    if (/expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq));
    else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
  }
  return res.status;
}
await call('POST', '/login');
await call('POST', '/2fa/send', {});
const code = transport.lastCode('+32470000001');
if ((await call('POST', '/2fa/verify', { code, remember: args.includes('--remember') })) !== 200)
  throw new Error('verify failed');
for (const name of Object.keys(ROUTES)) {
  if ((await call('GET', `/${name}`)) !== 200) throw new Error(`/${name} refused the verified browser`);
}

/** autocannon in a child process: requests answered 2xx in `secs` seconds. */
function blast(path: string, secs: number): Promise<number> {
  return new Promise((done, fail) => {
    const child = spawn(
      resolve('node_modules/.bin/autocannon'),
      ['-j', '-c', String(connections), '-d', String(secs), '-H', `cookie=${header()}`, base + path],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', fail);
    child.on('close', () => {
      const r = JSON.parse(out) as { '2xx': number; non2xx: number };
      if (r.non2xx) fail(new Error(`${path}: ${r.non2xx} non-2xx`));
      else done(r['2xx']);
    });
  });
}

// GC time per route: each collection is charged to the block running when it ended (major: kind 2).
let current = '';
const gcMs = new Map<string, { minor: number; major: number }>();
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    const g = gcMs.get(current);
    if (!g) continue;
    if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) g.major += entry.duration;
    else g.minor += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });
const names = Object.keys(ROUTES);
for (const name of names) gcMs.set(name, { minor: 0, major: 0 });
for (const name of names) await blast(`/${name}`, 1); // warm-up
for (const s of inside.values()) s.length = 0;
const cpu = new Map<string, number[]>(names.map((n) => [n, []]));
const served = new Map<string, number>();
for (const g of gcMs.values()) Object.assign(g, { minor: 0, major: 0 });
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? names : [...names].reverse();
  for (const name of order) {
    current = name;
    const c0 = process.cpuUsage();
    const count = await blast(`/${name}`, seconds);
    const c1 = process.cpuUsage(c0);
    cpu.get(name)?.push((c1.user + c1.system) / count);
    served.set(name, (served.get(name) ?? 0) + count);
    current = '';
  }
}
server.close();

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
/** The tail of the time inside a middleware: its percentiles, and the share of its sum above p99. */
const tail = (xs: number[]) => {
  const sorted = [...xs].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  const sum = sorted.reduce((s, x) => s + x, 0);
  const p99 = at(0.99);
  const above = sorted.filter((x) => x > p99).reduce((s, x) => s + x, 0);
  return `p90 ${at(0.9).toFixed(1)}, p99 ${p99.toFixed(1)}, p99.9 ${at(0.999).toFixed(1)} µs, ${((100 * above) / sum).toFixed(0)} % of the sum above p99`;
};
const bareCpu = median(cpu.get('bare') ?? []);
console.log(
  `trees: a = ${trees[0]}, b = ${trees[1]}; ${rounds} rounds × ${seconds} s, ${connections} connections`,
);
for (const name of names) {
  const xs = inside.get(name) ?? [];
  const c = cpu.get(name) ?? [];
  console.log(
    `${name.padEnd(5)} inside: median ${median(xs).toFixed(2)} µs, mean ${mean(xs).toFixed(2)} µs (${xs.length} requests; ${tail(xs)}); ` +
      `server CPU/req median ${median(c).toFixed(1)} µs → ${(bareCpu / median(c)).toFixed(3)}× bare; ` +
      `paired by round ${median(c.map((x, i) => (cpu.get('bare')?.[i] ?? Number.NaN) / x)).toFixed(3)}×; ` +
      `GC µs/req: minor ${(((gcMs.get(name)?.minor ?? 0) * 1000) / (served.get(name) ?? 1)).toFixed(1)}, major ${(((gcMs.get(name)?.major ?? 0) * 1000) / (served.get(name) ?? 1)).toFixed(1)}`,
  );
}
// Each tree's guard over the bare route behind the same tree's router, paired by round.
const over = (route: string, base: string) =>
  median((cpu.get(route) ?? []).map((x, i) => (cpu.get(base)?.[i] ?? Number.NaN) / x));
console.log(
  `CPU/req paired: a over bare ${over('a', 'bare').toFixed(3)}×, b over bareB ${over('b', 'bareB').toFixed(3)}×; ` +
    `bareB over bare ${over('bareB', 'bare').toFixed(3)}× (tree b's router against tree a's)`,
);
