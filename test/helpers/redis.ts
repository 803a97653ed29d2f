/**
 * Helpers for tests that talk to a real Redis: the shared server on 127.0.0.1:6379, clients for
 * node-redis and ioredis, per-file key prefixes, and a dedicated `redis-server` child process
 * that a test may kill, pause and restart.
 *
 *     const redisUp = await requireRedis();          // top level of the test file
 *     describe.skipIf(!redisUp)('…', () => { … });
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';
import { createClient, type RedisClientOptions } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import type { SendCommand } from '../../src/stores/redis-store.js';

export const REDIS_HOST = '127.0.0.1';
export const REDIS_PORT = Number(process.env.REDIS_PORT || 6379);

// ---------------------------------------------------------------------------------------------
// Is there a Redis? Skip loudly, or fail in CI.

/** True when `CI` (any value but '', '0', 'false') or `REQUIRE_REDIS=1` is set: a skip becomes a failure. */
export function redisIsRequired(): boolean {
  const ci = process.env.CI;
  const ciSet = ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
  return ciSet || process.env.REQUIRE_REDIS === '1' || process.env.REQUIRE_REDIS === 'true';
}

function missing(what: string, fix: string): false {
  if (redisIsRequired()) {
    throw new Error(`${what}, and CI / REQUIRE_REDIS=1 says the Redis tests must run. ${fix}`);
  }
  const line = '!'.repeat(100);
  console.warn(
    `\n${line}\n!! SKIPPING Redis tests: ${what}.\n!! ${fix}\n!! (Set CI or REQUIRE_REDIS=1 to make this a failure.)\n${line}\n`,
  );
  return false;
}

/** Sends an inline PING over a bare socket; true when `+PONG` comes back within `timeoutMs`. */
export function pingRedis(port = REDIS_PORT, host = REDIS_HOST, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

/**
 * Call once at the top level of a test file. True when Redis answers on 127.0.0.1:6379 (or
 * `REDIS_PORT`); otherwise throws under CI / `REQUIRE_REDIS=1`, else warns loudly and returns false.
 */
export async function requireRedis(port = REDIS_PORT): Promise<boolean> {
  if (await pingRedis(port)) return true;
  return missing(
    `Redis does not answer on ${REDIS_HOST}:${port}`,
    `Start one: redis-server --port ${port} --save '' --appendonly no`,
  );
}

/** Like `requireRedis()`, for tests that start their own server: is `redis-server` on the PATH? */
export function requireRedisServerBinary(): boolean {
  const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (result.status === 0) return true;
  return missing(
    '`redis-server` is not on the PATH',
    'Install Redis (>= 6.2) or Valkey and put redis-server on the PATH.',
  );
}

// ---------------------------------------------------------------------------------------------
// Clients and keys.

export type NodeRedisClient = ReturnType<typeof createClient>;

/** A connected node-redis client. Its 'error' events are swallowed: failures surface on the commands. */
export async function connectNodeRedis(
  port = REDIS_PORT,
  options: Omit<RedisClientOptions, 'socket' | 'url'> & { reconnectStrategy?: false | number } = {},
): Promise<NodeRedisClient> {
  const { reconnectStrategy, ...rest } = options;
  const client = createClient({
    ...rest,
    socket: {
      host: REDIS_HOST,
      port,
      connectTimeout: 2000,
      ...(reconnectStrategy === undefined ? {} : { reconnectStrategy }),
    },
  }) as NodeRedisClient;
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** A connected ioredis client. Its 'error' events are swallowed: failures surface on the commands. */
export async function connectIoredis(port = REDIS_PORT, options: RedisOptions = {}): Promise<Redis> {
  const client = new Redis({ host: REDIS_HOST, port, connectTimeout: 2000, ...options, lazyConnect: true });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** The `sendCommand` the README shows for node-redis. */
export const nodeRedisSendCommand =
  (client: NodeRedisClient): SendCommand =>
  (...args) =>
    client.sendCommand(args);

/** The `sendCommand` the README shows for ioredis. */
export const ioredisSendCommand =
  (client: Redis): SendCommand =>
  (cmd, ...args) =>
    client.call(cmd, ...args);

export interface RedisConnection {
  sendCommand: SendCommand;
  close: () => Promise<void>;
}

/**
 * The two clients the README documents, connected with the README's `sendCommand` lines.
 * `failFast` turns off the offline queue, so commands reject at once while Redis is down.
 */
export const REDIS_CLIENTS: {
  name: 'node-redis' | 'ioredis';
  connect: (port?: number, failFast?: boolean) => Promise<RedisConnection>;
}[] = [
  {
    name: 'node-redis',
    async connect(port, failFast) {
      const client = await connectNodeRedis(port, failFast ? { disableOfflineQueue: true } : {});
      return {
        sendCommand: nodeRedisSendCommand(client),
        close: async () => {
          if (client.isOpen) client.destroy();
        },
      };
    },
  },
  {
    name: 'ioredis',
    async connect(port, failFast) {
      const client = await connectIoredis(port, failFast ? { enableOfflineQueue: false } : {});
      return {
        sendCommand: ioredisSendCommand(client),
        close: async () => {
          client.disconnect();
        },
      };
    },
  },
];

/** Wraps `sendCommand` and records every command sent through it, to count round trips. */
export function recordCommands(sendCommand: SendCommand) {
  const calls: string[][] = [];
  const wrapped: SendCommand = (...args) => {
    calls.push(args);
    return sendCommand(...args);
  };
  return {
    sendCommand: wrapped,
    calls,
    /** The command names sent so far, e.g. `['GETDEL', 'EVAL']`. */
    names: () => calls.map((args) => args[0]),
    reset: () => {
      calls.length = 0;
    },
  };
}

/** A key prefix no other test file (or run) shares, e.g. `test:redis-store:4242:9f3a1c0e:`. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** Every key under `prefix`, found with SCAN (never KEYS). */
export async function keysWithPrefix(sendCommand: SendCommand, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const reply = (await sendCommand('SCAN', cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', '1000')) as [
      unknown,
      unknown[],
    ];
    cursor = String(reply[0]);
    for (const key of reply[1]) keys.push(String(key));
  } while (cursor !== '0');
  return [...new Set(keys)].sort();
}

/** Deletes the keys under `prefix` only (SCAN + UNLINK; never FLUSHALL or KEYS). Returns how many. */
export async function flushPrefix(sendCommand: SendCommand, prefix: string): Promise<number> {
  if (!prefix) throw new Error('flushPrefix: refusing an empty prefix');
  const keys = await keysWithPrefix(sendCommand, prefix);
  for (let i = 0; i < keys.length; i += 500) {
    await sendCommand('UNLINK', ...keys.slice(i, i + 500));
  }
  return keys.length;
}

/**
 * Inside a `describe`: connects before its tests, and after them deletes the keys under `prefix`
 * and disconnects. Returns the connection's `sendCommand` (usable once the tests run).
 */
export function useRedis(connect: () => Promise<RedisConnection>, prefix: string): SendCommand {
  let connection: RedisConnection | undefined;
  beforeAll(async () => {
    connection = await connect();
  });
  afterAll(async () => {
    if (!connection) return;
    await flushPrefix(connection.sendCommand, prefix);
    await connection.close();
  });
  return (...args) => {
    if (!connection) throw new Error('useRedis: not connected yet (call sendCommand inside a test)');
    return connection.sendCommand(...args);
  };
}

// ---------------------------------------------------------------------------------------------
// A dedicated redis-server child process.

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** The current process id, undefined while killed. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Kills the server (SIGKILL by default: no goodbye to the clients) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port (empty: nothing is saved) and waits until it answers PING. */
  restart(): Promise<void>;
  /** SIGSTOP: the port stays open but nothing answers, like a hung server. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Kills it and removes its directory. Call in `afterAll`. */
  stop(): Promise<void>;
  /** The server's last output lines, for failure messages. */
  output(): string;
}

const liveServers = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveServers) child.kill('SIGKILL');
  });
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, REDIS_HOST, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('freePort: no port'));
      });
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `redis-server --save '' --appendonly no` on a free port (or `port`) as a child process
 * and resolves once it answers PING. The fault tests kill, pause and restart it.
 */
export async function startRedisServer(
  options: {
    port?: number;
    startTimeoutMs?: number /** More `redis-server` arguments. */;
    args?: string[];
  } = {},
): Promise<RedisServer> {
  installExitHook();
  const port = options.port ?? (await freePort());
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const dir = mkdtempSync(join(tmpdir(), 'express-sms-2fa-redis-'));
  let child: ChildProcess | undefined;
  let log = '';

  function exited(proc: ChildProcess): boolean {
    return proc.exitCode !== null || proc.signalCode !== null;
  }

  async function spawnOnce(): Promise<void> {
    const proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        REDIS_HOST,
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
        ...(options.args ?? []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let spawnError: Error | undefined;
    proc.on('error', (error) => {
      spawnError = error;
    });
    liveServers.add(proc);
    proc.once('exit', () => liveServers.delete(proc));
    child = proc;

    const deadline = Date.now() + startTimeoutMs;
    while (Date.now() < deadline) {
      if (spawnError) throw new Error(`redis-server did not start: ${spawnError.message}`);
      if (exited(proc)) throw new Error(`redis-server exited on port ${port}:\n${log}`);
      if (await pingRedis(port, REDIS_HOST, 250)) return;
      await sleep(25);
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not answer on port ${port} within ${startTimeoutMs} ms:\n${log}`);
  }

  async function start(): Promise<void> {
    // Right after a kill the port can linger for a moment; try a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        await spawnOnce();
        return;
      } catch (error) {
        if (attempt >= 5 || !/Address already in use/i.test(log)) throw error;
        await sleep(100 * attempt);
      }
    }
  }

  async function kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = child;
    if (!proc || exited(proc)) return;
    const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    if (signal !== 'SIGKILL') proc.kill('SIGCONT');
    proc.kill(signal);
    await gone;
  }

  await start();

  return {
    host: REDIS_HOST,
    port,
    get pid() {
      return child && !exited(child) ? child.pid : undefined;
    },
    get running() {
      return child !== undefined && !exited(child);
    },
    kill,
    async restart() {
      await kill();
      await start();
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    output: () => log,
  };
}
