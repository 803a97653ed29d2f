// guard-miss: requireSecondFactor when its claim cache misses, in-process, beside one bare HMAC-SHA256.
import { createHmac, createSecretKey } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
// Internal, for the informative own-HMAC line only: the timed guard is the package's (../pkg.js).
import { ClaimKey } from '../../src/verified-claim.js';
import { SECRET } from '../apps.js';
import { median, quantile } from '../measure.js';
import { twoFactor } from '../pkg.js';
import type { CaseResult, Context, Row } from '../report.js';
import { type Browser, verifiedBrowsers } from '../verified-browsers.js';

/** Verified browsers cycling through the guard: twice the claim cache's 10 000 entries. */
const BROWSERS = 20_000;
/** Paired rounds: each one guard pass and each floor's pass, in alternating order. */
const ROUNDS = 15;
/** Browsers of the hit row, each called 4 times more after its first (missing) call. */
const HOT = 5_000;
const TARGET = 2;

/** One timed pass: µs per call by the clock, and by this process's CPU time (all its threads: GC too). */
interface Pass {
  us: number;
  cpuUs: number;
}

const timed = (calls: number, body: () => void) => (): Pass => {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  body();
  const us = ((performance.now() - t0) * 1000) / calls;
  const cpu = process.cpuUsage(cpu0);
  return { us, cpuUs: (cpu.user + cpu.system) / calls };
};

/**
 * One guard (getUser from a header, as an app with its own session lookup already done), 20 000
 * verified browsers with cookies written by the middleware's own cookie jar. Each guard pass calls
 * the guard once per browser in order, so with 10 000 cached claims every call misses (LRU order);
 * a replay after the timed passes checks it call by call. Beside it, in the same process and in
 * the same rounds, `createHmac('sha256', secret)` of the same cookie value, with the secret as a
 * string, as a KeyObject made once (as the guard holds it), and that KeyObject's HMAC as base64url
 * text: the floor of any check of a signed cookie is the cheapest of the three in each round.
 *
 * Paired: each round times the guard pass and the three floor passes back to back (the guard
 * first in even rounds, last in odd ones), and its ratio is the guard's µs over the cheapest floor
 * of that round, so load that moves between rounds moves both. The figure is the median of the 15
 * rounds' ratios, with their IQR; the fastest pass of each (the figure before pairing) is kept
 * beside it. The hit row runs on a second guard of its own, so that its warm browsers never reach
 * the missing guard's cache. Also beside them, for information and not in the floor: the same HMAC
 * as the guard computes it (`ClaimKey`, two one-shot SHA-256s, src/verified-claim.ts).
 */
export async function guardMissCase(ctx: Context): Promise<CaseResult> {
  const browsers = BROWSERS;
  // Cookies written by the middleware's own jar (bench/verified-browsers.ts), checked by the build's guard.
  const { options, requests, values } = verifiedBrowsers(browsers);
  const tfa = twoFactor(options);
  const hotTfa = twoFactor(options);
  let passed = 0;
  const res = {
    setHeader: () => res,
    status: () => res,
    json: () => {
      throw new Error('the guard refused a verified browser');
    },
    redirect: () => {
      throw new Error('the guard redirected a verified browser');
    },
  } as unknown as Response;
  const next: NextFunction = (error?: unknown) => {
    if (error) throw error;
    passed++;
  };
  const guard = tfa.requireSecondFactor;
  const hotGuard = hotTfa.requireSecondFactor;
  const guardPass = timed(browsers, () => {
    for (let i = 0; i < browsers; i++) guard(requests[i] as Request, res, next);
  });
  let sink = 0;
  // Three honest floors: the secret as a string (the key prepared on every call), as a KeyObject
  // made once (as the guard holds it), and that KeyObject's HMAC as base64url text (the guard's
  // own output form, cheaper than a Buffer here). Each round's ratio is taken against its cheapest.
  const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
  const stringPass = timed(browsers, () => {
    for (let i = 0; i < browsers; i++)
      sink += createHmac('sha256', SECRET)
        .update(values[i] as string)
        .digest()[0] as number;
  });
  const keyedPass = timed(browsers, () => {
    for (let i = 0; i < browsers; i++)
      sink += createHmac('sha256', key)
        .update(values[i] as string)
        .digest()[0] as number;
  });
  const textPass = timed(browsers, () => {
    for (let i = 0; i < browsers; i++)
      sink += createHmac('sha256', key)
        .update(values[i] as string)
        .digest('base64url').length;
  });
  // Not a floor: the guard's own HMAC (HMAC-SHA256 of `2fa-verified\0` + the cookie value).
  const claimKey = new ClaimKey(key);
  const oneShotPass = timed(browsers, () => {
    for (let i = 0; i < browsers; i++) {
      const value = values[i] as string;
      sink += claimKey.signature('', value, value.length).length;
    }
  });
  const hitPass = () => {
    for (let i = 0; i < HOT; i++) hotGuard(requests[i] as Request, res, next);
    const t0 = performance.now();
    for (let k = 0; k < 4; k++) for (let i = 0; i < HOT; i++) hotGuard(requests[i] as Request, res, next);
    return ((performance.now() - t0) * 1000) / (4 * HOT);
  };
  const floorPasses = [stringPass, keyedPass, textPass, oneShotPass];
  guardPass();
  for (const pass of floorPasses) pass();
  // Per round: the guard's pass, then the four others' (reversed in odd rounds).
  const rounds: Pass[][] = [];
  const hit: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = [guardPass, ...floorPasses];
    if (round % 2 === 1) order.reverse();
    const times = new Map(order.map((pass) => [pass, pass()] as const));
    rounds.push([guardPass, ...floorPasses].map((pass) => times.get(pass) as Pass));
    hit.push(hitPass());
  }
  if (passed !== browsers * (ROUNDS + 1) + ROUNDS * 5 * HOT)
    throw new Error(`guard-miss: ${passed} calls passed`);
  const misses = missesOfOnePass(tfa.requireSecondFactor, requests, res, () => twoFactor(options));
  if (misses !== browsers)
    throw new Error(`guard-miss: ${browsers - misses} of ${browsers} calls hit the claim cache`);

  /** Per round, the guard over the cheapest of the three floors (by wall or CPU time). */
  const paired = (of: (t: Pass) => number) => {
    const ratios = rounds.map(([guardTime, ...floorTimes]) => {
      const floor = Math.min(...floorTimes.slice(0, 3).map(of));
      return of(guardTime as Pass) / floor;
    });
    return { median: median(ratios), iqr: [quantile(ratios, 0.25), quantile(ratios, 0.75)] as const, ratios };
  };
  const wall = paired((t) => t.us);
  const cpu = paired((t) => t.cpuUs);
  const ownRatios = rounds.map(([g, , , , own]) => (g as Pass).us / (own as Pass).us);
  const column = (i: number) => rounds.map((r) => (r[i] as Pass).us);
  const [miss, string, keyed, text, oneShot] = [0, 1, 2, 3, 4].map(column) as number[][];
  const missUs = Math.min(...(miss as number[]));
  const stringUs = Math.min(...(string as number[]));
  const keyedUs = Math.min(...(keyed as number[]));
  const textUs = Math.min(...(text as number[]));
  const oneShotUs = Math.min(...(oneShot as number[]));
  const hmacUs = Math.min(stringUs, keyedUs, textUs);
  const fastestRatio = missUs / hmacUs;
  const hitUs = Math.min(...hit);
  const ratio = wall.median;
  const f2 = (n: number) => n.toFixed(2);
  const range = (iqr: readonly [number, number]) => `[IQR ${f2(iqr[0])}–${f2(iqr[1])}]`;
  ctx.log(
    `  guard, cache missing: ${f2(ratio)}× one HMAC ${range(wall.iqr)}, median of ${ROUNDS} paired rounds ` +
      `(by CPU time ${f2(cpu.median)}× ${range(cpu.iqr)}); fastest passes: miss ${f2(missUs)} µs/call, HMAC ` +
      `${f2(stringUs)} µs (secret as a string), ${f2(keyedUs)} µs (KeyObject), ${f2(textUs)} µs (KeyObject, ` +
      `base64url) → ${f2(fastestRatio)}× the cheapest; the guard's own HMAC (two one-shot hashes) ` +
      `${f2(oneShotUs)} µs, the miss ${f2(median(ownRatios))}× it; every call missed ` +
      `(${misses.toLocaleString('en-US')} of ${browsers.toLocaleString('en-US')} replayed); ` +
      `cache hit: ${f2(hitUs)} µs (${sink > 0 ? 'ok' : ''})`,
  );
  const rows: Row[] = [
    {
      case: 'guard-miss',
      variant: `requireSecondFactor, claim cache missing (${browsers.toLocaleString('en-US')} browsers)`,
      value:
        `${f2(ratio)}× one HMAC ${range(wall.iqr)}, median of ${ROUNDS} paired rounds (CPU time ` +
        `${f2(cpu.median)}× ${range(cpu.iqr)}); fastest: ${f2(missUs)} µs/call = ${f2(fastestRatio)}× ` +
        `${f2(hmacUs)} µs (the cheapest of string ${f2(stringUs)} / KeyObject ${f2(keyedUs)} / KeyObject to ` +
        `base64url ${f2(textUs)} µs); ${f2(median(ownRatios))}× the guard's own HMAC (${f2(oneShotUs)} µs)`,
      target: `≤ ${TARGET}× one HMAC-SHA256`,
      met: ratio <= TARGET,
    },
    {
      case: 'guard-miss',
      variant: 'requireSecondFactor, claim cache hit',
      value: `${f2(hitUs)} µs/call`,
      met: null,
    },
  ];
  return {
    name: 'guard-miss',
    rows,
    details: {
      browsers,
      rounds: ROUNDS,
      ratio,
      ratioIqr: wall.iqr,
      ratios: wall.ratios,
      cpuRatio: cpu.median,
      cpuRatioIqr: cpu.iqr,
      cpuRatios: cpu.ratios,
      fastestRatio,
      missUs,
      hmacUs,
      stringUs,
      keyedUs,
      textUs,
      oneShotUs,
      oneShotRatio: median(ownRatios),
      hitUs,
      missesReplayed: misses,
      passes: { miss, string, keyed, text, oneShot, hit, cpu: rounds.map((r) => r.map((t) => t.cpuUs)) },
    },
  };
}

/**
 * How many calls of one more pass of `guard` in the same order miss its claim cache: a replay of
 * the timed passes (each starts from the same cache, the cycle's last claims). A call is told
 * apart by how often it reads the user's `sessionId`, through a counting copy: more on a miss (the
 * signature is checked for it) than on a hit, as a probe guard of its own shows first.
 */
function missesOfOnePass(
  guard: (req: Request, res: Response, next: NextFunction) => void,
  requests: Request[],
  res: Response,
  probeGuard: () => { requireSecondFactor: (req: Request, res: Response, next: NextFunction) => void },
): number {
  let reads = 0;
  const counted = (req: Request): Request => {
    const user = { ...(req as Request & { user: Browser }).user };
    const sessionId = user.sessionId;
    Object.defineProperty(user, 'sessionId', {
      enumerable: true,
      get: () => {
        reads++;
        return sessionId;
      },
    });
    return { ...req, user } as unknown as Request;
  };
  const readsOf = (g: typeof guard, req: Request) => {
    const before = reads;
    let ok = false;
    g(req, res, (error?: unknown) => {
      if (error) throw error;
      ok = true;
    });
    if (!ok) throw new Error('guard-miss: the replay was refused');
    return reads - before;
  };
  const probe = probeGuard().requireSecondFactor;
  const first = counted(requests[0] as Request);
  const onMiss = readsOf(probe, first);
  const onHit = readsOf(probe, first);
  if (onMiss <= onHit)
    throw new Error('guard-miss: a miss and a hit read the user alike; the replay cannot tell them apart');
  let misses = 0;
  for (const req of requests) if (readsOf(guard, counted(req)) === onMiss) misses++;
  return misses;
}
