// soak: minutes of mixed traffic at a steady rate; no errors, no unhandled rejections, a flat heap.
import { type Heap, startServer } from '../child.js';
import { call, Jar, wrongCode } from '../client.js';
import type { CaseResult, Context, Row } from '../report.js';

/** Scenarios started per second (about 8.5 requests each, so ~170 requests/s). */
const RATE = 20;
/**
 * Users are reused (never two scenarios at once), so per-number budgets and counters stay bounded.
 * 301 is prime to the mix's length, so a user's scenario kind changes with every reuse: no user
 * collects the 50 consecutive failures that start the account lockout.
 */
const USERS = 301;
/**
 * The middleware's clock runs 60× faster than real time: codes expire after 5 s, records after 15 s
 * and hourly budgets roll every minute, so several generations of every entry are born, expire
 * and are swept during the soak. With the real clock nothing would expire in five minutes.
 */
const CLOCK_FACTOR = 60;
/** Small enough that the store reaches its bound in the warm-up and sweeps stale entries from then on. */
const STORE_MAX = 3_000;
const MAX_IN_FLIGHT = 200;
const HEAP_TOLERANCE = 0.1;

type Kind = 'normal' | 'abandon' | 'brute' | 'anonymous';
/** 70 % sign in, send, one wrong and one right code, 3 guarded GETs, sign out; the rest below. */
const MIX: Kind[] = [
  ...Array<Kind>(14).fill('normal'),
  ...Array<Kind>(3).fill('abandon'),
  ...Array<Kind>(2).fill('brute'),
  'anonymous',
];

interface Tally {
  requests: number;
  scenarios: number;
  skipped: number;
  unexpected: number;
  samples: string[];
  byStep: Record<string, number>;
}

async function scenario(base: Parameters<typeof call>[0], kind: Kind, user: number, tally: Tally) {
  const jar = new Jar();
  const step = async (name: string, expect: number[], method: string, path: string, body?: unknown) => {
    tally.requests++;
    tally.byStep[name] = (tally.byStep[name] ?? 0) + 1;
    let res: { status: number; text: string };
    try {
      res = await call(base, name === 'anonymous GET' ? null : jar, method, path, body);
    } catch (error) {
      res = { status: 0, text: error instanceof Error ? error.message : String(error) };
    }
    if (!expect.includes(res.status)) {
      tally.unexpected++;
      if (tally.samples.length < 10)
        tally.samples.push(`${kind}/${name}: ${res.status} ${res.text.slice(0, 160)}`);
    }
    return res;
  };
  if (kind === 'anonymous') {
    await step('anonymous GET', [401], 'GET', '/guarded');
    return;
  }
  await step('login', [200], 'POST', `/login?u=${user}`);
  await step('send', [200], 'POST', '/2fa/send', {});
  const code = (await step('code lookup', [200], 'GET', `/__bench/code?u=${user}`)).text;
  if (kind === 'normal') {
    await step('wrong verify', [400], 'POST', '/2fa/verify', { code: wrongCode(code) });
    await step('right verify', [200], 'POST', '/2fa/verify', { code });
    for (let i = 0; i < 3; i++) await step('guarded GET', [200], 'GET', '/guarded');
  } else if (kind === 'brute') {
    for (let i = 0; i < 12; i++) {
      await step('brute verify', i < 10 ? [400] : [429], 'POST', '/2fa/verify', { code: wrongCode(code) });
    }
    await step('unverified GET', [401], 'GET', '/guarded');
  }
  await step('logout', [200], 'POST', '/logout');
}

/** Drives RATE scenarios per second for `seconds`; waits for the last ones to finish. */
async function drive(
  server: Parameters<typeof call>[0],
  seconds: number,
  tally: Tally,
  state: { next: number },
) {
  const free = state as { next: number; users?: number[] };
  free.users ??= Array.from({ length: USERS }, (_, i) => i);
  const users = free.users;
  const running = new Set<Promise<void>>();
  const start = Date.now();
  let started = 0;
  while (Date.now() - start < seconds * 1000) {
    const due = Math.floor(((Date.now() - start) / 1000) * RATE);
    for (; started < due; started++) {
      const user = users.shift();
      if (user === undefined || running.size >= MAX_IN_FLIGHT) {
        tally.skipped++;
        if (user !== undefined) users.push(user);
        continue;
      }
      const kind = MIX[state.next++ % MIX.length] as Kind;
      tally.scenarios++;
      const task: Promise<void> = scenario(server, kind, user, tally).finally(() => {
        running.delete(task);
        users.push(user);
      });
      running.add(task);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(running);
}

export async function soakCase(ctx: Context): Promise<CaseResult> {
  const warmupSeconds = ctx.quick ? 5 : 60;
  const server = await startServer(
    'soak',
    {
      kind: 'app',
      auth: 'session',
      store: 'memory',
      storeMax: STORE_MAX,
      transport: 'codes',
      clockFactor: CLOCK_FACTOR,
    },
    { profile: ctx.profile },
  );
  try {
    const tally: Tally = { requests: 0, scenarios: 0, skipped: 0, unexpected: 0, samples: [], byStep: {} };
    const state = { next: 0 };
    ctx.log(`  warm-up: ${warmupSeconds} s at ${RATE} scenarios/s`);
    await drive(server, warmupSeconds, tally, state);
    const warm = await server.heap();
    const samples: (Heap & { at: number })[] = [{ ...warm, at: 0 }];
    const measured: Tally = { requests: 0, scenarios: 0, skipped: 0, unexpected: 0, samples: [], byStep: {} };
    const slice = Math.min(30, ctx.soakSeconds);
    for (let at = 0; at < ctx.soakSeconds; at += slice) {
      const length = Math.min(slice, ctx.soakSeconds - at);
      await drive(server, length, measured, state);
      const heap = await server.heap();
      samples.push({ ...heap, at: at + length });
      ctx.log(
        `  ${at + length} s: heap ${(heap.heapUsed / 2 ** 20).toFixed(1)} MiB, store ${heap.storeSize} entries, ` +
          `${measured.requests} requests, ${measured.unexpected} unexpected`,
      );
    }
    const end = samples.at(-1) as Heap;
    const counters = await server.counters();
    const growth = end.heapUsed / warm.heapUsed - 1;
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    const rows: Row[] = [
      {
        case: 'soak',
        variant: `${ctx.soakSeconds} s mixed traffic, unexpected answers`,
        value: `${measured.unexpected} of ${measured.requests}`,
        target: '0',
        met: measured.unexpected === 0 && tally.unexpected === 0 && measured.skipped === 0,
        note: measured.samples[0],
      },
      {
        case: 'soak',
        variant: 'server errors + unhandled rejections',
        value: `${counters.errors} + ${counters.unhandled}`,
        target: '0 + 0',
        met: counters.errors === 0 && counters.unhandled === 0,
        note: counters.errorSamples[0],
      },
      {
        case: 'soak',
        variant: 'heap at the end vs after warm-up (forced GC)',
        value: `${mib(warm.heapUsed)} → ${mib(end.heapUsed)} (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)} %)`,
        target: `within ${HEAP_TOLERANCE * 100} %`,
        met: Math.abs(growth) <= HEAP_TOLERANCE,
      },
    ];
    return {
      name: 'soak',
      rows,
      details: {
        rate: RATE,
        users: USERS,
        clockFactor: CLOCK_FACTOR,
        storeMax: STORE_MAX,
        warmupSeconds,
        soakSeconds: ctx.soakSeconds,
        warmUpTally: tally,
        tally: measured,
        heap: samples,
        serverCounters: counters,
      },
    };
  } finally {
    await server.stop();
  }
}
