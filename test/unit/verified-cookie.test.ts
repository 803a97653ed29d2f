import type { KeyObject } from 'node:crypto';
import { sign } from 'cookie-signature';
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { createCookieJar, type VerifiedClaim } from '../../src/cookie.js';
import { hmacKeys } from '../../src/crypto.js';
import type { CheckedUser } from '../../src/options.js';
import { bindingOf, signClaim } from '../../src/verified-claim.js';
import { cookieValue, jarOptions, setCookieLine } from '../helpers/cookie-jar.js';
import { verifiedCookie } from '../helpers/verified-cookie.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const OLD = 'an-older-secret-that-is-long-enough-987654321';
const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
const HOUR = 3_600_000;

function jarFor(secret: string | string[], clock = { now: NOW }) {
  return createCookieJar(jarOptions(secret, () => clock.now));
}

type Jar = ReturnType<typeof jarFor>;
const alice: CheckedUser = { id: 'u-alice', phone: '+32470123401', sessionId: 'sid-alice-1', version: 3 };
const claim: VerifiedClaim = { verifiedAt: NOW, expiresAt: NOW + HOUR, method: 'sms' };

/** The value `writeVerified` sets (its Set-Cookie line), as the browser will send it back. */
function write(jar: Jar, user: CheckedUser, what: VerifiedClaim = claim): string {
  return cookieValue(setCookieLine((res) => jar.writeVerified(res, user, what)));
}

const reqWith = (value: string) =>
  ({
    headers: { cookie: `theme=dark; 2fa=${encodeURIComponent(value)}` },
    secure: false,
  }) as unknown as Request;
const read = (jar: Jar, user: CheckedUser, value: string) => jar.readVerified(reqWith(value), user);

describe('the verified cookie (format v2)', () => {
  it('is v2.<method>.<verifiedAt>.<expiresAt>.<signature>, URL-safe, naming no user and no session', () => {
    const value = write(jarFor(SECRET), alice);
    expect(value).toMatch(/^v2\.sms\.\d+\.\d+\.[A-Za-z0-9_-]{43}$/);
    expect(value).toBe(verifiedCookie(SECRET, alice, claim));
    expect(encodeURIComponent(value)).toBe(value);
    expect(value).not.toContain('alice');
    expect(value).not.toContain('sid-alice');
  });

  it('reads back what it wrote, for every method', () => {
    const jar = jarFor(SECRET);
    for (const method of ['sms', 'voice', 'recovery', 'device'] as const) {
      const c = { ...claim, method };
      expect(read(jar, alice, write(jar, alice, c))).toEqual(c);
      // And from a fresh jar (no cache): the signature alone proves it.
      expect(read(jarFor(SECRET), alice, write(jar, alice, c))).toEqual(c);
    }
  });

  it('refuses every single-character change, truncation and extension', () => {
    const value = write(jarFor(SECRET), alice);
    const jar = jarFor(SECRET);
    for (let i = 0; i < value.length; i++) {
      for (const c of ['A', 'b', '0', '9', '.', '-', '_']) {
        if (value[i] === c) continue;
        expect(read(jar, alice, value.slice(0, i) + c + value.slice(i + 1))).toBeNull();
      }
      expect(read(jar, alice, value.slice(0, i))).toBeNull();
    }
    for (const extra of ['x', '.', '=', `.${value.slice(-43)}`])
      expect(read(jar, alice, value + extra)).toBeNull();
    expect(read(jar, alice, value)).toEqual(claim);
  });

  it('refuses another expiry, verify time or method signed for nobody (the text is what is signed)', () => {
    const jar = jarFor(SECRET);
    const signature = write(jar, alice).slice(-43);
    for (const text of [
      `v2.sms.${NOW}.${NOW + 100 * HOUR}`,
      `v2.sms.${NOW + 1}.${NOW + HOUR}`,
      `v2.voice.${NOW}.${NOW + HOUR}`,
      `v2.sms.0${NOW}.${NOW + HOUR}`,
    ]) {
      expect(read(jar, alice, `${text}.${signature}`)).toBeNull();
    }
  });

  it('refuses it in another session of the same user, or in a session when it was issued for none', () => {
    const jar = jarFor(SECRET);
    const value = write(jar, alice);
    expect(read(jar, { ...alice, sessionId: 'sid-alice-2' }, value)).toBeNull();
    const { sessionId: _, ...noSession } = alice;
    expect(read(jar, noSession, value)).toBeNull();
    const sessionless = write(jar, noSession);
    expect(read(jar, noSession, sessionless)).toEqual(claim);
    expect(read(jar, alice, sessionless)).toBeNull();
  });

  it('refuses it for another user, even one holding the same session id', () => {
    const jar = jarFor(SECRET);
    const value = write(jar, alice);
    expect(read(jar, { ...alice, id: 'u-bob' }, value)).toBeNull();
    expect(read(jar, { ...alice, id: 'u-alicE' }, value)).toBeNull();
  });

  it('refuses it once the user’s version moved on; a number and its text are the same version', () => {
    const jar = jarFor(SECRET);
    const value = write(jar, alice);
    expect(read(jar, { ...alice, version: 4 }, value)).toBeNull();
    expect(read(jar, { ...alice, version: '3' }, value)).toEqual(claim);
    const { version: _, ...unversioned } = alice;
    expect(read(jar, unversioned, value)).toBeNull();
    expect(read(jar, { ...alice, version: '' }, write(jar, unversioned))).toEqual(claim);
  });

  it('refuses it from its expiry on, and when its verify time is more than a minute ahead', () => {
    const clock = { now: NOW };
    const jar = jarFor(SECRET, clock);
    const value = write(jar, alice);
    clock.now = NOW + HOUR - 1;
    expect(read(jar, alice, value)).toEqual(claim);
    clock.now = NOW + HOUR;
    expect(read(jar, alice, value)).toBeNull();
    clock.now = NOW;
    const ahead = write(jar, alice, { ...claim, verifiedAt: NOW + 60_001 });
    expect(read(jar, alice, ahead)).toBeNull();
    expect(read(jar, alice, write(jar, alice, { ...claim, verifiedAt: NOW + 60_000 }))).not.toBeNull();
  });

  it('signs with the first secret and reads under any listed one (rotation)', () => {
    const before = write(jarFor(OLD), alice);
    const rotated = jarFor([SECRET, OLD]);
    expect(read(rotated, alice, before)).toEqual(claim);
    const after = write(rotated, alice);
    expect(after).toBe(verifiedCookie(SECRET, alice, claim));
    expect(read(jarFor(SECRET), alice, after)).toEqual(claim);
    expect(read(jarFor(SECRET), alice, before)).toBeNull();
    expect(read(jarFor([SECRET, OLD]), { ...alice, id: 'u-bob' }, before)).toBeNull();
  });

  it("writes exactly signClaim's value for every binding: non-ASCII, lone surrogates, past the prepared buffer", () => {
    const users: CheckedUser[] = [
      alice,
      { id: 'u', phone: '+32470123401' },
      { id: 'ü-é-漢字-😀', phone: '+32470123401', sessionId: 'sé', version: 'v€' },
      { id: 'lone-\ud800-high', phone: '+32470123401', sessionId: '\udfff', version: 7 },
      // Bindings longer than the key's prepared buffer (1,024 bytes) take createHmac: same value.
      { id: 'x'.repeat(1100), phone: '+32470123401', sessionId: 's' },
      { id: '漢'.repeat(400), phone: '+32470123401', sessionId: 's', version: 1 },
      { id: 'y'.repeat(300), phone: '+32470123401', sessionId: 'z'.repeat(700), version: 'w'.repeat(20) },
    ];
    for (const secrets of [[SECRET], [SECRET, OLD], ['k'.repeat(100)]]) {
      const jar = jarFor(secrets);
      const first = hmacKeys(secrets)[0] as KeyObject;
      for (const user of users) {
        for (const method of ['sms', 'voice', 'recovery', 'device'] as const) {
          const c = { verifiedAt: NOW - 12_345, expiresAt: NOW + HOUR + 678, method };
          const value = write(jar, user, c);
          expect(value).toBe(signClaim(c, bindingOf(user), first));
          expect(read(jar, user, value)).toEqual(c);
        }
      }
    }
  });

  it('keeps user ids, sessions and versions apart whatever characters they hold (no delimiter injection)', () => {
    // Pairs that a plain join with a delimiter, or a join without one, would confuse.
    const pairs: [Partial<CheckedUser>, Partial<CheckedUser>][] = [
      [
        { id: 'a.b', sessionId: 'c' },
        { id: 'a', sessionId: 'b.c' },
      ],
      [
        { id: 'ab', sessionId: 'c' },
        { id: 'a', sessionId: 'bc' },
      ],
      [
        { id: 'a:b', sessionId: 'c' },
        { id: 'a', sessionId: 'b:c' },
      ],
      [
        { id: '1:a', sessionId: '' },
        { id: '', sessionId: 'a' },
      ],
      [
        { id: 'a1:b', sessionId: '1:c' },
        { id: 'a', sessionId: 'b1:c' },
      ],
      [
        { id: 'a\0b', sessionId: 'c' },
        { id: 'a', sessionId: 'b\0c' },
      ],
      [
        { id: 'u', sessionId: 's', version: 'v' },
        { id: 'u', sessionId: 's1:v', version: '' },
      ],
      [
        { id: 'u;2fa=x', sessionId: 's' },
        { id: 'u', sessionId: ';2fa=x' },
      ],
      // Lone surrogates: UTF-8 would turn both into U+FFFD.
      [
        { id: 'a\uD800', sessionId: 's' },
        { id: 'a\uFFFD', sessionId: 's' },
      ],
      [
        { id: 'a\uDC00', sessionId: 's' },
        { id: 'a\uD800', sessionId: 's' },
      ],
    ];
    const jar = jarFor(SECRET);
    for (const [a, b] of pairs) {
      const userA = { ...alice, sessionId: undefined, version: undefined, ...a } as CheckedUser;
      const userB = { ...alice, sessionId: undefined, version: undefined, ...b } as CheckedUser;
      const ofA = write(jar, userA);
      const ofB = write(jar, userB);
      expect(encodeURIComponent(ofA)).toBe(ofA);
      expect(read(jar, userA, ofA), JSON.stringify(a)).toEqual(claim);
      expect(read(jarFor(SECRET), userB, ofA), JSON.stringify([a, b])).toBeNull();
      expect(read(jarFor(SECRET), userA, ofB), JSON.stringify([b, a])).toBeNull();
    }
  });

  it('refuses an old-format cookie (cookie-signature over base64url JSON), even correctly signed', () => {
    const payload = Buffer.from(
      JSON.stringify(['u-alice', 'fingerprint', '3', NOW, NOW + HOUR, 'sms']),
    ).toString('base64url');
    const jar = jarFor(SECRET);
    expect(read(jar, alice, sign(payload, SECRET))).toBeNull();
    // Nor is a v2 text signed the way the other cookies are (cookie-signature, no binding).
    const text = `v2.sms.${NOW}.${NOW + HOUR}`;
    expect(read(jar, alice, sign(text, SECRET))).toBeNull();
    expect(
      read(jar, alice, `${text}.${sign(text, SECRET).slice(-43).replace(/\+/g, '-').replace(/\//g, '_')}`),
    ).toBeNull();
  });

  it('refuses a cached cookie for another user, session or version, and once expired', () => {
    const clock = { now: NOW };
    const jar = jarFor(SECRET, clock);
    const value = write(jar, alice);
    expect(read(jar, alice, value)).toEqual(claim);
    expect(read(jar, alice, value)).toEqual(claim);
    expect(read(jar, { ...alice, id: 'u-bob' }, value)).toBeNull();
    expect(read(jar, { ...alice, sessionId: 'other' }, value)).toBeNull();
    expect(read(jar, { ...alice, version: 4 }, value)).toBeNull();
    expect(read(jar, alice, value)).toEqual(claim);
    clock.now = NOW + HOUR;
    expect(read(jar, alice, value)).toBeNull();
  });

  it('reads exactly the v2 shape: a known method, 1 to 15 ASCII digits twice, 43 base64url characters', async () => {
    const { createHmac } = await import('node:crypto');
    const jar = jarFor(SECRET);
    const binding = `${alice.id.length}:${alice.id}${alice.sessionId?.length}:${alice.sessionId}1:3`;
    // Signed correctly whatever the text: only the shape can refuse these.
    const signed = (text: string) =>
      `${text}.${createHmac('sha256', SECRET).update(`2fa-verified\0${binding}${text}`).digest('base64url')}`;
    const later = String(NOW + HOUR);
    for (const method of ['sms', 'voice', 'recovery', 'device'] as const) {
      expect(read(jar, alice, signed(`v2.${method}.${NOW}.${later}`))).toEqual({
        method,
        verifiedAt: NOW,
        expiresAt: NOW + HOUR,
      });
    }
    // Leading zeros are digits like any other (the value read is the number).
    expect(read(jar, alice, signed(`v2.sms.0${NOW}.${later}`))?.verifiedAt).toBe(NOW);
    for (const text of [
      `v2.sm.${NOW}.${later}`,
      `v2.smss.${NOW}.${later}`,
      `v2.SMS.${NOW}.${later}`,
      `v2.email.${NOW}.${later}`,
      `v3.sms.${NOW}.${later}`,
      `v2.sms..${later}`,
      `v2.sms.${NOW}.`,
      `v2.sms.${NOW}`,
      `v2.sms.1234567890123456.${later}`,
      `v2.sms.${NOW}.1234567890123456`,
      `v2.sms.+${NOW}.${later}`,
      `v2.sms.${NOW}.${later}.1`,
      `v2.sms.${NOW}.${later}x`,
      `v2.sms.١٢٣.${later}`,
      `x2.sms.${NOW}.${later}`,
    ]) {
      expect(read(jar, alice, signed(text)), text).toBeNull();
    }
    // 15 digits is the most a number may have.
    const big = '999999999999999';
    expect(read(jar, alice, signed(`v2.sms.${NOW}.${big}`))?.expiresAt).toBe(999999999999999);
  });

  it('reads garbage as absent, never throwing', () => {
    const jar = jarFor(SECRET);
    for (const value of [
      '',
      '.',
      'v2',
      'v2....',
      `v2.sms.${NOW}.${NOW + HOUR}.`,
      '%E0%A4%A',
      'v2.sms.1e3.2e3.x',
    ]) {
      expect(read(jar, alice, value)).toBeNull();
    }
  });
});

/** The claim cache finds a value by the end of its signature and holds the value itself. */
describe('the claim cache', () => {
  const end = (value: string) => value.slice(-4);

  it('refuses a value that ends like a cached one but differs before (tampered, or someone else’s)', () => {
    const jar = jarFor(SECRET);
    const value = write(jar, alice);
    expect(read(jar, alice, value)).toEqual(claim); // cached
    for (const at of [0, 3, 8, 30, value.length - 43, value.length - 5]) {
      const c = value[at] === 'A' ? 'B' : 'A';
      const tampered = value.slice(0, at) + c + value.slice(at + 1);
      expect(end(tampered)).toBe(end(value));
      expect(read(jar, alice, tampered), `at ${at}`).toBeNull();
    }
    expect(read(jar, alice, `${value.slice(0, -4)}x${end(value)}`)).toBeNull();
    expect(read(jar, alice, value)).toEqual(claim);
  });

  it('reads right two verified browsers whose values end alike, each in turn', () => {
    const jar = jarFor(SECRET);
    // 64^4 endings: among 12 000 values some two end alike (birthday bound), found by writing.
    const seen = new Map<string, { user: CheckedUser; value: string }>();
    let pair: [{ user: CheckedUser; value: string }, { user: CheckedUser; value: string }] | undefined;
    for (let n = 0; n < 12_000 && pair === undefined; n++) {
      const user = { ...alice, id: `u${n}` };
      const value = write(jar, user);
      const other = seen.get(end(value));
      if (other) pair = [other, { user, value }];
      else seen.set(end(value), { user, value });
    }
    if (pair === undefined) throw new Error('no two values ended alike');
    const [a, b] = pair;
    for (let round = 0; round < 3; round++) {
      expect(read(jar, a.user, a.value)).toEqual(claim);
      expect(read(jar, b.user, b.value)).toEqual(claim);
      expect(read(jar, b.user, a.value)).toBeNull();
      expect(read(jar, a.user, b.value)).toBeNull();
    }
  });
});
