/**
 * The shared databases the multi-instance tests run on: for each, the environment that points
 * `test/helpers/instance.ts` at it (instance A and B on different clients) and how to empty it
 * between tests. Another engine is one more function here and one more entry in the test's list.
 */
import { postgresStore } from '../../src/stores/postgres-store.js';
import {
  dropTable,
  POSTGRES_CLIENTS,
  type PostgresConnection,
  postgresUrl,
  uniqueTable,
} from './postgres.js';
import {
  flushPrefix,
  REDIS_CLIENTS,
  REDIS_HOST,
  REDIS_PORT,
  type RedisConnection,
  uniquePrefix,
} from './redis.js';
import { CLUSTER_PORT, flushClusterPrefix, REDIS_CLUSTER_CLIENTS } from './redis-cluster.js';

/** A shared database the instances use: how to point them at it, and how to empty it between tests. */
export interface Engine {
  name: string;
  up: boolean;
  /** Environment of instance A and of instance B (each on another client). */
  env: [Record<string, string>, Record<string, string>];
  setUp: () => Promise<void>;
  /** Forgets every session, challenge and counter of this file. */
  reset: () => Promise<void>;
  tearDown: () => Promise<void>;
}

export function redisEngine(up: boolean): Engine {
  const prefix = uniquePrefix('multi-instance');
  const env = (client: string) => ({
    TFA_STORE: 'redis',
    TFA_CLIENT: client,
    REDIS_URL: `redis://${REDIS_HOST}:${REDIS_PORT}`,
    TFA_PREFIX: prefix,
  });
  let raw: RedisConnection | undefined;
  return {
    name: 'Redis',
    up,
    env: [env('node-redis'), env('ioredis')],
    setUp: async () => {
      raw = await (REDIS_CLIENTS[0] as (typeof REDIS_CLIENTS)[number]).connect();
    },
    reset: async () => {
      if (raw) await flushPrefix(raw.sendCommand, prefix);
    },
    tearDown: async () => {
      if (!raw) return;
      await flushPrefix(raw.sendCommand, prefix);
      await raw.close();
    },
  };
}

/** A Redis Cluster (3 masters), instance A on node-redis `createCluster`, B on ioredis `Cluster`. */
export function redisClusterEngine(up: boolean): Engine {
  const prefix = uniquePrefix('multi-instance-cluster');
  const [nodeRedis, ioredis] = REDIS_CLUSTER_CLIENTS.map((c) => c.instanceClient);
  const env = (client: string | undefined) => ({
    TFA_STORE: 'redis',
    TFA_CLIENT: client ?? '',
    REDIS_URL: `redis://${REDIS_HOST}:${CLUSTER_PORT}`,
    TFA_PREFIX: prefix,
  });
  return {
    name: 'Redis Cluster',
    up,
    env: [env(nodeRedis), env(ioredis)],
    setUp: async () => {},
    reset: async () => {
      await flushClusterPrefix(prefix);
    },
    tearDown: async () => {
      await flushClusterPrefix(prefix);
    },
  };
}

export function postgresEngine(up: boolean): Engine {
  const table = uniqueTable('multi_instance');
  const tables = [table, `${table}_sessions`];
  const env = (client: string) => ({
    TFA_STORE: 'postgres',
    TFA_CLIENT: client,
    DATABASE_URL: postgresUrl(),
    TFA_TABLE: table,
  });
  let raw: PostgresConnection | undefined;
  return {
    name: 'PostgreSQL',
    up,
    env: [env('pg'), env('postgres')],
    setUp: async () => {
      raw = await (POSTGRES_CLIENTS[0] as (typeof POSTGRES_CLIENTS)[number]).connect({ max: 2 });
      const { query } = raw;
      for (const name of tables) await postgresStore({ query, table: name }).migrate();
    },
    reset: async () => {
      for (const name of tables) await raw?.query(`DELETE FROM "${name}"`, []);
    },
    tearDown: async () => {
      if (!raw) return;
      try {
        for (const name of tables) await dropTable(raw.query, name);
      } finally {
        await raw.close();
      }
    },
  };
}
