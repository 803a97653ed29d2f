// POST /2fa/verify of two src trees on live HTTP traffic, in one server process: an old/new A/B of
// the route's own time. One Express app (express-session in front, as in the verify case), one
// signed-in browser per tree whose challenge is used up (every verify is refused 429 after the
// route's whole read side: getUser, the origin check, the body, the challenge cookie, the store's
// `verifyAttempt`), and `/echo` (express.json + res.json, the bare JSON POST). The header
// `x-tree: b` sends a request to tree b's twoFactor(), anything else to tree a's.
// Timed where it runs: from the dispatch to `res.end` (performance.now), on every live request;
// with the memory store the route runs in one macrotask, and a sample another request's dispatch
// interrupted is dropped. The server's CPU per request is read per block. autocannon runs in a
// child process; the blocks take turns, the order reversed every other round.
// Usage: node --import tsx bench/verify-live.ts <srcA> <srcB> [--rounds=8] [--seconds=2] [--connections=10]
import { spawn } from 'node:child_process';
import { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import type * as Index from '../src/index.js';

const args = process.argv.slice(2);
const trees = args.filter((a) => !a.startsWith('--'));
const opt = (name: string, def: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def;
const rounds = Number(opt('rounds', '8'));
const seconds = Number(opt('seconds', '2'));
const connections = Number(opt('connections', '10'));
if (trees.length !== 2) throw new Error('usage: verify-live.ts <srcA> <srcB>');

const [A, B] = (await Promise.all(trees.map((t) => import(resolve(t, 'index.ts'))))) as [
  typeof Index,
  typeof Index,
];

declare module 'express-session' {
  interface SessionData {
    user?: { id: string; phone: string };
  }
}

const transport = A.memoryTransport();
const options = (lib: typeof Index): Index.TwoFactorOptions => ({
  secret: 'bench-secret-that-is-long-enough-0123456789',
  getUser: (req) => {
    const user = req.session.user;
    return user ? { id: user.id, phone: user.phone, sessionId: req.sessionID } : null;
  },
  transport,
  store: lib.memoryStore({ max: 10_000 }),
  allowedCountries: ['BE'],
  maxAttempts: 10,
  lockout: { threshold: 50, hardLimit: 100 },
  warnings: { memoryStore: false },
});
const tfa = { a: A.twoFactor(options(A)), b: B.twoFactor(options(B)) };

/** µs from the dispatch to `res.end`, per tree; the request being timed, when one is. */
const inside = { a: [] as number[], b: [] as number[], echo: [] as number[] };
let timing: { tree: keyof typeof inside; t0: number; res: object } | null = null;
let dropped = 0;
const end = ServerResponse.prototype.end;
// Patched once on the prototype: no property added to any response.
ServerResponse.prototype.end = function (this: ServerResponse, ...rest: unknown[]) {
  if (timing?.res === this) {
    inside[timing.tree].push((performance.now() - timing.t0) * 1000);
    timing = null;
  }
  return (end as (...a: unknown[]) => ServerResponse).apply(this, rest);
} as typeof end;
const start = (tree: keyof typeof inside, res: Response) => {
  if (timing) dropped++;
  timing = { tree, t0: performance.now(), res };
};

const app = express();
app.disable('x-powered-by');
app.use(
  session({ secret: 'bench-session-secret-0123456789-abcdefghij', resave: false, saveUninitialized: false }),
);
app.post('/login', (req, res) => {
  req.session.user = {
    id: `u-${req.headers['x-tree']}`,
    phone: req.headers['x-tree'] === 'b' ? '+32470000002' : '+32470000001',
  };
  res.send('ok');
});
app.post(
  '/echo',
  (_req, res, next) => {
    start('echo', res);
    next();
  },
  express.json(),
  (req, res) => {
    res.json({ received: typeof (req.body as { code?: unknown } | undefined)?.code === 'string' });
  },
);
app.use((req, res, next) => {
  const tree = req.headers['x-tree'] === 'b' ? 'b' : 'a';
  start(tree, res);
  tfa[tree](req, res, next);
});
app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
  console.error(error);
  res.status(500).end();
});

const server = app.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

/** One browser per tree: signed in, a code sent, its challenge used up by ten wrong codes. */
async function browser(tree: 'a' | 'b'): Promise<string> {
  const cookies = new Map<string, string>();
  const header = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const call = async (path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method: 'POST',
      headers: { cookie: header(), 'x-tree': tree, 'content-type': 'application/json' },
      body: JSON.stringify(body ?? {}),
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';', 1);
      const eq = pair.indexOf('=');
      if (/expires=Thu, 01 Jan 1970/i.test(line)) cookies.delete(pair.slice(0, eq));
      else cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res.status;
  };
  await call('/login');
  if ((await call('/2fa/send')) !== 200) throw new Error(`${tree}: send refused`);
  const code = transport.lastCode(tree === 'b' ? '+32470000002' : '+32470000001');
  const wrong = code === '000000' ? '000001' : '000000';
  for (let i = 0; i < 10; i++)
    if ((await call('/2fa/verify', { code: wrong })) !== 400) throw new Error('wrong');
  if ((await call('/2fa/verify', { code: wrong })) !== 429) throw new Error(`${tree}: not used up`);
  return header();
}
const cookie = { a: await browser('a'), b: await browser('b'), echo: '' };
cookie.echo = cookie.a;

/** autocannon in a child process: requests answered `expect` in `secs` seconds. */
function blast(route: keyof typeof inside, secs: number): Promise<number> {
  const path = route === 'echo' ? '/echo' : '/2fa/verify';
  const expect = route === 'echo' ? 200 : 429;
  return new Promise((done, fail) => {
    const child = spawn(
      resolve('node_modules/.bin/autocannon'),
      [
        '-j',
        '-c',
        String(connections),
        '-d',
        String(secs),
        '-m',
        'POST',
        '-H',
        `cookie=${cookie[route]}`,
        '-H',
        'content-type=application/json',
        '-H',
        `x-tree=${route}`,
        '-b',
        '{"code":"000000"}',
        base + path,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('error', fail);
    child.on('close', () => {
      const r = JSON.parse(out) as {
        requests: { total: number };
        statusCodeStats?: Record<string, { count: number }>;
      };
      const got = r.statusCodeStats?.[String(expect)]?.count ?? 0;
      if (got !== r.requests.total)
        fail(new Error(`${route}: ${r.requests.total - got} answers other than ${expect}`));
      else done(got);
    });
  });
}

const names = ['echo', 'a', 'b'] as const;
for (const name of names) await blast(name, 1); // warm-up
for (const s of Object.values(inside)) s.length = 0;
dropped = 0;
const cpu = { echo: [] as number[], a: [] as number[], b: [] as number[] };
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 === 0 ? names : [...names].reverse()) {
    const c0 = process.cpuUsage();
    const count = await blast(name, seconds);
    const c1 = process.cpuUsage(c0);
    cpu[name].push((c1.user + c1.system) / count);
  }
}
server.close();

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] as number;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
console.log(
  `trees: a = ${trees[0]}, b = ${trees[1]}; ${rounds} rounds × ${seconds} s, ${connections} connections; ${dropped} samples dropped`,
);
for (const name of names) {
  const xs = inside[name];
  const c = cpu[name];
  console.log(
    `${name.padEnd(4)} inside: median ${median(xs).toFixed(2)} µs, mean ${mean(xs).toFixed(2)} µs (${xs.length}); ` +
      `server CPU/req median ${median(c).toFixed(1)} µs, echo over it paired ${median(c.map((x, i) => (cpu.echo[i] as number) / x)).toFixed(3)}×`,
  );
}
console.log(
  `b over a: inside median ${(median(inside.b) / median(inside.a)).toFixed(3)}, CPU/req paired ${median(cpu.b.map((x, i) => x / (cpu.a[i] as number))).toFixed(3)}`,
);
