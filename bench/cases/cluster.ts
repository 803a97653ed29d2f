// cluster: the package under node:cluster, 2 workers vs 1, Redis store, with the multi-instance
// invariants checked under load.
import { randomBytes } from 'node:crypto';
import { type Server, startServer } from '../child.js';
import { Jar, type PooledRequest, parallel, wrongCode } from '../client.js';
import { measure, type Variant } from '../measure.js';
import { type CaseResult, type Context, type Row, throughputRows } from '../report.js';
import { pingRedis } from './redis.js';
import { MAX_ATTEMPTS } from './verify.js';

const MOUNT = '/r/2fa';

async function post(server: Server, path: string, user: number, jar: Jar, body: unknown) {
  const response = await fetch(server.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user': String(user), cookie: jar.header() },
    body: JSON.stringify(body),
  });
  jar.take(response);
  return { status: response.status, text: await response.text() };
}

/** A fresh user (the first factor is the `x-user` header: no session store to share) with a code sent. */
async function fresh(server: Server, offset: number) {
  const user = offset + server.nextUser();
  const jar = new Jar();
  const sent = await post(server, `${MOUNT}/send`, user, jar, {});
  if (sent.status !== 200)
    throw new Error(`cluster: send answered ${sent.status}: ${sent.text.slice(0, 200)}`);
  const code = await server.request<string | null>('code', { user });
  if (!code) throw new Error('cluster: no code recorded');
  return { user, jar, code };
}

/**
 * The invariants that must hold when requests for one account land on different processes, checked
 * on the 2-worker cluster right after the measured runs (connections go to the workers in turn):
 * - a right-code verify that answered 200 in the runs, replayed, never passes again;
 * - a challenge's code is accepted once: 4 parallel right-code verifies, at most one 200;
 * - at most `maxAttempts` wrong codes are evaluated per challenge (15 sent in parallel), and once
 *   they are used up the right code is refused.
 */
async function invariants(server: Server, offset: number, used: PooledRequest[]) {
  let checks = 0;
  let errors = 0;
  const samples: string[] = [];
  const fail = (what: string) => {
    errors++;
    if (samples.length < 5) samples.push(what);
  };
  await parallel(Math.min(200, used.length), 10, async (i) => {
    const item = used[i] as PooledRequest;
    const res = await fetch(`${server.url}${MOUNT}/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: item.cookie, ...item.headers },
      body: item.body,
    });
    checks++;
    if (res.status === 200) fail('a replayed right code passed');
    await res.text();
  });
  await parallel(50, 5, async () => {
    const { user, jar, code } = await fresh(server, offset);
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => post(server, `${MOUNT}/verify`, user, jarCopy(jar), { code })),
    );
    checks++;
    if (answers.filter((a) => a.status === 200).length > 1) fail('one code passed twice');
  });
  await parallel(50, 5, async () => {
    const { user, jar, code } = await fresh(server, offset);
    const answers = await Promise.all(
      Array.from({ length: MAX_ATTEMPTS + 5 }, () =>
        post(server, `${MOUNT}/verify`, user, jarCopy(jar), { code: wrongCode(code) }),
      ),
    );
    const evaluated = answers.filter(
      (a) => a.status === 400 && a.text.includes('ERR_2FA_CODE_INVALID'),
    ).length;
    checks++;
    if (evaluated > MAX_ATTEMPTS) fail(`${evaluated} wrong codes evaluated (max ${MAX_ATTEMPTS})`);
    if (evaluated === MAX_ATTEMPTS) {
      const right = await post(server, `${MOUNT}/verify`, user, jar, { code });
      checks++;
      if (right.status === 200) fail('the right code passed after the attempts were used up');
    }
  });
  return { checks, errors, samples };
}

/** Another browser tab with the same cookies. */
function jarCopy(jar: Jar): Jar {
  const copy = new Jar();
  for (const [name, value] of jar.cookies) copy.cookies.set(name, value);
  return copy;
}

/**
 * Two cluster primaries (bench/cluster.ts), one with 1 worker and one with 2, each worker the bench
 * app on redisStore (node-redis, one Redis). Measured: right-code verifies of fresh challenges, the
 * connections spread over the workers by the primary; CPU per request adds up the primary and its
 * workers. Then the invariants above, counted as correctness errors.
 */
export async function clusterCase(ctx: Context): Promise<CaseResult> {
  if (!(await pingRedis())) {
    return {
      name: 'cluster',
      rows: [{ case: 'cluster', variant: '2 workers', value: 'skipped: Redis does not answer', met: null }],
      details: {},
    };
  }
  const servers: Server[] = [];
  try {
    const variants: Variant[] = [];
    const lastPool = new Map<string, PooledRequest[]>();
    for (const workers of [1, 2]) {
      const server = await startServer(
        `cluster-${workers}`,
        {
          kind: 'app',
          auth: 'header',
          store: 'memory+redis',
          transport: 'codes',
          redisPrefix: `bench-cluster:${process.pid}:${randomBytes(3).toString('hex')}:`,
          workers,
        } as never,
        { profile: ctx.profile, entry: 'cluster.ts' },
      );
      servers.push(server);
      const name = `right code, ${workers} worker${workers > 1 ? 's' : ''}`;
      // Users numbered apart per server, so that no two servers' budgets or keys meet.
      const offset = workers * 10_000_000;
      variants.push({
        name,
        server,
        method: 'POST',
        path: `${MOUNT}/verify`,
        pool: async (count) => {
          const pool: PooledRequest[] = new Array(count);
          await parallel(count, 16, async (i) => {
            const { user, jar, code } = await fresh(server, offset);
            pool[i] = {
              cookie: jar.header(),
              body: JSON.stringify({ code }),
              headers: { 'x-user': String(user) },
            };
          });
          lastPool.set(name, pool);
          return pool;
        },
        expect: 200,
      });
    }
    const summaries = await measure(variants, ctx.settings, ctx.log);
    const rows: Row[] = throughputRows('cluster', summaries, 'right code, 1 worker', {});
    const two = servers[1] as Server;
    const checked = await invariants(two, 2 * 10_000_000, lastPool.get('right code, 2 workers') ?? []);
    const counters = await two.counters();
    ctx.log(
      `  invariants on 2 workers: ${checked.errors} errors in ${checked.checks} checks; ` +
        `server errors ${counters.errors}, unhandled rejections ${counters.unhandled}`,
    );
    const unexpected = [...summaries.values()].reduce((n, s) => n + s.unexpected, 0);
    rows.push({
      case: 'cluster',
      variant: 'correctness errors under load (2 workers)',
      value: `${checked.errors + unexpected + counters.errors + counters.unhandled} (${checked.checks} invariant checks, ${unexpected} unexpected answers in the runs)`,
      target: '0',
      met: checked.errors + unexpected + counters.errors + counters.unhandled === 0,
      ...(checked.samples.length ? { note: checked.samples.join('; ') } : {}),
    });
    for (const server of servers) await server.request('cleanup');
    return {
      name: 'cluster',
      rows,
      details: { invariants: checked, summaries: Object.fromEntries(summaries) },
    };
  } finally {
    for (const server of servers) await server.stop();
  }
}
