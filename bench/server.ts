// A benchmark server: one child process per server, driven by bench/run.ts over IPC.
// Run by bench/child.ts as `node --import tsx --expose-gc bench/server.ts '<json ServerConfig>'`;
// the package comes from bench/pkg.ts (its build in bench/dist/, or src with BENCH_SRC=1).
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import { Session } from 'node:inspector';
import { type AddressInfo, connect } from 'node:net';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import type { Request, RequestHandler, Response } from 'express';
import pg from 'pg';
import postgresJs from 'postgres';
import { createClient, createCluster } from 'redis';
import type {
  MemoryStore,
  PostgresQuery,
  PostgresStore,
  SendCommand,
  SmsTransport,
  Store,
} from '../src/index.js';
// Internal, off the measured path: the SQL texts, to name each counted query (countingQuery).
import { statements } from '../src/stores/postgres/sql.js';
import type { FakeSmstools } from '../src/testing/index.js';
import {
  type AppSpec,
  benchMemoryStore,
  benchMeterProvider,
  buildApp,
  codeTransport,
  drainedMemoryTransport,
  handRolled,
  phoneOf,
  userId,
} from './apps.js';
import { guardCost as realGuardCost, refusingResponse } from './guard-cost.js';
import { metricsCost } from './metrics-cost.js';
import { createPeer } from './peer.js';
import { PACKAGE, postgresStore, redisStore, smstools, startFakeSmstools } from './pkg.js';

export interface ServerConfig {
  kind: 'app' | 'fake';
  auth?: 'session' | 'header';
  /** `memory+redis` / `memory+postgres`: the memory store at /2fa and redisStore / postgresStore at /r/2fa, in one app. */
  store?: 'memory' | 'memory+redis' | 'memory+redis-cluster' | 'memory+postgres';
  /** `generic`: the Redis store without `verifyAttempt` (a verify as five generic store calls). */
  redisVerify?: 'one-call' | 'generic';
  /** The Redis Cluster node `memory+redis-cluster` starts from. @default 7001 */
  redisClusterPort?: number;
  storeMax?: number;
  /** `memory`: memoryTransport; `codes`: keeps the newest code per number; `silent`: keeps nothing. */
  transport?: 'memory' | 'codes' | 'silent' | 'smstools';
  smstools?: { baseUrl: string; clientId: string; clientSecret: string };
  redisPrefix?: string;
  /**
   * The Redis database the redisStore and the seeding use (`SELECT`). The scale case gives each of
   * its Redis processes one of its own, so a 1k process's keys are not in the keyspace of a 1M one.
   * @default 0
   */
  redisDatabase?: number;
  /** postgresStore's table (created at start, dropped by `cleanup`), in `DATABASE_URL` or the machine's database `test`. */
  postgresTable?: string;
  /** The client behind postgresStore: pg (a pg.Pool, the default) or postgres.js, each wired as the README shows. */
  postgresClient?: 'pg' | 'postgres';
  /** Connect with `synchronous_commit=off` (commits do not wait for the disk), as the README suggests for a pool of the store's own. */
  postgresAsyncCommit?: boolean;
  /** The middleware's clock runs this many times faster than real time (the soak). @default 1 */
  clockFactor?: number;
  /** Mount a second instance at /m/2fa with an OpenTelemetry SDK meter provider (the metrics case). */
  metrics?: boolean;
  /** Mount better-auth's twoFactor OTP on PostgreSQL at /ba-pg/api/auth and on its memory adapter at /ba-mem/api/auth. */
  peer?: boolean;
  /** `rememberDevice: {}` on (the guard case's variant: the verified hot path must not notice). */
  rememberDevice?: boolean;
}

export interface Counters {
  requests: number;
  /** Store round trips: Redis commands (every `sendCommand` call) or PostgreSQL queries (every `query` call). */
  commands: number;
  byName: Record<string, number>;
  /** Sequential round trips on each response's path: a command sent while none is in flight starts one. */
  waves: number;
  unhandled: number;
  errors: number;
  errorSamples: string[];
}

type Message = {
  id: number;
  type: string;
  reset?: boolean;
  from?: number;
  count?: number;
  max?: number;
  dir?: string;
  on?: boolean;
  quiet?: boolean;
  full?: boolean;
  cookie?: string;
  user?: number;
  kind?: string;
  email?: string;
};

/**
 * V8's sampling CPU profiler (what `node --cpu-prof` runs), started and stopped around each measured
 * run only, so the setup traffic between runs (sign-ins, sends that build the pools) stays out.
 */
const profiler = new Session();
let profiles = 0;
const post = <T>(method: string, params?: object) =>
  new Promise<T>((resolve, reject) =>
    profiler.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))),
  );

async function profileStart() {
  if (profiles === 0) profiler.connect();
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 1000 }); // --cpu-prof's default
  await post('Profiler.start');
}

async function profileStop(dir: string) {
  const { profile } = await post<{ profile: unknown }>('Profiler.stop');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `run-${++profiles}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  return file;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig;
const gc = (globalThis as { gc?: () => void }).gc;
const counters: Counters = {
  requests: 0,
  commands: 0,
  byName: {},
  waves: 0,
  unhandled: 0,
  errors: 0,
  errorSamples: [],
};
const onError = (what: string) => {
  counters.errors++;
  if (counters.errorSamples.length < 5) counters.errorSamples.push(what.slice(0, 300));
};
process.on('unhandledRejection', (reason) => {
  counters.unhandled++;
  onError(`unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`);
});

interface RequestTrace {
  inflight: number;
  waves: number;
}
const trace = new AsyncLocalStorage<RequestTrace>();

/** Counts one round trip named `name` and, per request, the round trips that had to wait for one another. */
async function counted<T>(name: string, send: () => Promise<T>): Promise<T> {
  counters.commands++;
  counters.byName[name] = (counters.byName[name] ?? 0) + 1;
  const t = trace.getStore();
  if (t) {
    if (t.inflight === 0) t.waves++;
    t.inflight++;
  }
  try {
    return await send();
  } finally {
    if (t) t.inflight--;
  }
}

function countingSendCommand(inner: SendCommand): SendCommand {
  return (...args) => counted(args[0] ?? '?', () => inner(...args));
}

/** Counts every query, named by the store method it runs (`increment`, `getMany`, `sweep`...). */
function countingQuery(inner: PostgresQuery, table: string): PostgresQuery {
  const names = new Map(Object.entries(statements(table)).map(([method, text]) => [text, method]));
  return (text, params, name) => {
    const method = names.get(text) ?? 'other';
    const sent = counted(method, () => inner(text, params, name));
    return method === 'verifyMany' ? batchCounted(sent) : sent;
  };
}

const bump = (name: string, by = 1) => {
  counters.byName[name] = (counters.byName[name] ?? 0) + by;
};

/**
 * A verify batch's fate, as `verifyMany.*` counts beside the statements (the peer case reads them):
 * its items, those answered `retry`/`isolation` (each sent again alone), and a failed batch by its
 * SQLSTATE (every item then sent again alone; a connection's error fails them).
 */
async function batchCounted(sent: Promise<{ rows: unknown[] }>): Promise<{ rows: unknown[] }> {
  try {
    const reply = await sent;
    bump('verifyMany.items', reply.rows.length);
    for (const row of reply.rows) {
      const outcome = (row as { outcome?: unknown } | null)?.outcome;
      if (outcome === 'retry' || outcome === 'isolation') bump(`verifyMany.${outcome}`);
    }
    return reply;
  } catch (error) {
    bump(`verifyMany.failed.${String((error as { code?: unknown } | null)?.code ?? 'other')}`);
    throw error;
  }
}

function heapNow() {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external };
}

function fullHeap() {
  gc?.();
  gc?.();
  return heapNow();
}

/**
 * The collection before a run: the young generation only (a scavenge) by default, a full GC when
 * `full` is asked (the first warm-up pass, after the case's setup) or with `BENCH_GC=full` (the
 * harness before the fifth session). A full GC lets V8 throw away optimized code whose embedded
 * objects died with the previous run's requests ("weak objects"), and ages the bytecode of every
 * function the run does not call, so a run after it starts partly cold; a server under steady load
 * is scavenged often and fully collected seldom (docs/benchmarks-history.md, "Steady state by default").
 */
function collectBeforeRun(full: boolean) {
  if (full || process.env.BENCH_GC === 'full' || process.env.BENCH_GC === 'loaded') return fullHeap();
  (gc as ((options: { type: 'minor' }) => void) | undefined)?.({ type: 'minor' });
  return heapNow();
}

/**
 * Waits (at most 10 s) until this process uses under 10 % of a core. After a forced GC, V8 still
 * sweeps the old generation on background threads, in proportion to the heap: about 200 ms of CPU
 * in the second after `gc()` with a million pending challenges (5 ms with a thousand). Started at
 * once, a measured run would count that work as its own and share the cores with it.
 */
async function quiet(): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const start = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const { user, system } = process.cpuUsage(start);
    if (user + system < 10_000 || Date.now() >= until) return;
  }
}

/**
 * V8's GC pauses on the main thread since the last `gcstats` read (the scale case reads them around
 * each measured run): count and milliseconds, scavenges and mark-compacts (with incremental steps).
 */
const gcPauses = { scavenges: 0, scavengeMs: 0, marks: 0, markMs: 0 };
let gcObserver: PerformanceObserver | undefined;
function gcStats() {
  if (!gcObserver) {
    gcObserver = new PerformanceObserver((list) => count(list.getEntries()));
    gcObserver.observe({ entryTypes: ['gc'] });
  }
  count(gcObserver.takeRecords()); // entries not yet delivered (they arrive late, in a later tick)
  const read = { ...gcPauses };
  Object.assign(gcPauses, { scavenges: 0, scavengeMs: 0, marks: 0, markMs: 0 });
  return read;
}

function count(entries: PerformanceEntry[]) {
  for (const entry of entries) {
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === 1) {
      gcPauses.scavenges++;
      gcPauses.scavengeMs += entry.duration;
    } else {
      if (kind === 2) gcPauses.marks++;
      gcPauses.markMs += entry.duration;
    }
  }
}

function reply(id: number, data: unknown) {
  process.send?.({ id, data });
}

async function startFake(): Promise<void> {
  const fake: FakeSmstools = await startFakeSmstools({ balance: 1e12 });
  process.on('message', async (msg: Message) => {
    if (msg.type === 'connections') reply(msg.id, fake.connections);
    else if (msg.type === 'reset') {
      fake.reset();
      reply(msg.id, fake.connections);
    } else if (msg.type === 'exit') {
      await fake.close();
      reply(msg.id, null);
      process.exit(0);
    }
  });
  process.send?.({ type: 'ready', transportOptions: fake.transportOptions() });
}

async function startApp(): Promise<void> {
  const realNow = Date.now;
  const factor = config.clockFactor ?? 1;
  const origin = realNow();
  const now = factor === 1 ? undefined : () => origin + (realNow() - origin) * factor;
  const codes = new Map<string, string>();

  const memory: MemoryStore = benchMemoryStore(config.storeMax ?? 1_000_000, now);
  let redis: ReturnType<typeof createClient> | undefined;
  let cluster: ReturnType<typeof createCluster> | undefined;
  let second: Store | undefined;
  let closePostgres: (() => Promise<void>) | undefined;
  let postgres: PostgresStore | undefined;
  if (config.store === 'memory+redis') {
    redis = createClient({
      socket: { host: '127.0.0.1', port: Number(process.env.REDIS_PORT || 6379) },
      ...(config.redisDatabase ? { database: config.redisDatabase } : {}),
    });
    redis.on('error', (error: Error) => onError(`redis: ${error.message}`));
    await redis.connect();
    const client = redis;
    const sendCommand = countingSendCommand((...args) => client.sendCommand(args) as Promise<unknown>);
    second = redisStore({ sendCommand, prefix: config.redisPrefix ?? `bench:${process.pid}:` });
  } else if (config.store === 'memory+redis-cluster') {
    // The README's node-redis cluster wiring: route each command by its first key.
    cluster = createCluster({
      rootNodes: [{ socket: { host: '127.0.0.1', port: config.redisClusterPort ?? 7001 } }],
    });
    cluster.on('error', (error: Error) => onError(`redis cluster: ${error.message}`));
    await cluster.connect();
    const client = cluster;
    const sendCommand = countingSendCommand(
      (...args) =>
        client.sendCommand(/^EVAL/i.test(args[0] ?? '') ? args[3] : args[1], false, args) as Promise<unknown>,
    );
    second = redisStore({ sendCommand, prefix: config.redisPrefix ?? `bench:${process.pid}:` });
  } else if (config.store === 'memory+postgres') {
    const table = config.postgresTable ?? `bench_${process.pid}`;
    const database = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
    const options = config.postgresAsyncCommit ? '-c synchronous_commit=off' : undefined;
    let query: PostgresQuery;
    if (config.postgresClient === 'postgres') {
      // postgres.js: 10 connections like pg's default pool, prepared statements as the README shows.
      const sql = postgresJs(database, {
        max: 10,
        onnotice: () => {},
        ...(options ? { connection: { synchronous_commit: 'off' } } : {}),
      });
      closePostgres = () => sql.end({ timeout: 1 });
      query = async (text, params) => ({
        rows: await sql.unsafe(text, params as never[], { prepare: true }),
      });
    } else {
      // The README's wiring: a pg.Pool (10 connections, its default) and its query, statements prepared by name.
      const client = new pg.Pool({ connectionString: database, ...(options ? { options } : {}) });
      client.on('error', (error: Error) => onError(`postgres: ${error.message}`));
      // Connections the pool opened (a reopened one prepares and compiles again on its backend).
      client.on('connect', () => bump('pool.connect'));
      closePostgres = () => client.end();
      query = (text, params, name) => client.query({ name, text, values: params });
    }
    postgres = postgresStore({ query: countingQuery(query, table), table });
    await postgres.migrate();
    second = postgres;
  }
  if (second && config.redisVerify === 'generic') second = { ...second, verifyAttempt: undefined };

  let transport: SmsTransport;
  if (config.transport === 'smstools') {
    if (!config.smstools) throw new Error('the smstools transport needs config.smstools');
    transport = smstools({ ...config.smstools, sender: 'Bench' });
  } else if (config.transport === 'memory') transport = drainedMemoryTransport(codes);
  else transport = codeTransport(config.transport === 'silent' ? null : codes);

  const metered = config.metrics ? benchMeterProvider() : undefined;
  const peers = config.peer
    ? { postgres: await createPeer('postgres', codes), memory: await createPeer('memory', codes) }
    : undefined;
  const mountPeers: AppSpec['before'] = (app) => {
    peers?.postgres.mount(app);
    peers?.memory.mount(app);
  };
  const { app, tfa, sessions } = buildApp({
    ...(peers ? { before: mountPeers } : {}),
    auth: config.auth ?? 'session',
    store: memory,
    ...(second ? { second } : {}),
    ...(metered ? { metered: metered.meterProvider } : {}),
    transport,
    codes,
    ...(now ? { now } : {}),
    ...(config.rememberDevice ? { options: { rememberDevice: {} } } : {}),
    onError,
  });

  // Requests are traced only on demand: AsyncLocalStorage turns on promise hooks, which cost every request.
  let tracing = false;
  const server = createServer((req, res) => {
    counters.requests++;
    if (!tracing) {
      app(req, res);
      return;
    }
    const t: RequestTrace = { inflight: 0, waves: 0 };
    res.on('finish', () => {
      counters.waves += t.waves;
    });
    trace.run(t, () => app(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  await settle(app);

  /** The entries of the store of `kind`: the memory store's, or the Redis database's (one per scale process). */
  const entries = async (kind: unknown) => (kind === 'redis' && redis ? await redis.dbSize() : memory.size);

  process.on('message', async (msg: Message) => {
    if (msg.type === 'gc') {
      const heap = collectBeforeRun(msg.full === true);
      await quiet();
      reply(msg.id, heap);
    } else if (msg.type === 'gc-now') {
      reply(msg.id, fullHeap());
    } else if (msg.type === 'gc-minor') {
      (gc as ((options: { type: 'minor' }) => void) | undefined)?.({ type: 'minor' });
      if (msg.quiet) await quiet();
      reply(msg.id, heapNow());
    } else if (msg.type === 'cpu') {
      // Read right before and after each measured run: marks its window in V8's traces.
      if (process.env.BENCH_MARK_RUNS === '1') process.stdout.write('@@run-edge\n');
      const { user, system } = process.cpuUsage();
      reply(msg.id, user + system);
    } else if (msg.type === 'gcstats') {
      reply(msg.id, gcStats());
    } else if (msg.type === 'heap') reply(msg.id, { ...fullHeap(), storeSize: memory.size });
    else if (msg.type === 'trace') {
      tracing = msg.on === true;
      if (!tracing) trace.disable();
      reply(msg.id, tracing);
    } else if (msg.type === 'counters') {
      reply(msg.id, structuredClone(counters));
      if (msg.reset) {
        Object.assign(counters, { requests: 0, commands: 0, byName: {}, waves: 0 });
      }
    } else if (msg.type === 'profile-start') {
      await profileStart();
      reply(msg.id, null);
    } else if (msg.type === 'profile-stop') {
      reply(msg.id, await profileStop(msg.dir ?? '.'));
    } else if (msg.type === 'fill') {
      reply(msg.id, await fill(tfa, msg.from ?? 0, msg.count ?? 0));
    } else if (msg.type === 'guardcost') {
      // On real requests kept from live traffic (bench/guard-cost.ts), and on the old fake request.
      const fake = await guardCost(tfa.requireSecondFactor, msg.cookie ?? '', msg.user ?? 0);
      const real = await realGuardCost(server, tfa.requireSecondFactor, handRolled, msg.cookie ?? '');
      reply(msg.id, { ...real, fakeUs: fake.ownUs });
    } else if (msg.type === 'metrics') {
      reply(msg.id, metered ? await metered.points() : null);
    } else if (msg.type === 'metricscost') {
      reply(msg.id, metered ? metricsCost(metered.meterProvider) : null);
    } else if (msg.type === 'record') {
      if (msg.on) recordStart((msg.kind === 'redis' ? second : memory) as Store);
      reply(msg.id, msg.on ? null : recordStop());
    } else if (msg.type === 'track') {
      if (msg.on) trackStart((msg.kind === 'redis' ? second : memory) as Store);
      else trackStop();
      reply(msg.id, tracked.size);
    } else if (msg.type === 'size') {
      // Array buffers too: the memory table's slot tags live there, so a resize of it shows.
      reply(msg.id, { entries: await entries(msg.kind), arrayBuffers: process.memoryUsage().arrayBuffers });
    } else if (msg.type === 'trim') {
      // Back to the seeded size: the last pool's keys, express-session's sessions, the codes kept.
      const before = await entries(msg.kind);
      const removed = await trim((msg.kind === 'redis' ? second : memory) as Store);
      const held = await new Promise<number>((resolve) => {
        if (!sessions) resolve(0);
        else sessions.length((_error, n) => resolve(n ?? 0));
      });
      sessions?.clear();
      codes.clear();
      reply(msg.id, { before, after: await entries(msg.kind), removed, sessions: held });
    } else if (msg.type === 'seed') {
      const redisPrefix = msg.kind === 'redis' ? (config.redisPrefix ?? `bench:${process.pid}:`) : undefined;
      reply(msg.id, await seed(msg.kind === 'redis' ? second : memory, redisPrefix, msg.count ?? 0));
    } else if (msg.type === 'peer-users') {
      const peer = msg.kind === 'memory' ? peers?.memory : peers?.postgres;
      reply(msg.id, peer ? await peer.addUsers(msg.count ?? 0) : []);
    } else if (msg.type === 'code') {
      reply(msg.id, codes.get(phoneOf(msg.user ?? 0)) ?? null);
    } else if (msg.type === 'peer-code') {
      reply(msg.id, codes.get(msg.email ?? '') ?? null);
    } else if (msg.type === 'slotcost') {
      reply(msg.id, slotCost(msg.max ?? 1_000_000));
    } else if (msg.type === 'cleanup') {
      // Deletes this server's Redis keys (SCAN + UNLINK under its own prefix only) or its PostgreSQL table.
      let removed = 0;
      if (redis && config.redisPrefix) {
        for await (const keys of redis.scanIterator({ MATCH: `${config.redisPrefix}*`, COUNT: 10_000 })) {
          const list = (Array.isArray(keys) ? keys : [keys]) as string[];
          if (list.length > 0) removed += Number(await redis.sendCommand(['UNLINK', ...list]));
        }
      }
      if (cluster && config.redisPrefix) {
        for (const master of cluster.masters) {
          const node = await cluster.nodeClient(master);
          for await (const keys of node.scanIterator({ MATCH: `${config.redisPrefix}*`, COUNT: 1000 })) {
            const list = (Array.isArray(keys) ? keys : [keys]) as string[];
            for (const key of list) removed += Number(await node.sendCommand(['UNLINK', key]));
          }
        }
      }
      if (postgres) {
        await postgres.shutdown();
        const pool = new pg.Client({
          connectionString: process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test',
        });
        await pool.connect();
        const { rows } = await pool.query(`SELECT count(*)::int AS n FROM "${postgres.table}"`);
        removed += (rows[0] as { n: number }).n;
        await pool.query(`DROP TABLE IF EXISTS "${postgres.table}"`);
        await pool.query(`DROP FUNCTION IF EXISTS "${postgres.table}_verify"`);
        await pool.query(`DROP FUNCTION IF EXISTS "${postgres.table}_verify_many"`);
        await pool.end();
      }
      reply(msg.id, removed);
    } else if (msg.type === 'exit') {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (redis?.isOpen) redis.destroy();
      cluster?.destroy();
      await closePostgres?.();
      await peers?.postgres.close();
      reply(msg.id, null);
      process.exit(0); // a normal exit writes the --cpu-prof profile
    }
  });
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port, package: PACKAGE });
}

/**
 * GETs of `/bare` each app server answers at start, before it says it is ready. V8 sizes
 * IncomingMessage's and ServerResponse's in-object fields over their first 7 constructions
 * (in-object slack tracking); a full GC inside that window (measure()'s first warm-up pass, or a
 * case's heap reading) left a process that had answered fewer requests with no in-object field, and
 * its requests in dictionary mode: every route of it cheaper or dearer than the same route in a
 * process that had answered more (the guard case's rememberDevice process served `/bare` at half
 * the first one's CPU, BENCHMARKS.md s9-guard; the scale case's processes answer two before their
 * first heap reading). A real server sizes them on live requests; so does every bench server now,
 * whatever its case does first (bench/request-maps-check.ts shows each process's layout).
 */
const SETTLE_REQUESTS = 16;

/**
 * `SETTLE_REQUESTS` GETs of `/bare` through `app`, each on a connection of its own from a raw
 * socket (a client in this process would make IncomingMessages of its own), on a listener of its
 * own: `exclusive`, so that a cluster worker answers them itself (on the port the workers share,
 * the primary could hand them to another worker). Not counted in `counters`.
 */
async function settle(app: RequestListener): Promise<void> {
  const warm = createServer(app);
  await new Promise<void>((resolve) => warm.listen({ port: 0, host: '127.0.0.1', exclusive: true }, resolve));
  const { port } = warm.address() as AddressInfo;
  try {
    for (let i = 0; i < SETTLE_REQUESTS; i++) {
      const head = await new Promise<string>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1');
        let data = '';
        socket.setEncoding('latin1');
        socket.on('data', (chunk: string) => {
          data += chunk;
        });
        socket.on('end', () => resolve(data));
        socket.on('error', reject);
        socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
        socket.write(`GET /bare HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: close\r\n\r\n`);
      });
      if (!head.startsWith('HTTP/1.1 200'))
        throw new Error(`settling: GET /bare answered ${head.slice(0, 12)}`);
    }
  } finally {
    warm.closeAllConnections();
    await new Promise<void>((resolve) => warm.close(() => resolve()));
  }
}

/**
 * Starts challenges for users `from`..`from+count-1` by calling the middleware's `POST /2fa/send`
 * in-process: the real route, budgets and store, with no socket or HTTP parser in between.
 */
async function fill(tfa: RequestHandler, from: number, count: number) {
  const statuses: Record<string, number> = {};
  for (let n = from; n < from + count; n++) {
    const status = await new Promise<number>((resolve, reject) => {
      const req = {
        method: 'POST',
        url: '/2fa/send',
        path: '/2fa/send',
        baseUrl: '',
        originalUrl: '/2fa/send',
        headers: { 'content-type': 'application/json', host: '127.0.0.1', 'x-user': String(n) },
        body: {},
        query: {},
        readableEnded: true,
        ip: '127.0.0.1',
      };
      const res = {
        statusCode: 200,
        setHeader: () => res,
        getHeader: () => undefined,
        status(code: number) {
          res.statusCode = code;
          return res;
        },
        json: () => resolve(res.statusCode),
        end: () => resolve(res.statusCode),
        cookie: () => res,
        clearCookie: () => res,
        redirect: () => resolve(303),
      };
      tfa(req as unknown as Request, res as unknown as Response, (error?: unknown) =>
        error ? reject(error) : resolve(404),
      );
    });
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  return statuses;
}

/**
 * The guard's own cost per call, in-process: `guard` is called with a request shaped like the one
 * express-session hands it (the verified browser's cookies, its session), minus the same harness
 * around the hand-rolled flag check. Each figure is the fastest of 7 batches: the machine's noise
 * only ever adds time.
 */
async function guardCost(guard: RequestHandler, cookie: string, user: number) {
  const raw = /(?:^|;\s*)connect\.sid=([^;]+)/.exec(cookie)?.[1] ?? '';
  const signed = decodeURIComponent(raw);
  const sessionID = signed.slice(2, signed.lastIndexOf('.'));
  const req = {
    method: 'GET',
    originalUrl: '/guarded',
    headers: { cookie, accept: 'application/json' },
    session: { user: { id: userId(user), phone: phoneOf(user) }, twoFactorOk: true },
    sessionID,
  } as unknown as Request;
  const res = refusingResponse;
  const time = async (handler: RequestHandler) => {
    const once = () =>
      new Promise<void>((resolve, reject) => {
        void handler(req, res, (error?: unknown) => (error ? reject(error) : resolve()));
      });
    const batch = 20_000;
    for (let i = 0; i < batch; i++) await once();
    const batches: number[] = [];
    for (let round = 0; round < 7; round++) {
      const t0 = performance.now();
      for (let i = 0; i < batch; i++) await once();
      batches.push(((performance.now() - t0) * 1000) / batch);
    }
    return Math.min(...batches);
  };
  const guardUs = await time(guard);
  const harnessUs = await time(handRolled);
  return { guardUs, harnessUs, ownUs: guardUs - harnessUs };
}

/** What one real send left in a store: every key it wrote and did not remove, with how it wrote it. */
interface Written {
  op: 'set' | 'increment';
  key: string;
  /** The value passed to `set`/`compareAndSet`; `increment` leaves the count 1 behind. */
  value: string;
  ttlMs: number;
}

const WRITES = ['set', 'increment', 'compareAndSet', 'delete', 'consume'] as const;
let recording: { store: Store; methods: Record<string, unknown>; writes: Map<string, Written> } | undefined;

/**
 * Records every write `store` takes until `recordStop` (the methods replaced on the object itself,
 * so the routes' store stays the same object; while recording, a memory store counts as any other
 * store and gets deadlines). Used around one real `POST /2fa/send` over HTTP: the scale case's
 * template of a pending challenge, read from the route itself rather than written out by hand.
 */
function recordStart(store: Store): void {
  if (recording) throw new Error('already recording');
  const target = store as unknown as Record<string, unknown>;
  const methods = Object.fromEntries(WRITES.map((name) => [name, target[name]]));
  const writes = new Map<string, Written>();
  recording = { store, methods, writes };
  const inner = methods as Record<string, (...args: unknown[]) => Promise<unknown>>;
  target.set = (key: string, value: string, ttlMs: number) => {
    writes.set(key, { op: 'set', key, value, ttlMs });
    return inner.set?.call(store, key, value, ttlMs);
  };
  target.increment = async (key: string, ttlMs: number) => {
    const count = await inner.increment?.call(store, key, ttlMs);
    if (count === 1) writes.set(key, { op: 'increment', key, value: '1', ttlMs });
    return count;
  };
  if (inner.compareAndSet) {
    target.compareAndSet = async (key: string, expected: unknown, value: string, ttlMs: number) => {
      const done = await inner.compareAndSet?.call(store, key, expected, value, ttlMs);
      if (done === true) writes.set(key, { op: 'set', key, value, ttlMs });
      return done;
    };
  }
  for (const name of ['delete', 'consume'] as const) {
    target[name] = (key: string) => {
      writes.delete(key);
      return inner[name]?.call(store, key);
    };
  }
}

/** Budgets every client shares (per IP, per number prefix, the app's): written once, not per challenge. */
const SHARED = /^b:(?:ip|pre|gh|gd):/;

/**
 * The scale case's pools: every key of its own that the sends building a pool write (the store's
 * write methods wrapped from `track` on to off, around the pool's sends only, never around a
 * measured run), deleted by `trim` before the next pool is built. A right-code verify writes no key
 * of its own (its lock is deleted again), so after a trim the store holds what the seeding left,
 * however many runs the process served: without it every iteration left a number's send budget,
 * the session's newest-challenge pointer and the message id behind (and express-session a session).
 */
let tracking: { store: Store; methods: Record<string, unknown> } | undefined;
const tracked = new Set<string>();
const TRACKED = ['set', 'increment', 'compareAndSet'] as const;

function trackStart(store: Store): void {
  if (tracking || recording) throw new Error('already tracking or recording');
  const target = store as unknown as Record<string, unknown>;
  // Only the methods the store has (restoring an absent one would add it as `undefined`).
  const methods = Object.fromEntries(
    TRACKED.filter((name) => target[name]).map((name) => [name, target[name]]),
  );
  tracking = { store, methods };
  for (const [name, method] of Object.entries(methods)) {
    const inner = method as (...args: unknown[]) => Promise<unknown>;
    target[name] = (key: string, ...rest: unknown[]) => {
      if (!SHARED.test(key)) tracked.add(key);
      return inner.call(store, key, ...rest);
    };
  }
}

function trackStop(): void {
  if (!tracking) throw new Error('not tracking');
  Object.assign(tracking.store, tracking.methods);
  tracking = undefined;
}

/** Deletes every tracked key (already consumed ones are no-ops); how many were tracked. */
async function trim(store: Store): Promise<number> {
  if (tracking) throw new Error('trim while tracking');
  const keys = [...tracked];
  tracked.clear();
  for (const key of keys) await store.delete(key);
  return keys.length;
}

/** Restores the store's own methods and compiles what it recorded into `template`. */
function recordStop(): { keys: { key: string; op: string; valueLength: number; ttlMs: number }[] } {
  if (!recording) throw new Error('not recording');
  const { store, methods, writes } = recording;
  Object.assign(store, methods);
  recording = undefined;
  const own = [...writes.values()].filter((w) => !SHARED.test(w.key));
  if (own.length === 0) throw new Error('the recorded send wrote nothing of its own');
  template = compileTemplate(own);
  // Shapes only (a key's kind and lengths): a value may hold a sealed code, and is never printed.
  return {
    keys: own.map((w) => ({
      key: w.key.replace(/[\w-]{8,}/g, (t) => `<${t.length}>`),
      op: w.op,
      valueLength: w.value.length,
      ttlMs: w.ttlMs,
    })),
  };
}

/**
 * The recorded writes as text with holes: every run of 8+ id characters that holds a letter (ids,
 * hashes, sealed data; never a timestamp or a TTL) is a token, replaced in each copy by fresh random
 * text of the same length and alphabet, the same token by the same text in every key and value of
 * one copy (a challenge's record and send state stay one challenge). A token that starts with another
 * (a challenge id followed by its user's tag) keeps that one's replacement and its own tail.
 */
interface Template {
  writes: { op: 'set' | 'increment'; ttlMs: number; key: (string | number)[]; value: (string | number)[] }[];
  tokens: { length: number; hex: boolean; base: number; tail: string }[];
}
let template: Template | undefined;

function compileTemplate(writes: Written[]): Template {
  const TOKEN = /[\w-]{8,}/g;
  const found = new Set<string>();
  for (const w of writes)
    for (const text of [w.key, w.value])
      for (const m of text.matchAll(TOKEN)) if (/[A-Za-z_-]/.test(m[0])) found.add(m[0]);
  const sorted = [...found].sort((x, y) => x.length - y.length);
  const tokens = sorted.map((t) => {
    const base = sorted.findIndex((p) => p.length < t.length && t.startsWith(p));
    return {
      length: base >= 0 ? (sorted[base] as string).length : t.length,
      hex: /^[0-9a-f]+$/.test(t),
      base,
      tail: base >= 0 ? t.slice((sorted[base] as string).length) : '',
    };
  });
  const index = new Map(sorted.map((t, i) => [t, i]));
  const split = (text: string) => {
    const parts: (string | number)[] = [];
    let at = 0;
    for (const m of text.matchAll(TOKEN)) {
      const i = index.get(m[0]);
      if (i === undefined) continue;
      parts.push(text.slice(at, m.index), i);
      at = (m.index ?? 0) + m[0].length;
    }
    parts.push(text.slice(at));
    return parts;
  };
  return {
    writes: writes.map((w) => ({ op: w.op, ttlMs: w.ttlMs, key: split(w.key), value: split(w.value) })),
    tokens,
  };
}

/** Random base64url / hex text, cut from one large random block at a time (randomBytes per call is slow). */
const pools = { b64: { text: '', at: 0 }, hex: { text: '', at: 0 } };
function randomText(length: number, hex: boolean): string {
  const pool = hex ? pools.hex : pools.b64;
  if (pool.at + length > pool.text.length) {
    const bytes = randomBytes(3 << 16);
    pool.text = hex ? bytes.toString('hex') : bytes.toString('base64url');
    pool.at = 0;
  }
  pool.at += length;
  return pool.text.slice(pool.at - length, pool.at);
}

/** A copy of a flat string, sharing nothing with the random block it was cut from (as the route's are). */
const flat = (text: string) => Buffer.from(text, 'latin1').toString('latin1');

/** One more pending challenge's writes from the template: fresh ids, hashes and sealed data. */
function copyWrites(t: Template): { op: 'set' | 'increment'; key: string; value: string; ttlMs: number }[] {
  const fresh: string[] = [];
  for (const token of t.tokens) {
    fresh.push(
      token.base >= 0 ? (fresh[token.base] as string) + token.tail : randomText(token.length, token.hex),
    );
  }
  const fill = (parts: (string | number)[]) =>
    flat(parts.map((p) => (typeof p === 'number' ? (fresh[p] as string) : p)).join(''));
  return t.writes.map((w) => ({ op: w.op, key: fill(w.key), value: fill(w.value), ttlMs: w.ttlMs }));
}

/**
 * `count` pending challenges written straight into `store` (the scale case: a million sends through
 * the route would take minutes), each a copy of the one real send recorded before (`record`): the
 * same keys, value lengths, TTLs and store methods, with fresh random ids, hashes and sealed data.
 * The memory store takes them through its own methods, in-process, 1 000 challenges per batch.
 * Redis takes them as raw `SET key value PX ttl` commands pipelined on a socket of their own
 * (an `increment` of a fresh key leaves the count 1 with that TTL: `SET key 1 PX ttl`), 2 000
 * challenges per batch, each batch's replies all read before the next.
 */
async function seed(store: Store | undefined, redisPrefix: string | undefined, count: number) {
  if (!store) throw new Error('seed: no such store');
  if (!template) throw new Error('seed: record one real send first');
  const t = template;
  const t0 = Date.now();
  let writes = 0;
  if (redisPrefix === undefined) {
    for (let from = 0; from < count; from += 1000) {
      const pending: Promise<unknown>[] = [];
      for (let n = from; n < Math.min(count, from + 1000); n++) {
        for (const w of copyWrites(t)) {
          pending.push(w.op === 'set' ? store.set(w.key, w.value, w.ttlMs) : store.increment(w.key, w.ttlMs));
          writes++;
        }
      }
      await Promise.all(pending);
    }
  } else {
    writes = await seedRedis(t, redisPrefix, count);
  }
  return { count, writes, seconds: (Date.now() - t0) / 1000 };
}

async function seedRedis(t: Template, prefix: string, count: number): Promise<number> {
  const socket = connect(Number(process.env.REDIS_PORT || 6379), '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.setNoDelay(true);
  const bulk = (text: string) => `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
  let waiting = 0;
  let onDone: ((error?: Error) => void) | undefined;
  let rest = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    const text = rest + chunk;
    let at = 0;
    for (let end = text.indexOf('\r\n'); end >= 0; end = text.indexOf('\r\n', at)) {
      if (text.charCodeAt(at) !== 43) onDone?.(new Error(`redis: ${text.slice(at, end)}`)); // '+'
      at = end + 2;
      waiting--;
    }
    rest = text.slice(at);
    if (waiting === 0) onDone?.();
  });
  let writes = 0;
  // The process's own database first (`+OK`, read like the SETs' replies).
  let select = config.redisDatabase ? `*2\r\n$6\r\nSELECT\r\n${bulk(String(config.redisDatabase))}` : '';
  try {
    for (let from = 0; from < count; from += 2000) {
      let batch = select;
      waiting += select ? 1 : 0;
      select = '';
      let commands = 0;
      for (let n = from; n < Math.min(count, from + 2000); n++) {
        for (const w of copyWrites(t)) {
          const ttl = String(Math.max(1, Math.ceil(w.ttlMs)));
          batch += `*5\r\n$3\r\nSET\r\n${bulk(prefix + w.key)}${bulk(w.value)}$2\r\nPX\r\n${bulk(ttl)}`;
          commands++;
        }
      }
      waiting += commands;
      await new Promise<void>((resolve, reject) => {
        onDone = (error) => (error ? reject(error) : resolve());
        socket.write(batch);
      });
      writes += commands;
    }
  } finally {
    socket.destroy();
  }
  return writes;
}

/** Heap and array-buffer bytes a `memoryStore({ max })` holds per slot before any entry (lru-cache preallocates). */
function slotCost(max: number) {
  const before = fullHeap();
  const before2 = process.memoryUsage().arrayBuffers;
  const extra = benchMemoryStore(max);
  void extra.set('k', 'v', 60_000); // the first TTL allocates the TTL arrays
  const after = fullHeap();
  const after2 = process.memoryUsage().arrayBuffers;
  const bytes = after.heapUsed - before.heapUsed + (after2 - before2);
  void extra.shutdown?.();
  return {
    max,
    heapBytes: after.heapUsed - before.heapUsed,
    bufferBytes: after2 - before2,
    perSlot: bytes / max,
  };
}

(config.kind === 'fake' ? startFake() : startApp()).catch((error: unknown) => {
  console.error('bench server failed to start:', error);
  process.exit(1);
});
