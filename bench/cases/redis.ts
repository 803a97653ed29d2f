// redis: the verify case on redisStore (node-redis) vs memoryStore, with the Redis commands counted.
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import type { CaseResult, Context } from '../report.js';
import { secondStoreCase } from './second-store.js';

const REDIS_PORT = Number(process.env.REDIS_PORT || 6379);

/** True when Redis answers PING on 127.0.0.1 within a second. */
export function pingRedis(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: REDIS_PORT });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/**
 * One app with two instances of the middleware: memoryStore at /2fa and redisStore (node-redis,
 * Redis on 127.0.0.1:6379, keys under a prefix of this run, deleted at the end) at /r/2fa.
 */
export function redisCase(ctx: Context): Promise<CaseResult> {
  return secondStoreCase(ctx, {
    name: 'redis',
    config: {
      kind: 'app',
      auth: 'session',
      store: 'memory+redis',
      transport: 'codes',
      redisPrefix: `bench:${process.pid}:${randomBytes(4).toString('hex')}:`,
    },
    unavailable: async () =>
      (await pingRedis())
        ? undefined
        : `skipped: Redis does not answer on 127.0.0.1:${REDIS_PORT} (start redis-server)`,
    unit: 'cmds',
    target: 0.7,
  });
}
