// redis: the verify case on redisStore (node-redis) vs memoryStore, with the Redis commands counted.
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { type Server, startServer } from '../child.js';
import { call, type Jar, login, sendCode, verifiedBrowser, wrongCode } from '../client.js';
import { measure, median, type Run, type Variant } from '../measure.js';
import { type CaseResult, type Context, type Row, throughputRows } from '../report.js';
import { VERIFY_NAMES, type VerifyKind, verifyVariant } from './verify.js';

const REDIS_PORT = Number(process.env.REDIS_PORT || 6379);

/** True when Redis answers PING on 127.0.0.1 within a second. */
function pingRedis(): Promise<boolean> {
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

/** Commands and waits (round trips with nothing else in flight) of one request, traced alone. */
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
  await server.request('trace', { on: true });
  const trace = {
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

/** Reads the server's counters around each measured run: Redis commands per request. */
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

/**
 * One app with two instances of the middleware: memoryStore at /2fa and redisStore (node-redis,
 * Redis on 127.0.0.1:6379, keys under a prefix of this run, deleted at the end) at /r/2fa.
 */
export async function redisCase(ctx: Context): Promise<CaseResult> {
  if (!(await pingRedis())) {
    const why = `skipped: Redis does not answer on 127.0.0.1:${REDIS_PORT} (start redis-server)`;
    ctx.log(`  ${why}`);
    return { name: 'redis', rows: [{ case: 'redis', variant: why, met: null }], details: { skipped: why } };
  }
  const server = await startServer(
    'redis',
    {
      kind: 'app',
      auth: 'session',
      store: 'memory+redis',
      transport: 'codes',
      redisPrefix: `bench:${process.pid}:${randomBytes(4).toString('hex')}:`,
    },
    { profile: ctx.profile },
  );
  try {
    const trace = await traceRequests(server);
    for (const [what, t] of Object.entries(trace)) {
      ctx.log(`  ${what}: ${t.commands} commands, ${t.waits} waits ${JSON.stringify(t.byName)}`);
    }
    const kinds: VerifyKind[] = ['wrong', 'right'];
    const variants: Variant[] = [];
    for (const kind of kinds) {
      variants.push(await verifyVariant(`${VERIFY_NAMES[kind]}, memory`, server, kind, '/2fa'));
      variants.push(
        countCommands(await verifyVariant(`${VERIFY_NAMES[kind]}, redis`, server, kind, '/r/2fa')),
      );
    }
    const summaries = await measure(variants, ctx.settings, ctx.log);
    const rows: Row[] = [];
    for (const kind of kinds) {
      const memoryName = `${VERIFY_NAMES[kind]}, memory`;
      const redisName = `${VERIFY_NAMES[kind]}, redis`;
      const pair = new Map([...summaries].filter(([name]) => name === memoryName || name === redisName));
      const pairRows = throughputRows('redis', pair, memoryName, { [redisName]: 0.7 });
      const runs = summaries.get(redisName)?.runs ?? [];
      const perRequest = median(runs.map((r) => r.extra?.commandsPerRequest ?? Number.NaN));
      const one = trace[kind === 'wrong' ? 'POST /2fa/verify, wrong code' : 'POST /2fa/verify, right code'];
      for (const row of pairRows) {
        if (row.variant === redisName) {
          row.value = `${perRequest.toFixed(2)} cmds/req (alone: ${one.commands} cmds, ${one.waits} waits)`;
        }
      }
      rows.push(...pairRows);
    }
    return { name: 'redis', rows, details: { trace, summaries: Object.fromEntries(summaries) } };
  } finally {
    await server.request('cleanup').catch(() => undefined);
    await server.stop();
  }
}
