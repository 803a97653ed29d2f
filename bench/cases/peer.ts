// peer: our right-code verify against better-auth's twoFactor verify-otp, on PostgreSQL and in memory.
import { type Server, startServer } from '../child.js';
import { call, Jar, type PooledRequest, parallel } from '../client.js';
import { measure, type Variant } from '../measure.js';
import { PEER_PASSWORD } from '../peer.js';
import { type CaseResult, type Context, type Row, throughputRows } from '../report.js';
import { verifyVariant } from './verify.js';

const TARGET_POSTGRES = 10;

const NAMES = {
  oursMemory: 'express-sms-2fa, memoryStore',
  oursPostgres: 'express-sms-2fa, postgresStore (pg)',
  peerMemory: 'better-auth, memory adapter',
  peerPostgres: 'better-auth, PostgreSQL (Kysely, pg)',
} as const;

/**
 * `count` better-auth verifies with the right code, each on its own fresh challenge of its own
 * fresh user, built before the run exactly like ours: the user is signed up with 2FA on (in-process),
 * signs in with e-mail and password over HTTP (better-auth answers `twoFactorRedirect` and sets its
 * two-factor cookie), asks for the OTP (`POST /two-factor/send-otp`, whose `sendOTP` keeps the code),
 * and the pooled request is `POST /two-factor/verify-otp` with that cookie and `{ code }`.
 */
async function peerPool(server: Server, kind: 'postgres' | 'memory', count: number) {
  const base = kind === 'postgres' ? '/ba-pg/api/auth' : '/ba-mem/api/auth';
  const emails = await server.request<string[]>('peer-users', { kind, count });
  const pool: PooledRequest[] = new Array(count);
  await parallel(count, 16, async (i) => {
    const jar = new Jar();
    const email = emails[i] as string;
    const signIn = await call(server, jar, 'POST', `${base}/sign-in/email`, {
      email,
      password: PEER_PASSWORD,
    });
    if (signIn.status !== 200 || !signIn.text.includes('twoFactorRedirect')) {
      throw new Error(`better-auth sign-in answered ${signIn.status}: ${signIn.text.slice(0, 200)}`);
    }
    const sent = await call(server, jar, 'POST', `${base}/two-factor/send-otp`, {});
    if (sent.status !== 200) throw new Error(`better-auth send-otp answered ${sent.status}: ${sent.text}`);
    const code = await server.request<string | null>('peer-code', { email });
    if (!code) throw new Error('better-auth sent no code');
    pool[i] = { cookie: jar.header(), body: JSON.stringify({ code }) };
  });
  return pool;
}

function peerVariant(name: string, server: Server, kind: 'postgres' | 'memory'): Variant {
  const path = kind === 'postgres' ? '/ba-pg/api/auth' : '/ba-mem/api/auth';
  return {
    name,
    server,
    method: 'POST',
    path: `${path}/two-factor/verify-otp`,
    pool: (n) => peerPool(server, kind, n),
    // Its memory adapter copies the whole database per transaction (a few requests per second once
    // it holds a few hundred users): 60 verifies per run keep the case within minutes.
    ...(kind === 'memory' ? { maxAmount: 60 } : {}),
    expect: 200,
  };
}

/**
 * One app, one process: ours at /2fa (memoryStore) and /r/2fa (postgresStore over a pg.Pool), and
 * better-auth 1.7 at /ba-mem/api/auth (memory adapter) and /ba-pg/api/auth (pg.Pool through its
 * Kysely adapter, tables in a schema of their own). One iteration = one right-code verify of a fresh
 * challenge of a fresh user, built before each run; both end in a verified session: ours sets the
 * verified cookie and clears the challenge, better-auth creates its session row and cookie.
 */
export async function peerCase(ctx: Context): Promise<CaseResult> {
  const server = await startServer(
    'peer',
    {
      kind: 'app',
      auth: 'session',
      store: 'memory+postgres',
      transport: 'codes',
      postgresTable: `bench_peer_${process.pid}`,
      peer: true,
    },
    { profile: ctx.profile },
  );
  try {
    const variants: Variant[] = [
      await verifyVariant(NAMES.oursMemory, server, 'right', '/2fa'),
      await verifyVariant(NAMES.oursPostgres, server, 'right', '/r/2fa'),
      peerVariant(NAMES.peerMemory, server, 'memory'),
      peerVariant(NAMES.peerPostgres, server, 'postgres'),
    ];
    const summaries = await measure(variants, ctx.settings, ctx.log);
    const pick = (rows: Row[], variant: string) => rows.find((r) => r.variant === variant) as Row;
    const overPg = throughputRows('peer', summaries, NAMES.peerPostgres, {
      [NAMES.oursPostgres]: TARGET_POSTGRES,
    });
    const overMemory = throughputRows('peer', summaries, NAMES.peerMemory, {});
    const rows: Row[] = [
      pick(overPg, NAMES.peerPostgres),
      pick(overPg, NAMES.oursPostgres),
      pick(overMemory, NAMES.peerMemory),
      pick(overMemory, NAMES.oursMemory),
    ];
    await server.request('cleanup');
    return { name: 'peer', rows, details: { summaries: Object.fromEntries(summaries) } };
  } finally {
    await server.stop();
  }
}
