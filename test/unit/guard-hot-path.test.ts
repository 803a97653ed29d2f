import { sign, unsign } from 'cookie-signature';
import type { Request, Response } from 'express';
import { describe, expect, it } from 'vitest';
import { BoundedCache } from '../../src/bounded-cache.js';
import { createCookieJar, readCookie, sessionFingerprint } from '../../src/cookie.js';
import { fingerprint, hmacKeys, unsignWith } from '../../src/crypto.js';
import { memoryStore, memoryTransport, twoFactor } from '../../src/index.js';
import { type CheckedUser, parseOptions } from '../../src/options.js';
import { bindingOf } from '../../src/verified-claim.js';
import { setCookieLine } from '../helpers/cookie-jar.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const OLD = 'an-older-secret-that-is-long-enough-987654321';

const reqWith = (cookie: string | undefined, extra: Record<string, string> = {}) =>
  ({
    headers: { ...(cookie === undefined ? {} : { cookie }), ...extra },
    secure: false,
  }) as unknown as Request;

describe('readCookie (scans the header in place)', () => {
  const cases: [string, string, string | undefined][] = [
    ['a=1; b=2', 'b', '2'],
    ['a=1;b=2', 'b', '2'],
    ['  b = 2 ; a=1', 'b', '2'],
    ['ab=1; b=2', 'b', '2'],
    ['b=first; b=second', 'b', 'first'],
    ['b=%2Bx%2F', 'b', '+x/'],
    ['b=%E0%A4%A', 'b', undefined],
    ['a=1; bb=2', 'b', undefined],
    ['a=1; b', 'b', undefined],
    ['', 'b', undefined],
    ['b=', 'b', ''],
    ['x=a=b; b=c=d', 'b', 'c=d'],
    ['\tb=tab', 'b', 'tab'],
  ];
  it.each(cases)('%j, %s → %j', (header, name, value) => {
    expect(readCookie(reqWith(header), name)).toBe(value);
  });

  it('reads nothing without a cookie header', () => {
    expect(readCookie(reqWith(undefined), 'b')).toBeUndefined();
  });
});

describe('unsignWith (cookie-signature format, prepared keys)', () => {
  const keys = hmacKeys([SECRET, OLD]);

  it('accepts what cookie-signature signs, under the current and an older secret', () => {
    for (const value of ['', 'abc', 'a.b.c', 'ünïcode', 'x'.repeat(500)]) {
      expect(unsignWith(sign(value, SECRET), keys)).toBe(value);
      expect(unsignWith(sign(value, OLD), keys)).toBe(value);
      expect(unsign(sign(value, SECRET), SECRET)).toBe(value);
    }
  });

  it('signs with a prepared key exactly as with the secret string (cookies stay valid)', () => {
    const [key] = hmacKeys([SECRET]);
    expect(sign('value', key as never)).toBe(sign('value', SECRET));
  });

  it('refuses tampered values, signatures, trailing garbage, other secrets and odd characters', () => {
    const good = sign('hello', SECRET);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    expect(unsignWith(flip(good, 0), keys)).toBeNull();
    expect(unsignWith(flip(good, good.length - 1), keys)).toBeNull();
    expect(unsignWith(`${good}=`, keys)).toBeNull();
    expect(unsignWith(`${good}x`, keys)).toBeNull();
    expect(unsignWith(good.slice(0, -1), keys)).toBeNull();
    expect(unsignWith('hello', keys)).toBeNull();
    expect(unsignWith(sign('hello', 'another-secret-that-is-long-enough-00000'), keys)).toBeNull();
    expect(unsignWith(`${good.slice(0, -1)}é`, keys)).toBeNull();
  });
});

describe('fingerprint', () => {
  it('is the first 128 bits of SHA-256, base64url', async () => {
    const { createHash } = await import('node:crypto');
    const expected = createHash('sha256').update('sid').digest().subarray(0, 16).toString('base64url');
    expect(fingerprint('sid')).toBe(expected);
    expect(sessionFingerprint({ id: 'u', sessionId: 'sid' } as never)).toBe(expected);
  });
});

describe('BoundedCache', () => {
  it('holds at most max entries and keeps what is used', () => {
    const cache = new BoundedCache<number, number>(10);
    for (let i = 0; i < 1000; i++) {
      cache.set(i, i * 2);
      expect(cache.get(0) ?? 0).toBe(0); // 0 is touched every time: it stays
      expect(cache.size).toBeLessThanOrEqual(10);
    }
    expect(cache.get(0)).toBe(0);
    expect(cache.get(999)).toBe(1998);
    expect(cache.get(1)).toBeUndefined();
  });

  it('memo computes once per key and does not cache undefined', () => {
    const cache = new BoundedCache<string, string | undefined>(4);
    let calls = 0;
    const make = (k: string) => {
      calls++;
      return k === 'none' ? undefined : k.toUpperCase();
    };
    expect(cache.memo('a', make)).toBe('A');
    expect(cache.memo('a', make)).toBe('A');
    expect(cache.memo('none', make)).toBeUndefined();
    expect(cache.memo('none', make)).toBeUndefined();
    expect(calls).toBe(3);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('refuses a max below 2', () => {
    expect(() => new BoundedCache(1)).toThrow(TypeError);
  });
});

/** The guard with more verified browsers than its claim cache holds: every check is uncached. */
describe('the guard, claim cache missing', () => {
  const browsers = 25_000; // the claim cache holds 10 000
  const options = {
    secret: SECRET,
    getUser: (req: Request) => {
      const n = Number(req.headers['x-user']);
      return { id: `u${n}`, phone: '+32470000001', sessionId: `s${n}` };
    },
    transport: memoryTransport(),
    store: memoryStore(),
    allowedCountries: ['BE'],
    warnings: { memoryStore: false },
  };
  const tfa = twoFactor(options);
  const jar = createCookieJar(parseOptions(options));
  const now = Date.now();
  const cookieOf = (n: number, session = `s${n}`, userId = `u${n}`) => {
    const line = setCookieLine((res) =>
      jar.writeVerified(
        res,
        { id: userId, phone: '+32470000001', sessionId: session },
        {
          verifiedAt: now,
          expiresAt: now + 3_600_000,
          method: 'sms',
        },
      ),
    );
    return `theme=dark; ${line.slice(0, line.indexOf(';'))}`;
  };
  const check = (n: number, cookie: string) => {
    let outcome = 'refused';
    const res = {
      setHeader: () => res,
      status: () => res,
      json: () => {
        outcome = 'refused';
      },
      end: () => {
        outcome = 'refused';
      },
      redirect: () => {
        outcome = 'refused';
      },
    } as unknown as Response;
    const req = reqWith(cookie, { 'x-user': String(n), accept: 'application/json' });
    tfa.requireSecondFactor(req, res, (error?: unknown) => {
      outcome = error ? 'error' : 'passed';
    });
    return outcome;
  };

  it('lets every verified browser through, twice round, and refuses the wrong ones', () => {
    const cookies = Array.from({ length: browsers }, (_, n) => cookieOf(n));
    for (let round = 0; round < 2; round++) {
      for (let n = 0; n < browsers; n += 7) expect(check(n, cookies[n] as string)).toBe('passed');
    }
    // Another user's cookie, another session's, and a tampered one: refused, cached or not.
    expect(check(1, cookies[2] as string)).toBe('refused');
    expect(check(3, cookieOf(3, 'other-session'))).toBe('refused');
    const tampered = (cookies[5] as string).replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'));
    expect(check(5, tampered)).toBe('refused');
    expect(check(5, cookies[5] as string)).toBe('passed');
  });
});

/** The claim cache keeps whom a claim was checked for as parts: the same answers as the binding. */
describe('the guard, claim cached: the binding compared part by part', () => {
  type Who = { id: string; sessionId?: string; version?: string | number };
  const people: Who[] = [
    { id: 'u1' },
    { id: 'u1', sessionId: '' },
    { id: 'u1', version: '' },
    { id: 'u1', sessionId: 's' },
    { id: 'u1', sessionId: 's', version: 7 },
    { id: 'u1', sessionId: 's', version: '7' },
    { id: 'u1', sessionId: 's', version: 8 },
    { id: 'u1', sessionId: 's', version: '07' },
    { id: 'u1s', version: 7 },
    { id: 'u', sessionId: '1s' },
    { id: 'u1', sessionId: '\uD800' },
    { id: 'u1', sessionId: '\uDC00' },
    { id: 'u2', sessionId: 's', version: 7 },
  ];
  const now = Date.now();
  const claim = { verifiedAt: now, expiresAt: now + 3_600_000, method: 'sms' as const };
  const options = {
    secret: SECRET,
    getUser: () => null,
    transport: memoryTransport(),
    store: memoryStore(),
    allowedCountries: ['BE'],
    warnings: { memoryStore: false },
  };
  const user = (who: Who) => ({ ...who, phone: '+32470000001' });

  it.each(people.map((who, n) => [n, who] as const))(
    'a cookie of user %i, cached, then read by each user',
    (_n, who) => {
      const jar = createCookieJar(parseOptions(options));
      const line = setCookieLine((res) => jar.writeVerified(res, user(who), claim));
      const req = reqWith(line.slice(0, line.indexOf(';')));
      expect(jar.readVerified(req, user(who))).toEqual(claim); // now cached
      for (const other of people) {
        const expected = bindingOf(user(other)) === bindingOf(user(who));
        // Cached (checked for `who`) and uncached (a jar that never saw it): the same answer.
        expect(jar.readVerified(req, user(other)) !== null).toBe(expected);
        const fresh = createCookieJar(parseOptions(options));
        expect(fresh.readVerified(req, user(other)) !== null).toBe(expected);
      }
    },
  );
});

/** getUser's answer goes uncopied through the guard only when a copy would read the same. */
describe('the guard reads the user getUser returns as the routes read their copy', () => {
  const now = Date.now();
  const claim = { verifiedAt: now, expiresAt: now + 3_600_000, method: 'sms' as const };
  class AppUser {
    id = 'u-class';
    phone = '+32470000001';
    sessionId = 's1';
    // On the prototype (an ORM entity's getter): the copy must still carry it, or a bumped version
    // would not invalidate the verified state (API.md: `version`).
    get version() {
      return 3;
    }
  }
  const guardWith = (getUser: () => unknown) => {
    const options = {
      secret: SECRET,
      getUser: getUser as never,
      transport: memoryTransport(),
      store: memoryStore(),
      allowedCountries: ['BE'],
      warnings: { memoryStore: false },
    };
    return { tfa: twoFactor(options), jar: createCookieJar(parseOptions(options)) };
  };
  const passes = (tfa: ReturnType<typeof twoFactor>, cookie: string) => {
    let passed = false;
    const res = {
      setHeader: () => res,
      status: () => res,
      json: () => res,
      redirect: () => res,
    } as unknown as Response;
    tfa.requireSecondFactor(reqWith(cookie, { accept: 'application/json' }), res, (error?: unknown) => {
      passed = !error;
    });
    return passed;
  };
  const cookieFor = (jar: ReturnType<typeof createCookieJar>, who: CheckedUser) => {
    const line = setCookieLine((res) => jar.writeVerified(res, who, claim));
    return line.slice(0, line.indexOf(';'));
  };

  it('a class instance: bound with its prototype getter version, as the routes bind it', () => {
    const { tfa, jar } = guardWith(() => new AppUser());
    const fields = { id: 'u-class', phone: '+32470000001', sessionId: 's1' };
    expect(passes(tfa, cookieFor(jar, { ...fields, version: 3 }))).toBe(true);
    expect(passes(tfa, cookieFor(jar, fields))).toBe(false);
    expect(passes(tfa, cookieFor(jar, { ...fields, version: 4 }))).toBe(false);
  });

  it('a getter that answers differently on a later read never leaves a claim cached for another version', () => {
    let reads = 0;
    const shifty = {
      id: 'u-shifty',
      phone: '+32470000001',
      get version() {
        reads += 1;
        return reads <= 2 ? 1 : 2; // getUser's check reads it first
      },
    };
    let current: unknown = shifty;
    const { tfa, jar } = guardWith(() => current);
    const cookie = cookieFor(jar, { id: 'u-shifty', phone: '+32470000001', version: 1 });
    passes(tfa, cookie);
    // The same cookie, now for a user whose version is 2: its signature was checked for version 1.
    current = { id: 'u-shifty', phone: '+32470000001', version: 2 };
    expect(passes(tfa, cookie)).toBe(false);
  });

  it('a number id and session id: bound as strings', () => {
    const { tfa, jar } = guardWith(() => ({ id: 42, phone: '+32470000001', sessionId: 7 }));
    expect(passes(tfa, cookieFor(jar, { id: '42', phone: '+32470000001', sessionId: '7' }))).toBe(true);
    expect(passes(tfa, cookieFor(jar, { id: '42', phone: '+32470000001', sessionId: '8' }))).toBe(false);
  });

  it('a plain object without a prototype: read as is', () => {
    const who = Object.assign(Object.create(null) as object, {
      id: 'u-null',
      phone: '+32470000001',
      version: 2,
    });
    const { tfa, jar } = guardWith(() => who);
    expect(passes(tfa, cookieFor(jar, { id: 'u-null', phone: '+32470000001', version: 2 }))).toBe(true);
    expect(passes(tfa, cookieFor(jar, { id: 'u-null', phone: '+32470000001' }))).toBe(false);
  });
});
