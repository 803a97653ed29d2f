// Do the bench's server processes all serve requests in the same V8 object layout, whatever their
// case does before measuring? (s9-guard: a process that had answered fewer than ~7 requests when
// measure()'s first forced GC ran got requests with no in-object field, in dictionary mode.)
//
//   node --import tsx bench/request-maps-check.ts [--before=6] [--requests=300] [--entry=bench/server.ts] [--only=verify,scale]
//
// For each app config the cases start without a database (the Redis and PostgreSQL ones differ only
// in their second store), one server process (bench/server.ts, the package from src) with the
// preload bench/request-maps-check.mjs: `--before` GETs of /bare (the guard case's rememberDevice
// process had answered six before its first forced GC), then the full GC of measure()'s first warm-up
// pass, then `--requests` GETs of /bare from 10 connections (autocannon, as measure() sends them).
// Per process: the share of those requests and of their responses in dictionary mode (V8's
// %HasFastProperties). `--entry`: another server script (e.g. an older bench/server.ts copied into
// bench/), for a before/after. Exits 1 when any process serves requests in dictionary mode.
// (%DebugPrint would also give the in-object field count, 27 for a request and 42 for a response
// in the normal regime, but V8 prints it through C's stdio, which a piped child often never flushes.)
import { fork } from 'node:child_process';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { ROOT } from './child.js';
import type { ServerConfig } from './server.js';

const arg = (name: string, fallback: string) =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const BEFORE = Number(arg('before', '6'));
const REQUESTS = Number(arg('requests', '300'));
const ENTRY = resolve(ROOT, arg('entry', 'bench/server.ts'));
/** `--only=verify,scale`: those configs only. */
const ONLY = arg('only', '').split(',').filter(Boolean);

/** The app configs of bench/cases/*.ts that need no database (the send case's transport made silent). */
const CONFIGS: [string, ServerConfig][] = [
  ['verify', { kind: 'app', auth: 'session', store: 'memory', transport: 'codes' }],
  ['guard', { kind: 'app', auth: 'session', store: 'memory', transport: 'memory' }],
  [
    'guard (rememberDevice)',
    { kind: 'app', auth: 'session', store: 'memory', transport: 'memory', rememberDevice: true },
  ],
  ['memory', { kind: 'app', auth: 'header', store: 'memory', storeMax: 1_000_000, transport: 'silent' }],
  ['metrics', { kind: 'app', auth: 'session', store: 'memory', transport: 'codes', metrics: true }],
  ['scale', { kind: 'app', auth: 'session', store: 'memory', storeMax: 6_000_000, transport: 'codes' }],
  [
    'soak',
    { kind: 'app', auth: 'session', store: 'memory', storeMax: 3_000, transport: 'codes', clockFactor: 60 },
  ],
  ['send (transport silent)', { kind: 'app', auth: 'header', store: 'memory', transport: 'silent' }],
];

async function check(label: string, config: ServerConfig) {
  const child = fork(ENTRY, [JSON.stringify(config)], {
    cwd: ROOT,
    execArgv: [
      '--import',
      'tsx',
      '--expose-gc',
      '--allow-natives-syntax',
      '--import',
      join(ROOT, 'bench', 'request-maps-check.mjs'),
    ],
    env: { ...process.env, BENCH_SRC: '1' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (data: unknown) => void>();
  let sequence = 0;
  const ready = new Promise<{ port: number }>((resolve, reject) => {
    child.on('message', (msg: { type?: string; id?: number; data?: unknown; port?: number }) => {
      if (msg.type === 'ready') resolve({ port: msg.port ?? 0 });
      else if (typeof msg.id === 'number') {
        pending.get(msg.id)?.(msg.data);
        pending.delete(msg.id);
      }
    });
    child.once('exit', (code) => reject(new Error(`${label}: the server exited with ${code}`)));
  });
  const ask = <T>(type: string, extra: Record<string, unknown> = {}) =>
    new Promise<T>((resolve) => {
      const id = ++sequence;
      pending.set(id, resolve as (data: unknown) => void);
      child.send({ id, type, ...extra });
    });
  try {
    const { port } = await ready;
    const url = `http://127.0.0.1:${port}/bare`;
    for (let i = 0; i < BEFORE; i++) {
      const answer = await fetch(url);
      await answer.arrayBuffer();
      if (answer.status !== 200) throw new Error(`${label}: GET /bare answered ${answer.status}`);
    }
    await ask('gc', { full: true }); // measure()'s first warm-up pass
    await ask('request-maps', { reset: true });
    const result = await autocannon({ url, connections: 10, amount: REQUESTS });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${label}: ${result.non2xx} answers not 2xx`);
    const seen = await ask<{ requests: number; dictRequests: number; dictResponses: number }>('request-maps');
    await Promise.race([ask('exit'), new Promise((resolve) => setTimeout(resolve, 5000))]);
    return { label, ...seen };
  } finally {
    child.kill();
  }
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
console.log(
  `# request maps: ${BEFORE} GETs, a full GC, then ${REQUESTS} GETs of /bare per process (${ENTRY.slice(ROOT.length + 1)}); load average ${load()}`,
);
const results = [];
for (const [label, config] of CONFIGS) {
  if (ONLY.length > 0 && !ONLY.some((name) => label.startsWith(name))) continue;
  const r = await check(label, config);
  results.push(r);
  const share = (n: number) => (n / Math.max(r.requests, 1)).toFixed(2);
  console.log(
    `  ${label}: ${r.requests} requests, in dictionary mode ${share(r.dictRequests)} (responses ${share(r.dictResponses)})`,
  );
}
const dict = results.filter((r) => r.dictRequests > 0 || r.dictResponses > 0).length;
console.log(
  `# ${dict} of ${results.length} processes with requests in dictionary mode; load average ${load()}`,
);
process.exitCode = dict === 0 ? 0 : 1;
