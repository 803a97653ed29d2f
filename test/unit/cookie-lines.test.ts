// The cookie jar writes its Set-Cookie lines itself (src/cookie.ts `cookieLines`): they must be
// byte for byte what Express's res.cookie / res.clearCookie wrote before, for every option the
// package accepts, and they must append to Set-Cookie lines already set as res.append does.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import express, { type Request, type Response } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { appendSetCookie, cookieLines, createCookieJar } from '../../src/cookie.js';
import { memoryStore, memoryTransport } from '../../src/index.js';
import { type CheckedUser, parseOptions } from '../../src/options.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0) + 123; // not on a whole second

/** An Express response (its prototype: res.cookie, res.clearCookie, res.append) on a bare socket. */
function expressResponse(secure = false): Response {
  const app = express();
  const req = new IncomingMessage(new Socket()) as unknown as Request;
  Object.setPrototypeOf(req, app.request);
  Object.defineProperty(req, 'secure', { value: secure });
  const res = new ServerResponse(req as unknown as IncomingMessage) as unknown as Response;
  Object.setPrototypeOf(res, app.response);
  (res as { req: Request }).req = req;
  (req as { res: Response }).res = res;
  return res;
}

const setCookies = (res: Response) => [res.getHeader('Set-Cookie')].flat().filter(Boolean);

const OPTION_SETS = [
  { secure: false, sameSite: 'lax', domain: undefined },
  { secure: true, sameSite: 'lax', domain: undefined },
  { secure: true, sameSite: 'strict', domain: 'example.com' },
  { secure: false, sameSite: 'strict', domain: '.example.com' },
] as const;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('cookieLines: what res.cookie and res.clearCookie wrote', () => {
  for (const options of OPTION_SETS) {
    const expressOptions = {
      httpOnly: true,
      sameSite: options.sameSite,
      path: '/',
      ...(options.domain ? { domain: options.domain } : {}),
      secure: options.secure,
    };
    it(`sets and clears alike (${JSON.stringify(options)})`, () => {
      vi.spyOn(Date, 'now').mockReturnValue(NOW);
      const lines = cookieLines(options);
      for (const [value, maxAge] of [
        ['v2.sms.1.2.E77GbdO_i5ytTHg3HR8Py48YcVIy8mWoV2CleoQAcnY', 43_200_000],
        ['abc.d+e/f', 599_999], // cookie-signature's base64 may hold + and /: percent-encoded
        ['x', 0],
        ['x', 1_500],
      ] as const) {
        const res = expressResponse();
        res.cookie('2fa', value, { ...expressOptions, maxAge });
        expect(lines.set('2fa', value, maxAge)).toBe(setCookies(res)[0]);
      }
      const res = expressResponse();
      res.clearCookie('__Host-2fa-challenge', expressOptions);
      expect(lines.clear('__Host-2fa-challenge')).toBe(setCookies(res)[0]);
    });
  }

  it('appends after the lines already set, as res.append does', () => {
    const res = expressResponse();
    appendSetCookie(res, 'a=1');
    expect(res.getHeader('Set-Cookie')).toBe('a=1');
    appendSetCookie(res, 'b=2');
    expect(res.getHeader('Set-Cookie')).toEqual(['a=1', 'b=2']);
    appendSetCookie(res, 'c=3');
    expect(res.getHeader('Set-Cookie')).toEqual(['a=1', 'b=2', 'c=3']);
    const other = expressResponse();
    other.setHeader('Set-Cookie', 'sid=s');
    appendSetCookie(other, 'a=1');
    expect(other.getHeader('Set-Cookie')).toEqual(['sid=s', 'a=1']);
  });
});

describe('the cookie jar writes the lines of the request scheme', () => {
  const user: CheckedUser = { id: 'u1', phone: '+32470123401', sessionId: 's1' };
  for (const secure of [false, true]) {
    it(`verified, challenge, clear (${secure ? 'https' : 'http'}, secure: 'auto')`, () => {
      vi.spyOn(Date, 'now').mockReturnValue(NOW);
      const config = parseOptions({
        secret: SECRET,
        getUser: () => null,
        transport: memoryTransport(),
        store: memoryStore(),
        allowedCountries: ['BE'],
        warnings: { memoryStore: false },
        now: () => NOW,
      });
      const jar = createCookieJar(config);
      const name = secure ? '__Host-2fa' : '2fa';
      const expressOptions = { httpOnly: true, sameSite: 'lax', path: '/', secure } as const;
      const res = expressResponse(secure);
      jar.writeVerified(res, user, { verifiedAt: NOW, expiresAt: NOW + 60_000, method: 'sms' });
      jar.clearChallenge(res);
      jar.writeChallenge(res, 'abcdefghijklmnopqrstuvwx', 600_000);
      jar.clear(res);
      const lines = setCookies(res) as string[];
      const expected = expressResponse(secure);
      const verifiedValue = decodeURIComponent((lines[0] as string).split(';')[0]?.split('=')[1] ?? '');
      const challengeValue = decodeURIComponent((lines[2] as string).split(';')[0]?.split('=')[1] ?? '');
      expected.cookie(name, verifiedValue, { ...expressOptions, maxAge: 60_000 });
      expected.clearCookie(`${name}-challenge`, expressOptions);
      expected.cookie(`${name}-challenge`, challengeValue, { ...expressOptions, maxAge: 600_000 });
      expected.clearCookie(name, expressOptions);
      expected.clearCookie(`${name}-challenge`, expressOptions);
      expect(lines).toEqual(setCookies(expected));
      expect(verifiedValue).toMatch(/^v2\.sms\.\d+\.\d+\.[\w-]{43}$/);
      expect(challengeValue.startsWith('abcdefghijklmnopqrstuvwx.')).toBe(true);
    });
  }
});
