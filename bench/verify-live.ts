// POST /2fa/verify on live requests: where a wrong, a refused and a right code spend their time
// inside a real server under autocannon load, beside the verify case's bare JSON POST (`/echo`).
// The server (a child process: `--serve`) is the verify case's app (express-session in front, a
// signed-in browser, memoryStore, the same options) with the routes of one or two src trees
// (`/a/2fa`, `/b/2fa`: e.g. a `git archive` of main's src and this one). Per request it times,
// with performance.now(), the span from the first middleware after express-session to the route's
// `res.end` call (with the memory store that span never waits: every await in it settles in the
// same microtask drain, so no other request runs inside it; spans that overlap one are counted
// and left out), and Node's own `end` (headers and write). A src tree with `globalThis.__lm?.(name)`
// calls in it (an instrumented copy, never committed) gets its steps timed between marks too.
// The server's CPU and GC time are read per block. Variants take turns in blocks, the order
// reversed every other round, so the machine's load drifts alike for all.
// Usage: node --import tsx bench/verify-live.ts <srcA> [srcB] [--rounds=6] [--seconds=2]
//   [--connections=10] [--kinds=bare,wrong,refused,right] (`cookies`: the bare POST answering a right
//   code's status, two Set-Cookie lines and body with Node's own setHeader/end, a diagnostic)
import { type ChildProcess, spawn } from 'node:child_process';
import { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import autocannon, { type Result } from 'autocannon';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import type * as Index from '../src/index.js';

const args = process.argv.slice(2);
const trees = args.filter((a) => !a.startsWith('--'));
const opt = (name: string, def: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const PREFIXES = ['/a', '/b'];
const phoneOf = (n: number) => `+32470${String(n).padStart(6, '0')}`;
const MAX_ATTEMPTS = 10;

declare module 'express-session' {
  interface SessionData {
    user?: { id: string; phone: string };
  }
}

interface Stats {
  label: string;
  spans: number[];
  ends: number[];
  /** µs in the `res.end` that the route calls: express-session's wrapper, with Node's part in it. */
  tails: number[];
  overlapped: number;
  marks: Record<string, number[]>;
  cpuUs: number;
  gcMinorMs: number;
  gcMajorMs: number;
  served: number;
}

async function serve(): Promise<void> {
  const libs = await Promise.all(
    trees.map(async (t) => (await import(resolve(t, 'index.ts'))) as typeof Index),
  );
  const codes = new Map<string, string>();
  const transport = {
    async sendSms(msg: { to: string; text: string }) {
      codes.set(msg.to, /\d{6}/.exec(msg.text)?.[0] ?? '');
      return { id: 'live' };
    },
  };
  const tfas = libs.map((lib, i) =>
    lib.twoFactor({
      secret: 'bench-secret-that-is-long-enough-0123456789',
      getUser: (req) => {
        const user = req.session.user;
        return user ? { id: user.id, phone: user.phone, sessionId: req.sessionID } : null;
      },
      transport,
      store: lib.memoryStore(),
      allowedCountries: ['BE'],
      maxAttempts: MAX_ATTEMPTS,
      lockout: { threshold: 50, hardLimit: 100 },
      limits: { phonePerHour: 1000, phonePerDay: 10_000, ipPerHour: 1_000_000, prefixPerHour: 1_000_000 },
      warnings: { memoryStore: false },
      logger: { warn: (m) => console.error(m), error: (m) => console.error(m) },
      path: `${PREFIXES[i]}/2fa`,
      cookie: { name: `${'ab'[i]}2fa` },
    }),
  );

  let stats: Stats = fresh('');
  function fresh(label: string): Stats {
    return {
      label,
      spans: [],
      ends: [],
      tails: [],
      overlapped: 0,
      marks: {},
      cpuUs: 0,
      gcMinorMs: 0,
      gcMajorMs: 0,
      served: 0,
    };
  }
  let cpu0 = process.cpuUsage();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) stats.gcMajorMs += entry.duration;
      else stats.gcMinorMs += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });

  // The span of the request in flight (with the memory store at most one at a time) and its marks.
  let open = 0;
  let t0 = 0;
  let last = 0;
  let clean = true;
  const steps = new Map<string, number>();
  (globalThis as { __lm?: (name: string) => void }).__lm = (name) => {
    const t = performance.now();
    steps.set(name, (steps.get(name) ?? 0) + (t - last) * 1000);
    last = performance.now();
  };
  const protoEnd = ServerResponse.prototype.end;
  ServerResponse.prototype.end = function (this: ServerResponse, ...a: unknown[]) {
    const t = performance.now();
    const r = (protoEnd as (...x: unknown[]) => ServerResponse).apply(this, a);
    if (timing) stats.ends.push((performance.now() - t) * 1000);
    return r;
  } as never;
  let timing = false;

  const app = express();
  app.disable('x-powered-by');
  app.use(
    session({
      secret: 'bench-session-secret-0123456789-abcdefghij',
      resave: false,
      saveUninitialized: false,
    }),
  );
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (!timing) {
      next();
      return;
    }
    if (open > 0) clean = false;
    open++;
    const mine = { clean: true };
    t0 = performance.now();
    last = t0;
    steps.clear();
    const end = res.end;
    res.end = function (this: Response, ...a: unknown[]) {
      const span = (performance.now() - t0) * 1000;
      open--;
      if (clean && mine.clean) {
        stats.spans.push(span);
        for (const [name, us] of steps) {
          let list = stats.marks[name];
          if (!list) {
            list = [];
            stats.marks[name] = list;
          }
          list.push(us);
        }
      } else stats.overlapped++;
      clean = true;
      stats.served++;
      const t = performance.now();
      const r = (end as (...x: unknown[]) => Response).apply(this, a);
      stats.tails.push((performance.now() - t) * 1000);
      return r;
    } as never;
    next();
  });
  app.post('/login', (req, res) => {
    const n = Number(req.query.u);
    req.session.user = { id: `u${n}`, phone: phoneOf(n) };
    res.status(200).send('ok');
  });
  app.get('/__bench/code', (req, res) => {
    const code = codes.get(phoneOf(Number(req.query.u)));
    if (code) res.type('text').send(code);
    else res.sendStatus(404);
  });
  app.get('/__live/stats', (req, res) => {
    const c = process.cpuUsage(cpu0);
    stats.cpuUs = c.user + c.system;
    const out = stats;
    timing = req.query.timing === '1';
    stats = fresh(String(req.query.label ?? ''));
    cpu0 = process.cpuUsage();
    res.json(out);
  });
  app.post('/echo', express.json(), (req, res) => {
    res.json({ received: typeof (req.body as { code?: unknown } | undefined)?.code === 'string' });
  });
  // The bare POST answering what a right code answers, by Node's own means: the same status, the
  // two Set-Cookie lines of the same lengths (a verified cookie, the cleared challenge cookie), the
  // same headers and the same JSON body, written with setHeader/end (no ETag). What it costs over
  // `/echo` is the response's share that any route writing those bytes pays, not the package's.
  const verifiedLine = `a2fa=v2.sms.1764615600000.1764658800000.${'s'.repeat(43)}; Max-Age=43200; Path=/; Expires=Tue, 01 Dec 2026 00:00:00 GMT; HttpOnly; SameSite=Lax`;
  const clearedLine =
    'a2fa-challenge=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax';
  app.post('/echo-cookies', express.json(), (req, res) => {
    const ok = typeof (req.body as { code?: unknown } | undefined)?.code === 'string';
    const text = JSON.stringify({ verified: ok, returnTo: '/' });
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Set-Cookie', verifiedLine);
    res.appendHeader('Set-Cookie', clearedLine);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.end(text);
  });
  app.use((req, res, next) => {
    const i = PREFIXES.findIndex((p) => req.url.startsWith(`${p}/`));
    if (i < 0) next();
    else (tfas[i] as Index.TwoFactor)(req, res, next);
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    console.error('500', error);
    res.status(500).end();
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  console.log(`PORT ${(server.address() as AddressInfo).port}`);
}

// ---------------------------------------------------------------------------------------------
// The driver.

interface Pooled {
  cookie: string;
  body: string;
}

async function drive(): Promise<void> {
  const rounds = Number(opt('rounds', '6'));
  const seconds = Number(opt('seconds', '2'));
  const connections = Number(opt('connections', '10'));
  const kinds = opt('kinds', 'bare,wrong,refused,right').split(',');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', resolve(import.meta.dirname, 'verify-live.ts'), '--serve', ...trees],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((done) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const m = /^PORT (\d+)/.exec(line);
      if (m) done(Number(m[1]));
      else console.log(`server: ${line}`);
    });
  });
  const base = `http://127.0.0.1:${port}`;
  let nextUser = 1;

  async function call(method: string, path: string, cookie: string, body?: unknown) {
    const res = await fetch(base + path, {
      method,
      headers: { cookie, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const jar = new Map(
      cookie
        .split('; ')
        .filter(Boolean)
        .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
    );
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';', 1);
      const eq = pair.indexOf('=');
      if (/expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(pair.slice(0, eq));
      else jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return {
      status: res.status,
      text: await res.text(),
      cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
    };
  }
  async function browser(prefix: string) {
    const n = nextUser++;
    const login = await call('POST', `/login?u=${n}`, '');
    const sent = await call('POST', `${prefix}/2fa/send`, login.cookie, {});
    if (sent.status !== 200) throw new Error(`send ${sent.status}`);
    const code = (await call('GET', `/__bench/code?u=${n}`, '')).text;
    const wrong = code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
    return { cookie: sent.cookie, code, wrong };
  }
  async function parallel(count: number, task: (i: number) => Promise<void>) {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < count) await task(next++);
      }),
    );
  }
  async function pool(kind: string, prefix: string, count: number): Promise<Pooled[]> {
    if (kind === 'bare' || kind === 'cookies') {
      const { cookie } = await call('POST', `/login?u=${nextUser++}`, '');
      return [{ cookie, body: '{"code":"123456"}' }];
    }
    if (kind === 'refused') {
      const out: Pooled[] = new Array(50);
      await parallel(50, async (i) => {
        const b = await browser(prefix);
        for (let k = 0; k <= MAX_ATTEMPTS; k++)
          await call('POST', `${prefix}/2fa/verify`, b.cookie, { code: b.wrong });
        out[i] = { cookie: b.cookie, body: JSON.stringify({ code: b.wrong }) };
      });
      return out;
    }
    if (kind === 'wrong') {
      const slots = Math.max(50, Math.ceil(count / MAX_ATTEMPTS));
      const out: Pooled[] = new Array(slots);
      await parallel(slots, async (i) => {
        const b = await browser(prefix);
        out[i] = { cookie: b.cookie, body: JSON.stringify({ code: b.wrong }) };
      });
      return Array.from({ length: count }, (_, i) => out[i % slots] as Pooled);
    }
    const out: Pooled[] = new Array(count);
    await parallel(count, async (i) => {
      const b = await browser(prefix);
      out[i] = { cookie: b.cookie, body: JSON.stringify({ code: b.code }) };
    });
    return out;
  }
  const expectOf: Record<string, number> = { bare: 200, cookies: 200, wrong: 400, refused: 429, right: 200 };
  const variants = kinds.flatMap((kind) =>
    kind === 'bare' || kind === 'cookies'
      ? [{ kind, prefix: '' }]
      : trees.map((_, i) => ({ kind, prefix: PREFIXES[i] as string })),
  );
  const labelOf = (v: { kind: string; prefix: string }) => `${v.kind}${v.prefix}`;
  const rates = new Map<string, number>();
  const fixedPools = new Map<string, Pooled[]>();

  async function block(v: { kind: string; prefix: string }, secs: number, measure: boolean) {
    const label = labelOf(v);
    const rotate = v.kind === 'bare' || v.kind === 'cookies' || v.kind === 'refused';
    let items = fixedPools.get(label);
    if (!items) {
      items = await pool(v.kind, v.prefix, Math.ceil((rates.get(label) ?? 3000) * secs * 1.5));
      if (rotate) fixedPools.set(label, items);
    }
    const amount = rotate ? undefined : items.length;
    const path =
      v.kind === 'bare' ? '/echo' : v.kind === 'cookies' ? '/echo-cookies' : `${v.prefix}/2fa/verify`;
    let n = 0;
    const list = items;
    await fetch(`${base}/__live/stats?timing=${measure ? 1 : 0}&label=${label}`);
    const t = performance.now();
    const instance = autocannon({
      url: base,
      connections,
      pipelining: 1,
      timeout: 10,
      sampleInt: 100,
      ...(amount === undefined ? { duration: secs } : { amount }),
      requests: [
        {
          method: 'POST',
          path,
          setupRequest: (req) => {
            const item = list[n++ % list.length] as Pooled;
            return {
              ...req,
              headers: { cookie: item.cookie, 'content-type': 'application/json' },
              body: item.body,
            };
          },
        },
      ],
    });
    let lastAt = t;
    instance.on('response', () => {
      lastAt = performance.now();
    });
    const result: Result = await instance;
    const elapsed = (lastAt - t) / 1000;
    const stats = (await (await fetch(`${base}/__live/stats?timing=0`)).json()) as Stats;
    const ok = result.statusCodeStats[String(expectOf[v.kind])]?.count ?? 0;
    const total = result.requests.total;
    if (total > 0) rates.set(label, total / elapsed);
    if (ok !== total) throw new Error(`${label}: ${total - ok} of ${total} answers not ${expectOf[v.kind]}`);
    return { stats, total, rps: total / elapsed };
  }

  // Warm-up: every variant once, unmeasured.
  for (const v of variants) await block(v, 1, false);
  const results = new Map<string, { rps: number[]; cpu: number[]; stats: Stats[] }>();
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const b = await block(v, seconds, true);
      const label = labelOf(v);
      const entry = results.get(label) ?? { rps: [], cpu: [], stats: [] };
      entry.rps.push(b.rps);
      entry.cpu.push(b.stats.cpuUs / Math.max(1, b.stats.served));
      entry.stats.push(b.stats);
      results.set(label, entry);
    }
  }
  child.kill();

  const median = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length === 0 ? Number.NaN : (s[s.length >> 1] as number);
  };
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
  console.log(
    `trees: ${trees.map((t, i) => `${PREFIXES[i]} = ${t}`).join(', ')}; ${rounds} rounds × ${seconds} s, ${connections} connections`,
  );
  const bare = results.get('bare');
  for (const [label, e] of results) {
    const spans = e.stats.flatMap((s) => s.spans);
    const ends = e.stats.flatMap((s) => s.ends);
    const tails = e.stats.flatMap((s) => s.tails);
    const served = e.stats.reduce((s, x) => s + x.served, 0);
    const overlapped = e.stats.reduce((s, x) => s + x.overlapped, 0);
    const minor = e.stats.reduce((s, x) => s + x.gcMinorMs, 0);
    const major = e.stats.reduce((s, x) => s + x.gcMajorMs, 0);
    const paired = bare ? median(e.cpu.map((c, i) => (bare.cpu[i] ?? Number.NaN) / c)) : Number.NaN;
    console.log(
      `${label.padEnd(10)} ${median(e.rps).toFixed(0)} req/s; CPU/req ${median(e.cpu).toFixed(1)} µs (bare/this paired ${paired.toFixed(3)}); ` +
        `span median ${median(spans).toFixed(2)} mean ${mean(spans).toFixed(2)} µs (${spans.length}, ${overlapped} overlapped); ` +
        `res.end ${median(tails).toFixed(2)} / ${mean(tails).toFixed(2)} µs, Node's end ${median(ends).toFixed(2)} / ${mean(ends).toFixed(2)} µs; GC µs/req minor ${((minor * 1000) / served).toFixed(1)} major ${((major * 1000) / served).toFixed(1)}`,
    );
    const names = [...new Set(e.stats.flatMap((s) => Object.keys(s.marks)))];
    for (const name of names) {
      const xs = e.stats.flatMap((s) => s.marks[name] ?? []);
      console.log(
        `    ${name.padEnd(28)} median ${median(xs).toFixed(2)} mean ${mean(xs).toFixed(2)} µs (${xs.length})`,
      );
    }
  }
}

if (args.includes('--serve')) await serve();
else await drive();
