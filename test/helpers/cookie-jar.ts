// What the cookie jar (src/cookie.ts) writes, read off a bare response: plain HTTP, no other cookie.
import type { Response } from 'express';
import { memoryStore, memoryTransport } from '../../src/index.js';
import { parseOptions } from '../../src/options.js';

/** The options a unit test builds a cookie jar from (`createCookieJar`): the secret(s) and, if given, the clock. */
export const jarOptions = (
  secret: string | string[] = 'a-test-secret-that-is-long-enough-0123456789',
  now?: () => number,
) =>
  parseOptions({
    secret,
    getUser: () => null,
    transport: memoryTransport(),
    store: memoryStore(),
    allowedCountries: ['BE'],
    warnings: { memoryStore: false },
    ...(now ? { now } : {}),
  });

/** The one Set-Cookie line `write` sets on a bare response. */
export function setCookieLine(write: (res: Response) => void): string {
  let line = '';
  const res = {
    req: { secure: false },
    getHeader: () => undefined,
    setHeader: (_name: string, value: string) => {
      line = value;
    },
  } as unknown as Response;
  write(res);
  return line;
}

/** The cookie's value in `line`, as the browser sends it back (percent-decoded). */
export const cookieValue = (line: string) =>
  decodeURIComponent(line.slice(line.indexOf('=') + 1, line.indexOf(';')));
