/**
 * Helpers for tests that talk to a real PostgreSQL: the shared server on 127.0.0.1:5432 (user
 * postgres, database test, or PGHOST / PGPORT / PGUSER / PGDATABASE), clients for `pg` and
 * `postgres` (porsager) wired with the README's adapters, per-file table names, and a TCP proxy
 * in front of the server that a fault test can cut or hang.
 *
 *     const postgresUp = await requirePostgres();          // top level of the test file
 *     describe.skipIf(!postgresUp)('…', () => { … });
 */

import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { tableIdentifier } from '../../src/stores/postgres/sql.js';
import { lockSeed } from '../../src/stores/postgres/verify-function.js';
import { type PostgresQuery, postgresStore } from '../../src/stores/postgres-store.js';

export const PG_HOST = process.env.PGHOST || '127.0.0.1';
export const PG_PORT = Number(process.env.PGPORT || 5432);
export const PG_USER = process.env.PGUSER || 'postgres';
export const PG_DATABASE = process.env.PGDATABASE || 'test';

/** `postgres://user@host:port/database` for the shared server, or for `port` (a proxy). */
export function postgresUrl(port = PG_PORT, host = PG_HOST): string {
  const password = process.env.PGPASSWORD ? `:${encodeURIComponent(process.env.PGPASSWORD)}` : '';
  return `postgres://${encodeURIComponent(PG_USER)}${password}@${host}:${port}/${encodeURIComponent(PG_DATABASE)}`;
}

// ---------------------------------------------------------------------------------------------
// Is there a PostgreSQL? Skip loudly, or fail in CI.

/** True when `CI` (any value but '', '0', 'false') or `REQUIRE_POSTGRES=1` is set: a skip becomes a failure. */
export function postgresIsRequired(): boolean {
  const ci = process.env.CI;
  const ciSet = ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
  const required = process.env.REQUIRE_POSTGRES;
  return ciSet || required === '1' || required === 'true';
}

/**
 * Call once at the top level of a test file. True when PostgreSQL answers `SELECT 1`; otherwise
 * throws under CI / `REQUIRE_POSTGRES=1`, else warns loudly and returns false.
 */
export async function requirePostgres(): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: 2000 });
  let why: string;
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch (error) {
    why = error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
  const what = `PostgreSQL does not answer on ${PG_HOST}:${PG_PORT} (database ${PG_DATABASE}, user ${PG_USER}: ${why})`;
  const fix =
    'Start one (Debian: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start; createdb -U postgres test) or set PGHOST/PGPORT/PGUSER/PGDATABASE.';
  if (postgresIsRequired()) {
    throw new Error(`${what}, and CI / REQUIRE_POSTGRES=1 says the PostgreSQL tests must run. ${fix}`);
  }
  const line = '!'.repeat(100);
  console.warn(
    `\n${line}\n!! SKIPPING PostgreSQL tests: ${what}.\n!! ${fix}\n!! (Set CI or REQUIRE_POSTGRES=1 to make this a failure.)\n${line}\n`,
  );
  return false;
}

// ---------------------------------------------------------------------------------------------
// Clients, with the adapters the README shows.

export interface PostgresConnection {
  query: PostgresQuery;
  close: () => Promise<void>;
}

export interface ConnectOptions {
  /** Another port than the server's (a proxy). */
  port?: number;
  /** Connections in the pool. @default 4 */
  max?: number;
}

/** The two clients the README documents, connected with the README's `query` lines. */
export const POSTGRES_CLIENTS: {
  name: 'pg' | 'postgres';
  connect: (options?: ConnectOptions) => Promise<PostgresConnection>;
}[] = [
  {
    name: 'pg',
    async connect({ port = PG_PORT, max = 4 } = {}) {
      const pool = new pg.Pool({ connectionString: postgresUrl(port), max, connectionTimeoutMillis: 2000 });
      // An idle client whose connection drops emits 'error' on the pool; unhandled, it ends the process.
      pool.on('error', () => {});
      return {
        query: (text, params, name) => pool.query({ name, text, values: params }),
        close: () => pool.end(),
      };
    },
  },
  {
    name: 'postgres',
    async connect({ port = PG_PORT, max = 4 } = {}) {
      const sql = postgres(postgresUrl(port), { max, connect_timeout: 2, onnotice: () => {} });
      return {
        query: async (text, params) => ({
          rows: await sql.unsafe(text, params as never[], { prepare: true }),
        }),
        close: () => sql.end({ timeout: 1 }),
      };
    },
  },
];

/** Wraps `query` and records every statement sent through it, to count round trips. */
export function recordQueries(query: PostgresQuery) {
  const calls: { text: string; params: unknown[]; name: string | undefined }[] = [];
  const wrapped: PostgresQuery = (text, params, name) => {
    calls.push({ text, params: [...(params ?? [])], name });
    return query(text, params, name);
  };
  return {
    query: wrapped,
    calls,
    /** The first word of each statement sent so far, e.g. `['SELECT', 'INSERT']`. */
    verbs: () => calls.map((c) => /^\s*(\w+)/.exec(c.text)?.[1]?.toUpperCase() ?? ''),
    reset: () => {
      calls.length = 0;
    },
  };
}

/** A table name no other test file (or run) shares, e.g. `test_pg_store_4242_9f3a1c0e`. */
export function uniqueTable(label: string): string {
  return `test_${label}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** Drops `table` and its verify function (quoted: the names `uniqueTable` makes are plain identifiers). */
export async function dropTable(query: PostgresQuery, table: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new Error(`dropTable: refusing ${table}`);
  await query(`DROP TABLE IF EXISTS "${table}"`, []);
  await query(`DROP FUNCTION IF EXISTS "${table}_verify"`, []);
  await query(`DROP FUNCTION IF EXISTS "${table}_verify_many"`, []);
}

/**
 * Inside a `describe`: connects before its tests, and after them drops `tables` and disconnects.
 * Returns the connection's `query` (usable once the tests run).
 */
export function usePostgres(
  connect: () => Promise<PostgresConnection>,
  tables: () => string[],
): PostgresQuery {
  let connection: PostgresConnection | undefined;
  beforeAll(async () => {
    connection = await connect();
  });
  afterAll(async () => {
    if (!connection) return;
    try {
      for (const table of tables()) await dropTable(connection.query, table);
    } finally {
      await connection.close();
    }
  });
  return (text, params, name) => {
    if (!connection) throw new Error('usePostgres: not connected yet (call query inside a test)');
    return connection.query(text, params, name);
  };
}

// ---------------------------------------------------------------------------------------------
// A TCP proxy in front of the server, for fault tests: the shared server is never stopped.

export interface CuttableProxy {
  readonly port: number;
  /** Like a database that went away: open connections are reset, new ones are refused at once. */
  cut(): void;
  /** Like a hung database: connections stay open but nothing passes in either direction. */
  hang(): void;
  /** Back to passing everything through (what a hang held back is delivered). */
  restore(): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort = PG_PORT, targetHost = PG_HOST): Promise<CuttableProxy> {
  let mode: 'up' | 'cut' | 'hung' = 'up';
  /** Each open connection: both sockets, and what a hang held back in each direction. */
  const links = new Set<{ client: Socket; upstream: Socket; flush: () => void }>();

  const server: Server = createServer((client) => {
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection({ host: targetHost, port: targetPort });
    const held: [Socket, Buffer][] = [];
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (mode === 'hung') held.push([to, chunk]);
        else to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const link = {
      client,
      upstream,
      flush: () => {
        for (const [to, chunk] of held.splice(0)) to.write(chunk);
      },
    };
    links.add(link);
    const close = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('startProxy: no port');

  const destroyAll = (reset: boolean) => {
    for (const { client, upstream } of links) {
      if (reset) client.resetAndDestroy();
      else client.destroy();
      upstream.destroy();
    }
    links.clear();
  };

  return {
    port: address.port,
    cut() {
      mode = 'cut';
      destroyAll(true);
    },
    hang() {
      mode = 'hung';
    },
    restore() {
      mode = 'up';
      for (const link of links) link.flush();
    },
    async close() {
      destroyAll(false);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The seed a table's verify lock is taken with (what its verify function locks), for tests that hold it. */
export function lockSeedOf(table: string): string {
  return String(lockSeed(tableIdentifier(table).quoted));
}

// ---------------------------------------------------------------------------------------------
// Set-ups the test files share.

/**
 * Inside a `describe`: `usePostgres` on tables of its own, named `<prefix>_<label>_…` by
 * `newTable` and dropped after the tests; `freshStore` migrates a store on a new one and records
 * its statements from after the migration.
 */
export function usePostgresTables(connect: () => Promise<PostgresConnection>, prefix: string) {
  const tables: string[] = [];
  const query = usePostgres(connect, () => tables);
  const newTable = (label: string) => {
    const table = uniqueTable(`${prefix}_${label}`);
    tables.push(table);
    return table;
  };
  async function freshStore(label: string) {
    const table = newTable(label);
    const rec = recordQueries(query);
    const store = postgresStore({ query: rec.query, table });
    await store.migrate();
    rec.reset();
    return { table, rec, store };
  }
  return { query, newTable, freshStore };
}

/** A pg pool, a client beside it and a table name, for one test. */
export interface PoolPerTest {
  pool: pg.Pool;
  /** Not in the pool: holds a transaction (its rows, an advisory lock, its snapshot) open. */
  holder: pg.Client;
  table: string;
}

/**
 * Inside a `describe`: before each test a new `PoolPerTest` (the pool with `poolOptions`, 4
 * connections unless told), after it the table and its functions dropped and both closed. Its
 * fields are set once a test runs.
 */
export function usePoolPerTest(label: string, poolOptions: pg.PoolConfig = {}): PoolPerTest {
  const db = {} as PoolPerTest;
  beforeEach(async () => {
    db.pool = new pg.Pool({ connectionString: postgresUrl(), max: 4, ...poolOptions });
    db.holder = new pg.Client({ connectionString: postgresUrl() });
    await db.holder.connect();
    db.table = uniqueTable(label);
  });
  afterEach(async () => {
    await db.holder.end();
    await dropTable((text, params) => db.pool.query(text, params), db.table);
    await db.pool.end();
  });
  return db;
}

/** A store on the pool's table, through `pool.query` (not migrated). */
export const storeOnPool = ({ pool, table }: PoolPerTest) =>
  postgresStore({ query: (text, params) => pool.query(text, params), table });

/** How many statements on `table` wait for a lock, other than this one. */
export async function lockWaits(pool: pg.Pool, table: string): Promise<number> {
  const { rows } = await pool.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1 AND pid <> pg_backend_pid()`,
    [`%${table}%`],
  );
  return (rows[0] as { n: number }).n;
}
