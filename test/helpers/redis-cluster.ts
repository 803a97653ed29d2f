/**
 * Helpers for tests on a real Redis Cluster: the shared 3-master cluster on 127.0.0.1:7001–7003
 * (started by `.ci/run`, or here by `.ci/redis-cluster.sh` when nothing answers), the two cluster
 * clients wired as the README shows, per-file key prefixes, and a dedicated cluster of child
 * processes that a test may kill a master of.
 *
 *     const clusterUp = await requireRedisCluster();   // top level of the test file
 *     describe.skipIf(!clusterUp)('…', () => { … });
 */
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Cluster } from 'ioredis';
import { createCluster } from 'redis';
import type { SendCommand } from '../../src/stores/redis-store.js';
import {
  keysWithPrefix,
  REDIS_HOST,
  type RedisConnection,
  type RedisServer,
  startRedisServer,
} from './redis.js';

export const CLUSTER_PORT = Number(process.env.REDIS_CLUSTER_PORT || 7001);
/** The shared cluster's masters. */
export const CLUSTER_PORTS = [CLUSTER_PORT, CLUSTER_PORT + 1, CLUSTER_PORT + 2];
const START_SCRIPT = fileURLToPath(new URL('../../.ci/redis-cluster.sh', import.meta.url));

/** True when `CI` or `REQUIRE_REDIS_CLUSTER=1` is set: a missing cluster fails the tests. */
export function clusterIsRequired(): boolean {
  const ci = process.env.CI;
  const ciSet = ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
  return ciSet || process.env.REQUIRE_REDIS_CLUSTER === '1' || process.env.REQUIRE_REDIS_CLUSTER === 'true';
}

/** Sends one inline command over a bare socket and resolves with the raw answer ('' when none). */
function ask(port: number, command: string, timeoutMs = 1000): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: REDIS_HOST, port });
    let answer = '';
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, done);
    socket.on('error', done);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (/cluster_state:\w+/.test(answer) || answer.startsWith('-')) done();
    });
  });
}

/** `ok`, `fail`, or '' when nothing (or no cluster node) answers on `port`. */
export async function clusterState(port = CLUSTER_PORT): Promise<string> {
  return /cluster_state:(\w+)/.exec(await ask(port, 'CLUSTER INFO'))?.[1] ?? '';
}

/**
 * Call once at the top level of a test file. True when the cluster on 7001–7003 (or
 * `REDIS_CLUSTER_PORT`) is up; when nothing answers it starts one with `.ci/redis-cluster.sh`;
 * without redis-server it throws under CI / `REQUIRE_REDIS_CLUSTER=1`, else warns and skips.
 */
export async function requireRedisCluster(): Promise<boolean> {
  if ((await clusterState()) === 'ok') return true;
  const started = spawnSync('bash', [START_SCRIPT, String(CLUSTER_PORT)], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if ((await clusterState()) === 'ok') return true;
  const what = `no Redis Cluster answers on ${REDIS_HOST}:${CLUSTER_PORTS.join('/')} and .ci/redis-cluster.sh could not start one (${(started.stderr || started.error?.message || '').trim().slice(-300)})`;
  const fix = 'Install redis-server (>= 6.2) and run .ci/redis-cluster.sh';
  if (clusterIsRequired()) {
    throw new Error(`${what}, and CI / REQUIRE_REDIS_CLUSTER=1 says the cluster tests must run. ${fix}`);
  }
  const line = '!'.repeat(100);
  console.warn(`\n${line}\n!! SKIPPING Redis Cluster tests: ${what}.\n!! ${fix}\n${line}\n`);
  return false;
}

/** The README's node-redis adapter: route each command by its first key (a script's 4th argument). */
export function nodeRedisClusterSendCommand(cluster: {
  sendCommand: (key: string | undefined, readonly: boolean, args: string[]) => Promise<unknown>;
}): SendCommand {
  return (...args) => cluster.sendCommand(/^EVAL/i.test(args[0] ?? '') ? args[3] : args[1], false, args);
}

/** The README's ioredis adapter: the same line as for one node (ioredis knows where the keys are). */
export const ioredisClusterSendCommand =
  (cluster: Cluster): SendCommand =>
  (cmd, ...args) =>
    cluster.call(cmd, ...args);

/** The two cluster clients the README documents. `failFast`: no offline queue. */
export const REDIS_CLUSTER_CLIENTS: {
  name: 'node-redis createCluster' | 'ioredis Cluster';
  /** Environment value of `TFA_CLIENT` for test/helpers/instance.ts. */
  instanceClient: string;
  connect: (port?: number, failFast?: boolean) => Promise<RedisConnection>;
}[] = [
  {
    name: 'node-redis createCluster',
    instanceClient: 'node-redis-cluster',
    async connect(port = CLUSTER_PORT, failFast = false) {
      const cluster = createCluster({
        rootNodes: [{ socket: { host: REDIS_HOST, port } }],
        defaults: { socket: { connectTimeout: 2000 }, ...(failFast ? { disableOfflineQueue: true } : {}) },
      });
      cluster.on('error', () => {});
      await cluster.connect();
      return {
        sendCommand: nodeRedisClusterSendCommand(cluster as never),
        close: async () => {
          cluster.destroy();
        },
      };
    },
  },
  {
    name: 'ioredis Cluster',
    instanceClient: 'ioredis-cluster',
    async connect(port = CLUSTER_PORT, failFast = false) {
      const cluster = new Cluster([{ host: REDIS_HOST, port }], {
        lazyConnect: true,
        enableOfflineQueue: !failFast,
        redisOptions: { connectTimeout: 2000 },
      });
      cluster.on('error', () => {});
      await cluster.connect();
      return {
        sendCommand: ioredisClusterSendCommand(cluster),
        close: async () => {
          cluster.disconnect();
        },
      };
    },
  },
];

/** Deletes the keys under `prefix` on every master of the cluster (SCAN + UNLINK key by key). */
export async function flushClusterPrefix(prefix: string, ports = CLUSTER_PORTS): Promise<number> {
  if (!prefix) throw new Error('flushClusterPrefix: refusing an empty prefix');
  const { Redis } = await import('ioredis');
  let deleted = 0;
  for (const port of ports) {
    const node = new Redis({ host: REDIS_HOST, port, lazyConnect: true, connectTimeout: 2000 });
    node.on('error', () => {});
    try {
      await node.connect();
      const send: SendCommand = (cmd, ...args) => node.call(cmd, ...args);
      for (const key of await keysWithPrefix(send, prefix)) {
        await node.call('UNLINK', key).catch(() => {});
        deleted++;
      }
    } catch {
      // A master that is down has nothing to delete.
    } finally {
      node.disconnect();
    }
  }
  return deleted;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface DedicatedCluster {
  ports: number[];
  masters: RedisServer[];
  /** Polls CLUSTER INFO on every running master until each says `state`. */
  waitFor(state: 'ok' | 'fail', timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Three `redis-server --cluster-enabled yes` child processes on free ports, joined with
 * `redis-cli --cluster create`. A killed master restarts on its port with its node config (its
 * directory stays), rejoins with its slots, empty (nothing is saved).
 */
export async function startDedicatedCluster(nodeTimeoutMs = 1000): Promise<DedicatedCluster> {
  const masters: RedisServer[] = [];
  for (let i = 0; i < 3; i++) {
    masters.push(
      await startRedisServer({
        args: [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
        ],
      }),
    );
  }
  const ports = masters.map((m) => m.port);
  const created = spawnSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...ports.map((p) => `${REDIS_HOST}:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (created.status !== 0) {
    for (const m of masters) await m.stop();
    throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  }
  const cluster: DedicatedCluster = {
    ports,
    masters,
    async waitFor(state, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const states = await Promise.all(masters.filter((m) => m.running).map((m) => clusterState(m.port)));
        if (states.every((s) => s === state)) return;
        await sleep(100);
      }
      throw new Error(`the dedicated cluster did not reach cluster_state:${state} within ${timeoutMs} ms`);
    },
    async stop() {
      for (const m of masters) await m.stop();
    },
  };
  await cluster.waitFor('ok');
  return cluster;
}
