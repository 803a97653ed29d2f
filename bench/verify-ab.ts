// In-process A/B of POST /2fa/verify between src trees (e.g. a `git archive` copy of main's src and
// this one): one process, one Express app per tree (header auth, memoryStore, the verify bench's
// options), requests made as Node's parser leaves them (IncomingMessage/ServerResponse, no socket).
// Each round builds a fresh pool per tree (untimed sends: right = one fresh challenge per verify,
// wrong = 10 wrong codes per challenge, refused = 50 used-up challenges), then times the verifies
// one by one, alternating trees request by request (ABBA): the load drifts alike for all.
// Prints per tree the median, 90 %- and 98 %-trimmed means (GC spikes left out) and the mean of the
// CPU time (process.cpuUsage) per request, and the ratios to the first tree. Run an A/A (the same
// tree twice) beside it to see the harness's own spread.
// Usage: node --expose-gc --import tsx bench/verify-ab.ts <srcA> <srcB> [--kind=right|wrong|refused|bare] [--rounds=3] [--pool=3000] [--wall]
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { resolve } from 'node:path';
import express from 'express';
import session from 'express-session';

const args = process.argv.slice(2);
const trees = args.filter((a) => !a.startsWith('--'));
const opt = (name: string, def: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const kind = opt('kind', 'right');
const rounds = Number(opt('rounds', '3'));
const path = kind === 'bare' ? '/echo' : '/2fa/verify';
const pool = Number(opt('pool', '1500'));
const withSession = args.includes('--session'); // express-session in front (fresh sessions)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

const socket = new Socket();

interface Answer {
  status: number;
  cookies: string[];
}

function call(
  app: express.Express,
  method: string,
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<Answer> {
  const req = new IncomingMessage(socket);
  req.method = method;
  req.url = url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  const buf = Buffer.from(body);
  req.headers = { ...headers, 'content-length': String(buf.length), host: 'localhost' };
  req.push(buf);
  req.push(null);
  req.complete = true;
  const res = new ServerResponse(req);
  return new Promise((done) => {
    const end = res.end;
    res.end = function (this: ServerResponse, ...a: unknown[]) {
      const r = (end as (...x: unknown[]) => ServerResponse).apply(this, a);
      const sc = res.getHeader('set-cookie');
      done({
        status: res.statusCode,
        cookies: sc === undefined ? [] : Array.isArray(sc) ? sc : [String(sc)],
      });
      return r;
    } as never;
    (app as unknown as (q: unknown, s: unknown, n: (e?: unknown) => void) => void)(req, res, (e) => {
      console.error('fell through', e);
    });
  });
}

const cookieHeader = (lines: string[], jar: Map<string, string>) => {
  for (const line of lines) {
    const pair = line.split(';')[0] as string;
    const eq = pair.indexOf('=');
    const v = pair.slice(eq + 1);
    if (v === '') jar.delete(pair.slice(0, eq));
    else jar.set(pair.slice(0, eq), v);
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
};

const phoneOf = (n: number) => `+32470${String(n).padStart(6, '0')}`;

async function makeApp(tree: string) {
  const mod = await import(resolve(tree, 'index.ts'));
  const codes = new Map<string, string>();
  const store = mod.memoryStore({ max: 1_000_000 });
  const tfa = mod.twoFactor({
    secret: 'bench-secret-that-is-long-enough-0123456789',
    getUser: withSession
      ? (req: express.Request) => {
          const n = Number(req.headers['x-user']);
          return { id: `u${n}`, phone: phoneOf(n), sessionId: req.sessionID };
        }
      : (req: express.Request) => {
          const n = Number(req.headers['x-user']);
          return { id: `u${n}`, phone: phoneOf(n), sessionId: `s${n}` };
        },
    transport: {
      async sendSms(msg: { to: string; text: string }) {
        codes.set(msg.to, /\d{6}/.exec(msg.text)?.[0] ?? '');
        return { id: 'x' };
      },
    },
    store,
    allowedCountries: ['BE'],
    maxAttempts: 10,
    lockout: { threshold: 50, hardLimit: 100 },
    limits: { phonePerHour: 1000, phonePerDay: 10_000, ipPerHour: 1_000_000, prefixPerHour: 1_000_000 },
    warnings: { memoryStore: false },
    logger: { warn: (m: string) => console.error(m), error: (m: string) => console.error(m) },
  });
  const app = express();
  app.disable('x-powered-by');
  if (withSession)
    app.use(
      session({
        secret: 'bench-session-secret-0123456789-abcdefghij',
        resave: false,
        saveUninitialized: true,
      }),
    );
  app.post('/echo', express.json(), (req, res) => {
    res.json({ received: typeof (req.body as { code?: unknown } | undefined)?.code === 'string' });
  });
  app.use(tfa);
  app.use((error: unknown, _req: express.Request, res: express.Response, _n: express.NextFunction) => {
    console.error('500', error);
    res.status(500).end();
  });
  return { app, codes, tree };
}

type App = Awaited<ReturnType<typeof makeApp>>;
let nextUser = 1;

interface Prepared {
  headers: Record<string, string>;
  body: string;
  expect: number;
}

async function prepare(a: App, count: number): Promise<Prepared[]> {
  const out: Prepared[] = [];
  if (kind === 'bare') {
    const headers = { 'content-type': 'application/json', 'x-user': '1' };
    return Array.from({ length: count }, () => ({ headers, body: '{"code":"123456"}', expect: 200 }));
  }
  const challenges = kind === 'wrong' ? Math.ceil(count / 10) : kind === 'refused' ? 50 : count;
  const browsers: Prepared[] = [];
  for (let i = 0; i < challenges; i++) {
    const n = nextUser++;
    const jar = new Map<string, string>();
    const base = { 'content-type': 'application/json', 'x-user': String(n) };
    let cookie = '';
    if (withSession) {
      // a first request to get a session cookie
      const s = await call(a.app, 'POST', '/2fa/status-none', base, '{}');
      cookie = cookieHeader(s.cookies, jar);
    }
    const sent = await call(a.app, 'POST', '/2fa/send', cookie ? { ...base, cookie } : base, '{}');
    if (sent.status !== 200) throw new Error(`send ${sent.status}`);
    cookie = cookieHeader(sent.cookies, jar);
    const code = a.codes.get(phoneOf(n)) as string;
    const wrong = code === '000000' ? '000001' : '000000';
    const headers = { ...base, cookie };
    if (kind === 'right') browsers.push({ headers, body: JSON.stringify({ code }), expect: 200 });
    else if (kind === 'wrong') browsers.push({ headers, body: JSON.stringify({ code: wrong }), expect: 400 });
    else {
      for (let k = 0; k < 10; k++)
        await call(a.app, 'POST', '/2fa/verify', headers, JSON.stringify({ code: wrong }));
      browsers.push({ headers, body: JSON.stringify({ code: wrong }), expect: 429 });
    }
  }
  for (let i = 0; i < count; i++) out.push(browsers[i % browsers.length] as Prepared);
  return out;
}

/** Untimed: JIT, caches and the store warmed up the same way on every tree. */
async function warm(a: App, items: Prepared[]): Promise<void> {
  for (const item of items) {
    const r = await call(a.app, 'POST', path, item.headers, item.body);
    if (r.status !== item.expect) throw new Error(`${a.tree}: ${r.status} != ${item.expect}`);
  }
}

const apps = await Promise.all(trees.map(makeApp));
// --wall: performance.now() (sub-µs) instead of process.cpuUsage (whole µs); with the memory
// store a verify made this way never waits on I/O, so its wall time is its CPU time but for
// what else the machine runs (medians and trimmed means leave those spikes out).
const wall = args.includes('--wall');
const cpuNow = wall
  ? () => performance.now() * 1000
  : () => {
      const c = process.cpuUsage();
      return c.user + c.system;
    };
const sums = apps.map(() => 0);
const roundMeans: number[][] = apps.map(() => []);
const all: number[][] = apps.map(() => []);
let total = 0;
async function one(a: App, item: Prepared) {
  const t = cpuNow();
  const r = await call(a.app, 'POST', path, item.headers, item.body);
  const d = cpuNow() - t;
  if (r.status !== item.expect) throw new Error(`${a.tree}: verify ${r.status} != ${item.expect}`);
  return d;
}
// warm-up
for (const a of apps) await warm(a, await prepare(a, Math.min(pool, 500)));
const fixedPools = kind === 'refused' ? await Promise.all(apps.map((a) => prepare(a, pool))) : [];
for (let r = 0; r < rounds; r++) {
  const pools = kind === 'refused' ? fixedPools : await Promise.all(apps.map((a) => prepare(a, pool)));
  gc();
  const roundSums = apps.map(() => 0);
  for (let k = 0; k < pool; k++) {
    const order = (k + r) % 2 === 0 ? apps.map((_, i) => i) : apps.map((_, i) => i).reverse();
    for (const i of order) {
      const d = await one(apps[i] as App, (pools[i] as Prepared[])[k] as Prepared);
      roundSums[i] = (roundSums[i] as number) + d;
      all[i]?.push(d);
    }
  }
  for (let i = 0; i < apps.length; i++) {
    sums[i] = (sums[i] as number) + (roundSums[i] as number);
    roundMeans[i]?.push((roundSums[i] as number) / pool);
  }
  total += pool;
}
const med = (v: number[]) => {
  const s = [...v].sort((x, y) => x - y);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};
const trimmed = (v: number[], q: number) => {
  const s = [...v].sort((x, y) => x - y);
  const keep = s.slice(0, Math.floor(s.length * q));
  return keep.reduce((a, b) => a + b, 0) / keep.length;
};
for (let i = 0; i < apps.length; i++) {
  const v = all[i] as number[];
  const b = all[0] as number[];
  console.log(
    `${trees[i]}: median ${med(v).toFixed(1)} (${(med(v) / med(b)).toFixed(3)}), trimmed90 ${trimmed(v, 0.9).toFixed(1)} (${(trimmed(v, 0.9) / trimmed(b, 0.9)).toFixed(3)}), trimmed98 ${trimmed(v, 0.98).toFixed(1)} (${(trimmed(v, 0.98) / trimmed(b, 0.98)).toFixed(3)})`,
  );
}
for (let i = 0; i < apps.length; i++) {
  const ratios = (roundMeans[i] as number[]).map((x, k) => x / ((roundMeans[0] as number[])[k] as number));
  console.log(
    `${trees[i]}: ${kind} mean ${((sums[i] as number) / total).toFixed(1)} µs/req (per-request interleaved; ratio to A ${((sums[i] as number) / (sums[0] as number)).toFixed(3)}, round ratios median ${med(ratios).toFixed(3)} [${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}]) ${rounds} × ${pool}`,
  );
}
