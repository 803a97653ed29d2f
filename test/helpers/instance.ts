/**
 * One app instance as its own process, for the multi-instance tests: the test app of
 * `create-app.ts` (express-session login, the 2FA middleware, protected routes) with both the
 * 2FA store and the login sessions in one shared database (Redis or PostgreSQL), so that several
 * of these processes behind a "load balancer" share sessions, challenges and counters.
 *
 *     node --import tsx test/helpers/instance.ts
 *
 * Environment:
 * - `TFA_STORE`: `redis` (default) or `postgres`
 * - `TFA_CLIENT`: for Redis `node-redis` (default), `ioredis`, or on a Redis Cluster
 *   `node-redis-cluster` / `ioredis-cluster`; for PostgreSQL `pg` (default) or
 *   `postgres` (postgres.js), each wired as the README shows
 * - `REDIS_URL`: default `redis://127.0.0.1:6379`
 * - `TFA_PREFIX` (Redis, required): key prefix of this test run; sessions live under
 *   `<prefix>session:`, the 2FA store under `<prefix>2fa:`
 * - `DATABASE_URL` (PostgreSQL, required): e.g. `postgres://postgres@127.0.0.1:5432/test`
 * - `TFA_TABLE` (PostgreSQL, required): the 2FA store's table; sessions live in `<table>_sessions`.
 *   The test creates both.
 * - `TFA_SECRET`, `TFA_SESSION_SECRET`: the 2FA secret and the session secret, the same for every
 *   instance (required)
 * - `TFA_USERS`: JSON `{ username: { id, phone, password } }` of the accounts that can log in (required)
 * - `TFA_OPTIONS`: JSON merged into the `twoFactor()` options (e.g. `{"lockout":{"threshold":3}}`)
 *
 * Prints `LISTENING <port>` on stdout once it listens on 127.0.0.1 (port 0: a free one). Exits when
 * its stdin closes, so an instance never outlives the test process that started it.
 *
 * Test-only routes (they exist in this test app, never in the package):
 * - `GET /__test/last-code?phone=+32…`: `{ code, sent }`, the newest code this instance's
 *   memoryTransport recorded for that number and how many messages it recorded for it
 * - `POST /__test/reset`: forgets the recorded messages
 */
import express from 'express';
import session from 'express-session';
import type { TwoFactorOptions } from '../../src/options.js';
import { postgresStore } from '../../src/stores/postgres-store.js';
import { redisStore, type SendCommand } from '../../src/stores/redis-store.js';
import type { Store } from '../../src/stores/store.js';
import { memoryTransport } from '../../src/transports/memory.js';
import { twoFactor } from '../../src/two-factor.js';

const SESSION_TTL_MS = 60 * 60 * 1000;

/** The smallest express-session store over a 2FA `Store`: JSON values with the cookie's TTL. */
class StoreSessionStore extends session.Store {
  constructor(private readonly store: Store) {
    super();
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    this.store.get(sid).then(
      (raw) => callback(null, raw === undefined ? null : (JSON.parse(raw) as session.SessionData)),
      (error: unknown) => callback(error),
    );
  }

  override set(sid: string, data: session.SessionData, callback?: (err?: unknown) => void): void {
    const ttl = data.cookie?.maxAge ?? SESSION_TTL_MS;
    this.store.set(sid, JSON.stringify(data), Math.max(1, ttl)).then(
      () => callback?.(),
      (error: unknown) => callback?.(error),
    );
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.store.delete(sid).then(
      () => callback?.(),
      (error: unknown) => callback?.(error),
    );
  }
}

interface Account {
  id: string;
  phone: string;
  password: string;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`instance: ${name} is required`);
  return value;
}

interface Stores {
  tfa: Store;
  sessions: Store;
  close: () => Promise<void> | void;
}

/** Only the client asked for is loaded: a child starts in about a second on a quiet machine. */
async function connectRedis(
  url: string,
  kind: string,
): Promise<{ sendCommand: SendCommand; close: () => void }> {
  if (kind === 'ioredis-cluster' || kind === 'node-redis-cluster') {
    // The README's cluster adapters; REDIS_URL names one node, the client finds the others.
    const { hostname, port } = new URL(url);
    if (kind === 'ioredis-cluster') {
      const { Cluster } = await import('ioredis');
      const cluster = new Cluster([{ host: hostname, port: Number(port) }], { lazyConnect: true });
      cluster.on('error', () => {});
      await cluster.connect();
      return { sendCommand: (cmd, ...args) => cluster.call(cmd, ...args), close: () => cluster.disconnect() };
    }
    const { createCluster } = await import('redis');
    const cluster = createCluster({ rootNodes: [{ url }] });
    cluster.on('error', () => {});
    await cluster.connect();
    return {
      sendCommand: (...args) =>
        cluster.sendCommand(/^EVAL/i.test(args[0] ?? '') ? args[3] : args[1], false, args),
      close: () => cluster.destroy(),
    };
  }
  if (kind === 'ioredis') {
    const { Redis } = await import('ioredis');
    const client = new Redis(url, { lazyConnect: true });
    client.on('error', () => {});
    await client.connect();
    return { sendCommand: (cmd, ...args) => client.call(cmd, ...args), close: () => client.disconnect() };
  }
  const { createClient } = await import('redis');
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  return { sendCommand: (...args) => client.sendCommand(args), close: () => client.destroy() };
}

async function redisStores(): Promise<Stores> {
  const prefix = required('TFA_PREFIX');
  const redis = await connectRedis(
    process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    process.env.TFA_CLIENT || '',
  );
  return {
    tfa: redisStore({ sendCommand: redis.sendCommand, prefix: `${prefix}2fa:` }),
    sessions: redisStore({ sendCommand: redis.sendCommand, prefix: `${prefix}session:` }),
    close: redis.close,
  };
}

/** The README's two adapters. A small pool: the test machine's PostgreSQL is shared. */
async function postgresStores(): Promise<Stores> {
  const url = required('DATABASE_URL');
  const table = required('TFA_TABLE');
  let query: Parameters<typeof postgresStore>[0]['query'];
  let close: () => Promise<void>;
  if (process.env.TFA_CLIENT === 'postgres') {
    const { default: postgres } = await import('postgres');
    const sql = postgres(url, { max: 5 });
    query = async (text, params) => ({ rows: await sql.unsafe(text, params as never[], { prepare: true }) });
    close = () => sql.end({ timeout: 1 });
  } else {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: url, max: 5 });
    pool.on('error', () => {});
    query = (text, params) => pool.query(text, params);
    close = () => pool.end();
  }
  return {
    tfa: postgresStore({ query, table }),
    sessions: postgresStore({ query, table: `${table}_sessions` }),
    close,
  };
}

const users = JSON.parse(required('TFA_USERS')) as Record<string, Account>;
const extra = JSON.parse(process.env.TFA_OPTIONS || '{}') as Partial<TwoFactorOptions>;
const stores = process.env.TFA_STORE === 'postgres' ? await postgresStores() : await redisStores();
const transport = memoryTransport();

const app = express();
app.use(
  session({
    secret: required('TFA_SESSION_SECRET'),
    resave: false,
    saveUninitialized: false,
    store: new StoreSessionStore(stores.sessions),
  }),
);

const tfa = twoFactor({
  secret: required('TFA_SECRET'),
  getUser: (req) => {
    const user = req.session.user;
    return user ? { id: user.id, phone: user.phone, sessionId: req.sessionID, version: 0 } : null;
  },
  transport,
  store: stores.tfa,
  allowedCountries: ['BE', 'NL'],
  cookie: { secure: false },
  logger: { warn: (m) => process.stderr.write(`${m}\n`), error: (m) => process.stderr.write(`${m}\n`) },
  ...extra,
});

app.post('/login', express.urlencoded({ extended: false }), express.json(), (req, res, next) => {
  const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
  const user = username && Object.hasOwn(users, username) ? users[username] : undefined;
  if (!user || user.password !== password) {
    res.status(401).send('bad login');
    return;
  }
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.user = { id: user.id, phone: user.phone };
    res.status(200).send('ok');
  });
});
app.use(tfa);
app.get('/account', tfa.requireSecondFactor, (req, res) => {
  res.send(`account of ${req.session.user?.id} via ${req.secondFactor?.method}`);
});

app.get('/__test/last-code', (req, res) => {
  const phone = String(req.query.phone ?? '');
  const digits = phone.replace(/\D/g, '');
  res.json({
    code: transport.lastCode(phone) ?? null,
    sent: transport.messages.filter((m) => m.to.replace(/\D/g, '') === digits).length,
  });
});
app.post('/__test/reset', (_req, res) => {
  transport.clear();
  res.status(204).end();
});

const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = address && typeof address === 'object' ? address.port : 0;
  process.stdout.write(`LISTENING ${port}\n`);
});

function shutdown(): void {
  server.close();
  server.closeAllConnections();
  void stores.close();
  process.exit(0);
}
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
