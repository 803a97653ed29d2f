// Verified browsers for in-process guard passes (bench/cases/guard-miss.ts, bench/dist-ab.ts): the
// users as an app's session middleware hands them over, already looked up, each with a request
// that carries its verified cookie as the middleware's own cookie jar writes it.
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
// Internals, for the setup only (the verified cookies): the timed guard is the package's (./pkg.js).
import { createCookieJar } from '../src/cookie.js';
import { parseOptions } from '../src/options.js';
import { codeTransport, SECRET } from './apps.js';
import { memoryStore } from './pkg.js';

/** A user as passport's `req.user` holds it, with express-session's 32-character session id. */
export interface Browser {
  id: string;
  phone: string;
  sessionId: string;
}

/** A copy of `text` as one flat string, as the HTTP parser hands it over (a template literal makes a rope). */
export const flat = (text: string) => Buffer.from(text, 'utf8').toString('utf8');

/**
 * `count` browsers verified by SMS for the next hour, and the options of the app that verified
 * them (`getUser` reads `req.user`; one memory store): for each browser its user, a GET request
 * asking for JSON with the cookie between two others in its header, and the cookie's value.
 */
export function verifiedBrowsers(count: number) {
  const users: Browser[] = Array.from({ length: count }, (_, n) => ({
    id: `u${n}`,
    phone: `+32470${String(n).padStart(6, '0')}`,
    sessionId: randomBytes(24).toString('base64url'),
  }));
  const options = {
    secret: SECRET,
    getUser: (req: Request) => (req as Request & { user?: Browser }).user ?? null,
    transport: codeTransport(null),
    store: memoryStore(),
    allowedCountries: ['BE'],
    warnings: { memoryStore: false },
  };
  const jar = createCookieJar(parseOptions(options));
  const now = Date.now();
  const requests: Request[] = [];
  const values: string[] = [];
  for (const user of users) {
    let header = '';
    const res = {
      req: { secure: false },
      getHeader: () => undefined,
      setHeader(_name: string, line: string) {
        // The Set-Cookie line's `name=value` pair, already percent-encoded as a browser sends it back.
        const pair = line.slice(0, line.indexOf(';'));
        header = flat(`other=1; ${pair}; theme=dark`);
        values.push(flat(decodeURIComponent(pair.slice(pair.indexOf('=') + 1))));
      },
    } as unknown as Response;
    jar.writeVerified(res, { ...user }, { verifiedAt: now, expiresAt: now + 3_600_000, method: 'sms' });
    requests.push({
      method: 'GET',
      headers: { cookie: header, accept: 'application/json' },
      secure: false,
      user,
    } as unknown as Request);
  }
  return { users, options, requests, values };
}
