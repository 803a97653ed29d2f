// redis-one-call and redis-cluster: POST /2fa/verify (wrong and right code) on redisStore, whose
// verify is one script (Store.verifyAttempt), against memoryStore in the same app and the same run;
// on one Redis node (target 0.9×, issue 14) and on a Redis Cluster of 3 masters (target 0.7×,
// issue 15), with the commands per verify counted. `redis-generic` is the same on one node without
// verifyAttempt (the five-method path a custom store takes), for comparison.
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import type { CaseResult, Context } from '../report.js';
import { secondStoreCase } from './second-store.js';

const REDIS_PORT = Number(process.env.REDIS_PORT || 6379);
const CLUSTER_PORT = Number(process.env.REDIS_CLUSTER_PORT || 7001);

/** The first line Redis answers to an inline command on 127.0.0.1:`port` ('' when nothing answers). */
function ask(port: number, command: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let answer = '';
    const done = () => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(1000, done);
    socket.on('error', done);
    socket.on('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.startsWith('+') || answer.startsWith('-') || /cluster_state:\w+/.test(answer)) done();
    });
  });
}

const prefix = () => `bench:${process.pid}:${randomBytes(4).toString('hex')}:`;

export function redisOneCallCase(ctx: Context): Promise<CaseResult> {
  return secondStoreCase(ctx, {
    name: 'redis-one-call',
    config: {
      kind: 'app',
      auth: 'session',
      store: 'memory+redis',
      transport: 'codes',
      redisPrefix: prefix(),
    },
    unavailable: async () =>
      (await ask(REDIS_PORT, 'PING')).startsWith('+PONG')
        ? undefined
        : `skipped: Redis does not answer on 127.0.0.1:${REDIS_PORT} (start redis-server)`,
    unit: 'cmds',
    target: 0.9,
  });
}

export function redisGenericCase(ctx: Context): Promise<CaseResult> {
  return secondStoreCase(ctx, {
    name: 'redis-generic',
    config: {
      kind: 'app',
      auth: 'session',
      store: 'memory+redis',
      redisVerify: 'generic',
      transport: 'codes',
      redisPrefix: prefix(),
    },
    unavailable: async () =>
      (await ask(REDIS_PORT, 'PING')).startsWith('+PONG')
        ? undefined
        : `skipped: Redis does not answer on 127.0.0.1:${REDIS_PORT} (start redis-server)`,
    unit: 'cmds',
    target: 0.7,
  });
}

export function redisClusterCase(ctx: Context): Promise<CaseResult> {
  return secondStoreCase(ctx, {
    name: 'redis-cluster',
    config: {
      kind: 'app',
      auth: 'session',
      store: 'memory+redis-cluster',
      redisClusterPort: CLUSTER_PORT,
      transport: 'codes',
      redisPrefix: prefix(),
    },
    unavailable: async () =>
      (await ask(CLUSTER_PORT, 'CLUSTER INFO')).includes('cluster_state:ok')
        ? undefined
        : `skipped: no Redis Cluster answers on 127.0.0.1:${CLUSTER_PORT} (run .ci/redis-cluster.sh)`,
    unit: 'cmds',
    target: 0.7,
  });
}
