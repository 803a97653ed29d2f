// The bench's browser: a cookie jar and the real flow (login, send, read the code, verify), over HTTP.
import type { Server } from './child.js';

/** A minimal cookie jar: name=value pairs from Set-Cookie, dropped again when a cookie is cleared. */
export class Jar {
  readonly cookies = new Map<string, string>();

  take(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(';', 1)[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const cleared = /;\s*expires=Thu, 01 Jan 1970/i.test(line) || /;\s*max-age=0\b/i.test(line);
      if (cleared) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1).trim());
    }
  }

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

export const JSON_HEADERS = { 'content-type': 'application/json' };

export async function call(
  server: Server,
  jar: Jar | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(server.url + path, {
    method,
    headers: {
      ...(body === undefined ? {} : JSON_HEADERS),
      ...(jar ? { cookie: jar.header() } : {}),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  jar?.take(response);
  return { status: response.status, text: await response.text() };
}

async function expectStatus(
  what: string,
  pending: Promise<{ status: number; text: string }>,
  status: number,
) {
  const res = await pending;
  if (res.status !== status) throw new Error(`${what} answered ${res.status}: ${res.text.slice(0, 200)}`);
  return res;
}

/** A signed-in browser of a fresh user. */
export async function login(server: Server, user = server.nextUser()): Promise<{ jar: Jar; user: number }> {
  const jar = new Jar();
  await expectStatus('login', call(server, jar, 'POST', `/login?u=${user}`), 200);
  return { jar, user };
}

/** The middleware's mount: `/2fa`, `/r/2fa` (the redis case) or `/m/2fa` (the metrics case). */
export type Mount = '/2fa' | '/r/2fa' | '/m/2fa';

/** POST <mount>/send, then the code the bench transport recorded for this user. */
export async function sendCode(
  server: Server,
  jar: Jar,
  user: number,
  mount: Mount = '/2fa',
): Promise<string> {
  await expectStatus('send', call(server, jar, 'POST', `${mount}/send`, {}), 200);
  const res = await expectStatus('code lookup', call(server, null, 'GET', `/__bench/code?u=${user}`), 200);
  return res.text;
}

/** A code of the right length that is not `code`. */
export const wrongCode = (code: string) => code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));

/** A fresh user through the whole real flow: signed in, code sent, read and verified. */
export async function verifiedBrowser(server: Server): Promise<Jar> {
  return (await verifiedUser(server)).jar;
}

/** `verifiedBrowser`, with the user's number. */
export async function verifiedUser(server: Server): Promise<{ jar: Jar; user: number }> {
  const { jar, user } = await login(server);
  const code = await sendCode(server, jar, user);
  await expectStatus('verify', call(server, jar, 'POST', '/2fa/verify', { code }), 200);
  if (![...jar.cookies.keys()].some((name) => name.endsWith('2fa'))) {
    throw new Error('verify did not set the verified cookie');
  }
  return { jar, user };
}

/** One autocannon request: the cookies of one browser and a JSON body. */
export interface PooledRequest {
  cookie: string;
  body: string;
  /** Extra headers of this request (e.g. `x-user` where the first factor is a header). */
  headers?: Record<string, string>;
}

/** Runs `task` for 0..count-1 with `concurrency` at a time. */
export async function parallel(count: number, concurrency: number, task: (i: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** `count` verifies with the right code, each on its own fresh challenge of its own fresh user. */
export async function rightCodePool(server: Server, count: number, mount: Mount): Promise<PooledRequest[]> {
  const pool: PooledRequest[] = new Array(count);
  await parallel(count, 16, async (i) => {
    const { jar, user } = await login(server);
    const code = await sendCode(server, jar, user, mount);
    pool[i] = { cookie: jar.header(), body: JSON.stringify({ code }) };
  });
  return pool;
}

/**
 * `count` wrong-code verifies that are all evaluated: `perChallenge` (= maxAttempts) per fresh
 * challenge of a fresh user, spread round-robin over the challenges, so no two requests in flight
 * are for one account (the account's verify lock would refuse the second). None is refused.
 */
export async function wrongCodePool(server: Server, count: number, perChallenge: number, mount: Mount) {
  const slots = Math.max(50, Math.ceil(count / perChallenge));
  const browsers: PooledRequest[] = new Array(slots);
  await parallel(slots, 16, async (i) => {
    const { jar, user } = await login(server);
    const code = await sendCode(server, jar, user, mount);
    browsers[i] = { cookie: jar.header(), body: JSON.stringify({ code: wrongCode(code) }) };
  });
  return Array.from({ length: count }, (_, i) => browsers[i % slots] as PooledRequest);
}

/**
 * `count` browsers whose challenges have used up their attempts: every further verify is refused
 * with 429 before the compare. The variant rotates through them, one account per request in flight.
 */
export async function exhaustedPool(server: Server, count: number, maxAttempts: number, mount: Mount) {
  const pool: PooledRequest[] = new Array(count);
  await parallel(count, 16, async (i) => {
    const { jar, user } = await login(server);
    const code = await sendCode(server, jar, user, mount);
    const body = { code: wrongCode(code) };
    for (let k = 0; k < maxAttempts; k++) {
      await expectStatus('wrong verify', call(server, jar, 'POST', `${mount}/verify`, body), 400);
    }
    await expectStatus('exhausted verify', call(server, jar, 'POST', `${mount}/verify`, body), 429);
    pool[i] = { cookie: jar.header(), body: JSON.stringify(body) };
  });
  return pool;
}
