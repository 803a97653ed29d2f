// The peer: better-auth's twoFactor plugin (OTP), as its docs wire it into Express, on PostgreSQL
// (its Kysely adapter over a pg.Pool) and on its memory adapter. Used by bench/cases/peer.ts.
import { betterAuth } from 'better-auth';
import { memoryAdapter } from 'better-auth/adapters/memory';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { twoFactor } from 'better-auth/plugins';
import type { Express } from 'express';
import pg from 'pg';

export const PEER_PASSWORD = 'bench-password-0123456789';
const PEER_SECRET = 'bench-better-auth-secret-0123456789-abcdefghij';

export interface Peer {
  /** Where its handler goes: `/ba-pg/api/auth` or `/ba-mem/api/auth`. */
  basePath: string;
  /** Mounts its handler (before any other middleware: its docs say no body parser in front of it). */
  mount(app: Express): void;
  /** Signs up `count` users with 2FA on, ready for `POST <basePath>/sign-in/email`; their e-mails. */
  addUsers(count: number): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * One better-auth instance with its twoFactor plugin (OTP sent through `sendOTP`, kept in `codes` by
 * e-mail). Password hashing is replaced by plain comparison: the first factor is setup, not
 * what is measured, and scrypt would make building the pools take minutes. Rate limiting is off,
 * as our bench options raise our budgets.
 */
export async function createPeer(kind: 'postgres' | 'memory', codes: Map<string, string>): Promise<Peer> {
  const basePath = kind === 'postgres' ? '/ba-pg/api/auth' : '/ba-mem/api/auth';
  let pool: pg.Pool | undefined;
  let schema: string | undefined;
  let database: Parameters<typeof betterAuth>[0]['database'];
  if (kind === 'postgres') {
    // Its own schema, so that its tables never meet anything else in the database.
    schema = `ba_bench_${process.pid}`;
    const url = process.env.DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await admin.end();
    // pg's default pool (10 connections), as for postgresStore in the same run.
    pool = new pg.Pool({ connectionString: url, options: `-c search_path=${schema}` });
    database = pool;
  } else {
    database = memoryAdapter({ user: [], session: [], account: [], verification: [], twoFactor: [] });
  }
  const auth = betterAuth({
    baseURL: 'http://127.0.0.1',
    basePath,
    secret: PEER_SECRET,
    database,
    emailAndPassword: {
      enabled: true,
      password: {
        hash: async (password: string) => password,
        verify: async ({ hash, password }: { hash: string; password: string }) => hash === password,
      },
    },
    plugins: [
      twoFactor({
        otpOptions: {
          sendOTP: ({ user, otp }) => {
            codes.set(user.email, otp);
          },
        },
      }),
    ],
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    advanced: { disableCSRFCheck: true, disableOriginCheck: true },
    logger: { disabled: true },
  });
  if (kind === 'postgres') {
    const { runMigrations } = await getMigrations(auth.options);
    await runMigrations();
  }
  const context = await auth.$context;
  const handler = toNodeHandler(auth);
  let signedUp = 0;
  return {
    basePath,
    mount(app) {
      app.all(`${basePath}/{*any}`, handler);
    },
    async addUsers(count) {
      const emails: string[] = [];
      for (let k = 0; k < count; k++) {
        const email = `peer${signedUp++}@bench.example`;
        const body = { email, password: PEER_PASSWORD, name: 'Peer' };
        const { user } = await auth.api.signUpEmail({ body });
        await context.internalAdapter.updateUser(user.id, { twoFactorEnabled: true });
        emails.push(email);
      }
      return emails;
    },
    async close() {
      if (pool && schema) {
        await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await pool.end();
      }
    },
  };
}
