/**
 * The claim cache must not keep whole Cookie headers alive: V8 keeps a slice of 13 characters or
 * more as a view of the string it was cut from, so a cached cookie value sliced out of a 20 kB
 * header would hold all of it. A heap reading, not a timing: 2,000 verified browsers, each with a
 * header of its own ~20 kB, read once (each a miss that caches its claim).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { createCookieJar, sessionFingerprint, type VerifiedClaim } from '../../src/cookie.js';
import type { CheckedUser } from '../../src/options.js';
import { cookieValue, jarOptions, setCookieLine } from '../helpers/cookie-jar.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const BROWSERS = 2_000;
/** A session id long enough (13+) to be kept as a view when cut from a header. */
const sessionOf = (i: number) => `session-${String(i).padStart(12, '0')}`;
const PADDING = 20_000;

const jarOf = () => createCookieJar(jarOptions(undefined, () => NOW));
/** A request whose Cookie header is its own ~20 kB string (a big analytics cookie first). */
const requestWith = (i: number, cookie: string) =>
  ({
    headers: { cookie: `analytics=${String(i).padStart(PADDING, 'x')}; ${cookie}` },
    secure: false,
  }) as unknown as Request;

describe('the cookie caches and the Cookie header', () => {
  it('keeps the verified cookie values it caches, not the 20 kB headers they were read from', () => {
    const jar = jarOf();
    const claim: VerifiedClaim = { verifiedAt: NOW, expiresAt: NOW + 3_600_000, method: 'sms' };
    const users: CheckedUser[] = [];
    const values: string[] = [];
    for (let i = 0; i < BROWSERS; i++) {
      const user = { id: `u${i}`, phone: '+32470123401', sessionId: sessionOf(i) };
      users.push(user);
      values.push(cookieValue(setCookieLine((res) => jar.writeVerified(res, user, claim))));
    }
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < BROWSERS; i++) {
      // The session id cut from the same header, as a session middleware reading its cookie would.
      const req = requestWith(i, `sid=${sessionOf(i)}; 2fa=${values[i]}`);
      const header = req.headers.cookie as string;
      const at = header.indexOf('sid=') + 4;
      const sessionId = header.slice(at, header.indexOf(';', at));
      expect(jar.readVerified(req, { ...(users[i] as CheckedUser), sessionId })).toEqual(claim);
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    // 2,000 headers of 20 kB are 40 MB; the values themselves ~0.4 MB with their slots.
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });

  it('keeps the challenge cookies it caches, and their ids, not the headers they were read from', () => {
    const writer = jarOf();
    const reader = jarOf();
    const ids = Array.from({ length: BROWSERS }, (_, i) => `ch${String(i).padStart(22, '0')}`);
    const values = ids.map((id) =>
      cookieValue(setCookieLine((res) => writer.writeChallenge(res, id, 600_000))),
    );
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < BROWSERS; i++) {
      expect(reader.readChallenge(requestWith(i, `2fa-challenge=${values[i]}`))).toBe(ids[i]);
    }
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(8 * 1024 * 1024);
  });

  it('keeps the session ids whose fingerprints it caches, not the headers they were cut from', () => {
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < BROWSERS; i++) {
      const header = requestWith(i, `sid=${sessionOf(i)}-fp`).headers.cookie as string;
      const sessionId = header.slice(header.indexOf('sid=') + 4);
      expect(sessionFingerprint({ id: 'u', phone: '+32470123401', sessionId })).toMatch(/^.{8,}$/);
    }
    gc();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(8 * 1024 * 1024);
  });
});
