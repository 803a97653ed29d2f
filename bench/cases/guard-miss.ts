// guard-miss: requireSecondFactor when its claim cache misses, in-process, beside one bare HMAC-SHA256.
import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
// Internals, for the setup only (the verified cookies): the timed guard is the package's (../pkg.js).
import { createCookieJar } from '../../src/cookie.js';
import { parseOptions } from '../../src/options.js';
import { codeTransport, SECRET } from '../apps.js';
import { memoryStore, twoFactor } from '../pkg.js';
import type { CaseResult, Context, Row } from '../report.js';

/** Verified browsers cycling through the guard: twice the claim cache's 10 000 entries. */
const BROWSERS = 20_000;
const flat = (text: string) => Buffer.from(text, 'utf8').toString('utf8');
const TARGET = 2;

/**
 * One guard (getUser from a header, as an app with its own session lookup already done), 20 000
 * verified browsers with cookies written by the middleware's own cookie jar. Each timed pass calls
 * the guard once per browser in order, so with 10 000 cached claims every call misses (LRU order).
 * Beside it, in the same process and the same passes, `createHmac('sha256', secret)` of the same
 * cookie value, with the secret as a string, as a KeyObject made once (as the guard holds it), and
 * that KeyObject's HMAC as base64url text: the floor of any check of a signed cookie is the
 * cheapest of the three. Each figure is the fastest of 7 passes.
 */
export async function guardMissCase(ctx: Context): Promise<CaseResult> {
  const browsers = ctx.quick ? BROWSERS : BROWSERS;
  // The user as an app's session middleware hands it over (passport's `req.user`, express-session's
  // 32-character session id), already looked up: only the guard's own work is timed.
  const users = Array.from({ length: browsers }, (_, n) => ({
    id: `u${n}`,
    phone: `+32470${String(n).padStart(6, '0')}`,
    sessionId: randomBytes(24).toString('base64url'),
  }));
  const options = {
    secret: SECRET,
    getUser: (req: Request) => (req as Request & { user?: (typeof users)[number] }).user ?? null,
    transport: codeTransport(null),
    store: memoryStore(),
    allowedCountries: ['BE'],
    warnings: { memoryStore: false },
  };
  const tfa = twoFactor(options);
  const jar = createCookieJar(parseOptions(options));
  const now = Date.now();
  const requests: Request[] = [];
  const values: string[] = [];
  for (let n = 0; n < browsers; n++) {
    let header = '';
    const res = {
      req: { secure: false },
      getHeader: () => undefined,
      setHeader(_name: string, line: string) {
        // The Set-Cookie line's `name=value` pair, already percent-encoded as a browser sends it back.
        const pair = line.slice(0, line.indexOf(';'));
        const value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1));
        // Flat strings, as the HTTP parser hands them over (a template literal makes a rope).
        header = flat(`other=1; ${pair}; theme=dark`);
        values.push(flat(value));
      },
    } as unknown as Response;
    jar.writeVerified(
      res,
      { ...(users[n] as (typeof users)[number]) },
      {
        verifiedAt: now,
        expiresAt: now + 3_600_000,
        method: 'sms',
      },
    );
    requests.push({
      method: 'GET',
      headers: { cookie: header, accept: 'application/json' },
      secure: false,
      user: users[n],
    } as unknown as Request);
  }
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
  const guardPass = (count: number) => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++) guard(requests[i] as Request, res, next);
    return ((performance.now() - t0) * 1000) / count;
  };
  let sink = 0;
  // Three honest floors: the secret as a string (the key prepared on every call), as a KeyObject
  // made once (as the guard holds it), and that KeyObject's HMAC as base64url text (the guard's
  // own output form, cheaper than a Buffer here). The ratio is taken against the cheapest.
  const key = createSecretKey(Buffer.from(SECRET, 'utf8'));
  const hmacPass = (count: number) => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++)
      sink += createHmac('sha256', SECRET)
        .update(values[i] as string)
        .digest()[0] as number;
    return ((performance.now() - t0) * 1000) / count;
  };
  const textPass = (count: number) => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++)
      sink += createHmac('sha256', key)
        .update(values[i] as string)
        .digest('base64url').length;
    return ((performance.now() - t0) * 1000) / count;
  };
  const keyedPass = (count: number) => {
    const t0 = performance.now();
    for (let i = 0; i < count; i++)
      sink += createHmac('sha256', key)
        .update(values[i] as string)
        .digest()[0] as number;
    return ((performance.now() - t0) * 1000) / count;
  };
  const hitPass = (count: number) => {
    for (let i = 0; i < count; i++) guard(requests[i] as Request, res, next);
    const t0 = performance.now();
    for (let k = 0; k < 4; k++) for (let i = 0; i < count; i++) guard(requests[i] as Request, res, next);
    return ((performance.now() - t0) * 1000) / (4 * count);
  };
  guardPass(browsers);
  hmacPass(browsers);
  keyedPass(browsers);
  textPass(browsers);
  const miss: number[] = [];
  const floor: number[] = [];
  const keyed: number[] = [];
  const text: number[] = [];
  const hit: number[] = [];
  for (let round = 0; round < 7; round++) {
    miss.push(guardPass(browsers));
    floor.push(hmacPass(browsers));
    keyed.push(keyedPass(browsers));
    text.push(textPass(browsers));
    hit.push(hitPass(5_000));
  }
  if (passed !== browsers * 8 + 7 * 5 * 5_000) throw new Error(`guard-miss: ${passed} calls passed`);
  const missUs = Math.min(...miss);
  const stringUs = Math.min(...floor);
  const keyedUs = Math.min(...keyed);
  const textUs = Math.min(...text);
  const hmacUs = Math.min(stringUs, keyedUs, textUs);
  const hitUs = Math.min(...hit);
  const ratio = missUs / hmacUs;
  ctx.log(
    `  guard, cache missing: ${missUs.toFixed(2)} µs/call; one HMAC-SHA256 of the cookie: ${stringUs.toFixed(2)} µs ` +
      `(secret as a string), ${keyedUs.toFixed(2)} µs (KeyObject), ${textUs.toFixed(2)} µs (KeyObject, base64url) ` +
      `→ ${ratio.toFixed(2)}× the cheapest; ` +
      `cache hit: ${hitUs.toFixed(2)} µs (${sink > 0 ? 'ok' : ''})`,
  );
  const rows: Row[] = [
    {
      case: 'guard-miss',
      variant: `requireSecondFactor, claim cache missing (${browsers.toLocaleString('en-US')} browsers)`,
      value: `${missUs.toFixed(2)} µs/call = ${ratio.toFixed(2)}× one HMAC (${hmacUs.toFixed(2)} µs, the cheapest of string ${stringUs.toFixed(2)} / KeyObject ${keyedUs.toFixed(2)} / KeyObject to base64url ${textUs.toFixed(2)} µs)`,
      target: `≤ ${TARGET}× one HMAC-SHA256`,
      met: ratio <= TARGET,
    },
    {
      case: 'guard-miss',
      variant: 'requireSecondFactor, claim cache hit',
      value: `${hitUs.toFixed(2)} µs/call`,
      met: null,
    },
  ];
  return {
    name: 'guard-miss',
    rows,
    details: {
      browsers,
      missUs,
      hmacUs,
      stringUs,
      keyedUs,
      textUs,
      hitUs,
      ratio,
      passes: { miss, floor, keyed, text, hit },
    },
  };
}
