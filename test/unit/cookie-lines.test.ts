// The cookie jar writes its Set-Cookie lines itself (src/cookie.ts `cookieLines`): they must be
// byte for byte what Express's res.cookie / res.clearCookie wrote before, for every option the
// package accepts, and they must append to Set-Cookie lines already set as res.append does.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import express, { type Request, type Response } from 'express';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { appendSetCookie, cookieLines, createCookieJar } from '../../src/cookie.js';
import type { CheckedUser } from '../../src/options.js';
import { jarOptions } from '../helpers/cookie-jar.js';

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

/** A response with only getHeader and setHeader (no Node `appendHeader`), as outside Node's http. */
function plainResponse(): Response {
  const headers = new Map<string, unknown>();
  return {
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    setHeader: (name: string, value: unknown) => headers.set(name.toLowerCase(), value),
  } as unknown as Response;
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

  it('leaves what res.append leaves, whatever was set before, with or without appendHeader', () => {
    for (const prev of [undefined, '', 'sid=s', ['a=1', 'b=2'], 5]) {
      // One array for all three responses, as an app's constant would be: it must stay as it was.
      const before = structuredClone(prev);
      const expected = expressResponse();
      const ours = expressResponse();
      const bare = plainResponse();
      for (const res of [expected, ours, bare]) if (prev !== undefined) res.setHeader('Set-Cookie', prev);
      expected.append('Set-Cookie', 'c=3');
      appendSetCookie(ours, 'c=3');
      appendSetCookie(bare, 'c=3');
      expect(ours.getHeader('Set-Cookie')).toEqual(expected.getHeader('Set-Cookie'));
      expect(bare.getHeader('Set-Cookie')).toEqual(expected.getHeader('Set-Cookie'));
      appendSetCookie(ours, 'd=4');
      expected.append('Set-Cookie', 'd=4');
      expect(ours.getHeader('Set-Cookie')).toEqual(expected.getHeader('Set-Cookie'));
      expect(prev).toEqual(before);
    }
  });

  it('writes the Expires of res.cookie across second boundaries, for alternating lifetimes', () => {
    const lines = cookieLines(OPTION_SETS[0]);
    const now = vi.spyOn(Date, 'now');
    // The same second twice, its last millisecond, the next second, back and forth between lifetimes.
    for (const [at, maxAge] of [
      [NOW, 43_200_000],
      [NOW + 500, 43_200_000],
      [NOW + 876, 43_200_000],
      [NOW + 877, 43_200_000],
      [NOW + 877, 600_000],
      [NOW + 878, 43_200_000],
      [NOW + 1_877, 1_500],
      [NOW + 1_877, 43_200_000],
      [NOW - 5_000, 43_200_000],
    ] as const) {
      now.mockReturnValue(at);
      const res = expressResponse();
      res.cookie('2fa', 'v', { httpOnly: true, sameSite: 'lax', path: '/', secure: false, maxAge });
      expect(lines.set('2fa', 'v', maxAge)).toBe(setCookies(res)[0]);
    }
  });
});

/** The options both cookie tests build their jar from. */
const jarConfig = () => jarOptions(SECRET, () => NOW);

describe('the cookie jar writes the lines of the request scheme', () => {
  const user: CheckedUser = { id: 'u1', phone: '+32470123401', sessionId: 's1' };
  for (const secure of [false, true]) {
    it(`verified, challenge, clear (${secure ? 'https' : 'http'}, secure: 'auto')`, () => {
      vi.spyOn(Date, 'now').mockReturnValue(NOW);
      const config = jarConfig();
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

describe('a scheme asked once serves both cookies of a right code', () => {
  const user: CheckedUser = { id: 'u1', phone: '+32470123401', sessionId: 's1' };
  for (const secure of [false, true]) {
    it(`isSecure says the request's scheme; writes given a scheme follow it (${secure ? 'https' : 'http'})`, () => {
      const config = jarConfig();
      const jar = createCookieJar(config);
      const res = expressResponse(secure);
      expect(jar.isSecure(res.req)).toBe(secure);
      // Given the other scheme, the writes take it as said: they do not ask the request again.
      jar.writeVerified(res, user, { verifiedAt: NOW, expiresAt: NOW + 60_000, method: 'sms' }, !secure);
      jar.clearChallenge(res, !secure);
      jar.clearChallenge(res);
      const names = (setCookies(res) as string[]).map((line) => line.split('=')[0]);
      const given = secure ? '2fa' : '__Host-2fa';
      const own = secure ? '__Host-2fa' : '2fa';
      expect(names).toEqual([given, `${given}-challenge`, `${own}-challenge`]);
    });
  }
});
