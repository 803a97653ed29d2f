// postgres: the verify case on postgresStore (pg) vs memoryStore, with the queries counted.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { CaseResult, Context } from '../report.js';
import { secondStoreCase } from './second-store.js';

/** The database the bench uses: the machine's PostgreSQL, or `DATABASE_URL`. */
export const BENCH_DATABASE_URL = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';

/** Why PostgreSQL cannot be used, or undefined when it answers `SELECT 1`. */
async function unavailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `skipped: PostgreSQL does not answer at ${BENCH_DATABASE_URL.replace(/:[^:@/]*@/, '@')} (${(error as Error).message})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * One app with two instances of the middleware: memoryStore at /2fa and postgresStore (a pg.Pool,
 * or postgres.js, of 10 connections; a table of this run, migrated at start and dropped at the
 * end) at /r/2fa.
 */
export function postgresCase(
  ctx: Context,
  { asyncCommit = false, client = 'pg' }: { asyncCommit?: boolean; client?: 'pg' | 'postgres' } = {},
): Promise<CaseResult> {
  return secondStoreCase(ctx, {
    name: `postgres${client === 'postgres' ? '-js' : ''}${asyncCommit ? '-async' : ''}`,
    config: {
      kind: 'app',
      auth: 'session',
      store: 'memory+postgres',
      transport: 'codes',
      postgresTable: `bench_${process.pid}_${randomBytes(4).toString('hex')}`,
      postgresAsyncCommit: asyncCommit,
      postgresClient: client,
    },
    unavailable,
    unit: 'queries',
    target: 0.4,
  });
}

/** The same with `synchronous_commit=off` on the store's pool: commits stop waiting for the disk. */
export function postgresAsyncCase(ctx: Context): Promise<CaseResult> {
  return postgresCase(ctx, { asyncCommit: true });
}

/** The same on postgres.js (prepared statements), the README's other adapter. */
export function postgresJsCase(ctx: Context): Promise<CaseResult> {
  return postgresCase(ctx, { client: 'postgres' });
}
