// verify: POST /2fa/verify (wrong code evaluated, wrong code refused, right code) vs a bare JSON POST.
import { type Server, startServer } from '../child.js';
import { exhaustedPool, login, type Mount, rightCodePool, wrongCodePool } from '../client.js';
import { measure, type Variant } from '../measure.js';
import { type CaseResult, type Context, throughputRows } from '../report.js';

/** maxAttempts in bench/apps.ts: every fresh challenge takes exactly this many evaluated wrong codes. */
export const MAX_ATTEMPTS = 10;

export type VerifyKind = 'bare' | 'wrong' | 'refused' | 'right';

export const VERIFY_NAMES: Record<VerifyKind, string> = {
  bare: 'bare JSON POST',
  wrong: 'wrong code (evaluated)',
  refused: 'wrong code (refused, 429)',
  right: 'right code (fresh challenge)',
};

/** The variant that measures `kind` at `mount`; every request's answer must be `expect`. */
export async function verifyVariant(
  name: string,
  server: Server,
  kind: VerifyKind,
  mount: Mount,
): Promise<Variant> {
  const base = { name, server, method: 'POST' as const, path: `${mount}/verify` };
  if (kind === 'bare') {
    // A signed-in browser's cookie, so express-session does the same work as for the verifies.
    const { jar } = await login(server);
    return {
      ...base,
      path: '/echo',
      fixed: { cookie: jar.header(), body: '{"code":"123456"}' },
      expect: 200,
    };
  }
  if (kind === 'refused') {
    return { ...base, rotate: await exhaustedPool(server, 50, MAX_ATTEMPTS, mount), expect: 429 };
  }
  if (kind === 'wrong') {
    return { ...base, pool: (n) => wrongCodePool(server, n, MAX_ATTEMPTS, mount), expect: 400 };
  }
  return { ...base, pool: (n) => rightCodePool(server, n, mount), expect: 200 };
}

/** One app (memory store), all four variants; pooled variants build fresh browsers before each run. */
export async function verifyCase(ctx: Context): Promise<CaseResult> {
  const server = await startServer(
    'verify',
    { kind: 'app', auth: 'session', store: 'memory', transport: 'codes' },
    { profile: ctx.profile },
  );
  try {
    const variants: Variant[] = [];
    for (const kind of ['bare', 'wrong', 'refused', 'right'] as const) {
      variants.push(await verifyVariant(VERIFY_NAMES[kind], server, kind, '/2fa'));
    }
    const summaries = await measure(variants, ctx.settings, ctx.log);
    const rows = throughputRows('verify', summaries, VERIFY_NAMES.bare, {
      [VERIFY_NAMES.wrong]: 0.8,
      [VERIFY_NAMES.refused]: 0.8,
      [VERIFY_NAMES.right]: 0.8,
    });
    return { name: 'verify', rows, details: { summaries: Object.fromEntries(summaries) } };
  } finally {
    await server.stop();
  }
}
