// What the redis and postgres cases share: the verify case on a shared store at /r/2fa against the
// memory store at /2fa of the same app, in the same run, with the store's round trips counted.
import { type Server, startServer } from '../child.js';
import { call, type Jar, login, sendCode, verifiedBrowser, wrongCode } from '../client.js';
import { measure, median, type Run, type Variant } from '../measure.js';
import { type CaseResult, type Context, type Row, throughputRows } from '../report.js';
import type { ServerConfig } from '../server.js';
import { VERIFY_NAMES, type VerifyKind, verifyVariant } from './verify.js';

export interface SecondStoreCase {
  /** The case's name, and the variants' suffix: `redis`, `postgres`. */
  name: string;
  /** The server config that mounts the store at /r/2fa. */
  config: ServerConfig;
  /** Why the case cannot run here (the server does not answer), or undefined. */
  unavailable: () => Promise<string | undefined>;
  /** What one round trip is called in the rows: `cmds` (Redis commands), `queries`. */
  unit: string;
  /** The minimum ratio against the memory store. */
  target: number;
}

/** Round trips and waits (round trips with nothing else in flight) of one request, traced alone. */
async function traced(server: Server, action: () => Promise<{ status: number }>) {
  await server.counters(true);
  const { status } = await action();
  await new Promise((resolve) => setTimeout(resolve, 50)); // let fire-and-forget deletes go out
  const c = await server.counters(true);
  return { status, commands: c.commands, waits: c.waves, byName: c.byName };
}

async function traceRequests(server: Server) {
  const fresh = async (): Promise<{ jar: Jar; code: string }> => {
    const { jar, user } = await login(server);
    return { jar, code: await sendCode(server, jar, user, '/r/2fa') };
  };
  const wrong = await fresh();
  const right = await fresh();
  const verified = await verifiedBrowser(server);
  const { jar: sender } = await login(server);
  // The first verify a process sends to a server (to each node of a cluster) carries one probe of
  // the server's clock (server-deadline.ts) and, with Redis, loads the script (EVALSHA answers
  // NOSCRIPT, then EVAL): traced first, it reads 3 round trips where every later verify takes one.
  // So it is traced apart, then 16 users' wrong codes reach every node before the warm traces.
  await server.request('trace', { on: true });
  const cold = await fresh();
  const first = await traced(server, () =>
    call(server, cold.jar, 'POST', '/r/2fa/verify', { code: wrongCode(cold.code) }),
  );
  for (let i = 0; i < 16; i++) {
    const warm = await fresh();
    await call(server, warm.jar, 'POST', '/r/2fa/verify', { code: wrongCode(warm.code) });
  }
  const trace = {
    "POST /2fa/verify, the process's first (a clock probe before it; Redis: EVAL if the script is not loaded)":
      first,
    'POST /2fa/send (first send)': await traced(server, () =>
      call(server, sender, 'POST', '/r/2fa/send', {}),
    ),
    'POST /2fa/verify, wrong code': await traced(server, () =>
      call(server, wrong.jar, 'POST', '/r/2fa/verify', { code: wrongCode(wrong.code) }),
    ),
    'POST /2fa/verify, right code': await traced(server, () =>
      call(server, right.jar, 'POST', '/r/2fa/verify', { code: right.code }),
    ),
    'GET through requireSecondFactor': await traced(server, () => call(server, verified, 'GET', '/guarded')),
  };
  await server.request('trace', { on: false });
  return trace;
}

/** Reads the server's counters around each measured run: store round trips per request. */
function countCommands(variant: Variant): Variant {
  return {
    ...variant,
    beforeRun: async () => {
      await variant.server.counters(true);
    },
    afterRun: async (run: Run) => {
      const c = await variant.server.counters(true);
      run.extra = { commandsPerRequest: c.commands / c.requests };
    },
  };
}

/** One app with two instances of the middleware: memoryStore at /2fa and the store under test at /r/2fa. */
export async function secondStoreCase(ctx: Context, spec: SecondStoreCase): Promise<CaseResult> {
  const { name, unit } = spec;
  const why = await spec.unavailable();
  if (why) {
    ctx.log(`  ${why}`);
    return { name, rows: [{ case: name, variant: why, met: null }], details: { skipped: why } };
  }
  const server = await startServer(name, spec.config, { profile: ctx.profile });
  try {
    const trace = await traceRequests(server);
    for (const [what, t] of Object.entries(trace)) {
      ctx.log(`  ${what}: ${t.commands} ${unit}, ${t.waits} waits ${JSON.stringify(t.byName)}`);
    }
    const kinds: VerifyKind[] = ['wrong', 'right'];
    const variants: Variant[] = [];
    for (const kind of kinds) {
      variants.push(await verifyVariant(`${VERIFY_NAMES[kind]}, memory`, server, kind, '/2fa'));
      variants.push(
        countCommands(await verifyVariant(`${VERIFY_NAMES[kind]}, ${name}`, server, kind, '/r/2fa')),
      );
    }
    const summaries = await measure(variants, ctx.settings, ctx.log);
    const rows: Row[] = [];
    for (const kind of kinds) {
      const memoryName = `${VERIFY_NAMES[kind]}, memory`;
      const storeName = `${VERIFY_NAMES[kind]}, ${name}`;
      const pair = new Map(
        [...summaries].filter(([variant]) => variant === memoryName || variant === storeName),
      );
      const pairRows = throughputRows(name, pair, memoryName, { [storeName]: spec.target });
      const runs = summaries.get(storeName)?.runs ?? [];
      const perRequest = median(runs.map((r) => r.extra?.commandsPerRequest ?? Number.NaN));
      const one = trace[kind === 'wrong' ? 'POST /2fa/verify, wrong code' : 'POST /2fa/verify, right code'];
      for (const row of pairRows) {
        if (row.variant === storeName) {
          row.value = `${perRequest.toFixed(2)} ${unit}/req (alone: ${one.commands} ${unit}, ${one.waits} waits)`;
        }
      }
      rows.push(...pairRows);
    }
    return { name, rows, details: { trace, summaries: Object.fromEntries(summaries) } };
  } finally {
    await server.request('cleanup').catch(() => undefined);
    await server.stop();
  }
}
