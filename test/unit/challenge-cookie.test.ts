import { createHmac } from 'node:crypto';
import { sign } from 'cookie-signature';
import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../../src/challenge.js';
import { createCookieJar } from '../../src/cookie.js';
import { fingerprint, hashCode, keyHash } from '../../src/crypto.js';
import { cookieValue, jarOptions, setCookieLine } from '../helpers/cookie-jar.js';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const OLD = 'an-older-secret-that-is-long-enough-987654321';
const ID = 'abcdefghijklmnopqrstuvwxABC'; // 24 random characters and a 3-character user tag

const configFor = (secret: string | string[]) => jarOptions(secret);

const requestWith = (value: string) =>
  ({
    headers: { cookie: `2fa-challenge=${encodeURIComponent(value)}` },
    secure: false,
  }) as unknown as Request;

/** The value `writeChallenge` sets, as the browser sends it back. */
function written(jar: ReturnType<typeof createCookieJar>, id: string): string {
  return cookieValue(setCookieLine((res) => jar.writeChallenge(res, id, 60_000)));
}

describe('the challenge cookie, read on every verify attempt', () => {
  it('reads the id of a cookie it wrote, of one signed with an older secret, again and again', () => {
    const jar = createCookieJar(configFor([SECRET, OLD]));
    const value = written(jar, ID);
    for (let i = 0; i < 3; i++) expect(jar.readChallenge(requestWith(value))).toBe(ID);
    const old = sign(ID, OLD);
    for (let i = 0; i < 3; i++) expect(jar.readChallenge(requestWith(old))).toBe(ID);
  });

  it('refuses a tampered or foreign copy of a cookie it has already read', () => {
    const jar = createCookieJar(configFor(SECRET));
    const value = written(jar, ID);
    expect(jar.readChallenge(requestWith(value))).toBe(ID);
    const other = `${ID.slice(0, -1)}D`;
    expect(jar.readChallenge(requestWith(`${other}${value.slice(ID.length)}`))).toBeNull();
    expect(jar.readChallenge(requestWith(`${value.slice(0, -1)}x`))).toBeNull();
    expect(jar.readChallenge(requestWith(sign(ID, OLD)))).toBeNull();
    expect(jar.readChallenge(requestWith(ID))).toBeNull();
  });

  it('answers a cookie it wrote exactly as the signature check does, before any read', () => {
    // The jar keeps what it signs: the first read of a written cookie needs no HMAC, and must
    // still refuse what the check refuses.
    const jar = createCookieJar(configFor(SECRET));
    const value = written(jar, ID);
    expect(jar.readChallenge(requestWith(`${value.slice(0, -1)}x`))).toBeNull();
    expect(jar.readChallenge(requestWith(`${ID.slice(0, -1)}D${value.slice(ID.length)}`))).toBeNull();
    expect(jar.readChallenge(requestWith(value))).toBe(ID);
    // Written for something that is no challenge id: refused like a signed one it never wrote.
    const odd = written(jar, 'not-an-id');
    for (let i = 0; i < 2; i++) expect(jar.readChallenge(requestWith(odd))).toBeNull();
    // Another instance with another secret refuses it (its own jar never wrote it).
    const other = createCookieJar(configFor(OLD));
    expect(other.readChallenge(requestWith(written(jar, `${ID.slice(0, -1)}E`)))).toBeNull();
    // A rotation: the new first secret signs; the jar that wrote it and one that only reads agree.
    const rotated = createCookieJar(configFor([OLD, SECRET]));
    const fresh = written(rotated, ID);
    expect(rotated.readChallenge(requestWith(fresh))).toBe(ID);
    expect(createCookieJar(configFor([SECRET, OLD])).readChallenge(requestWith(fresh))).toBe(ID);
  });

  it('refuses a signed value that is no challenge id, every time', () => {
    const jar = createCookieJar(configFor(SECRET));
    for (let i = 0; i < 2; i++) expect(jar.readChallenge(requestWith(sign('not-an-id', SECRET)))).toBeNull();
  });
});

describe('createKeys, with prepared secrets and kept user and number keys', () => {
  it('hashes a typed code as the first 16 bytes of its HMAC in base64url, over many ids, codes and secrets', () => {
    // The reference, written apart from crypto.ts's hashCode (which takes its text from the whole digest).
    const reference = (secret: string, id: string, code: string) =>
      createHmac('sha256', secret)
        .update(`code\0${id}:${code}`)
        .digest()
        .subarray(0, 16)
        .toString('base64url');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const keys = createKeys(configFor([SECRET, OLD, 'k'.repeat(100)]));
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const id = Array.from({ length: i % 2 ? 27 : 24 }, () => alphabet[next() % 64]).join('');
      const code = String(next() % 10 ** (4 + (i % 5))).padStart(4 + (i % 5), '0');
      const hashes = keys.codeHashes(id, code);
      const secrets = [SECRET, OLD, 'k'.repeat(100)];
      expect(hashes).toEqual(secrets.map((s) => reference(s, id, code)));
      expect(secrets.map((s) => hashCode(s, id, code))).toEqual(hashes);
      for (const h of hashes) seen.add(h.slice(-1));
    }
    // Every last character 16 bytes can end on (two bits, four zero bits) came up.
    expect([...seen].sort()).toEqual(['A', 'Q', 'g', 'w']);
  });

  it('gives the same keys and code hashes as the plain functions, every time', () => {
    const keys = createKeys(configFor([SECRET, OLD]));
    for (let i = 0; i < 2; i++) {
      expect(keys.user('u-1')).toBe(fingerprint('user:u-1'));
      expect(keys.phone('+32470123401')).toBe(keyHash(OLD, 'phone', '+32470123401'));
      expect(keys.budget('phone', '+32470123401')).toBe(`b:phone:${keyHash(OLD, 'phone', '+32470123401')}`);
      expect(keys.codeHashes(ID, '123456')).toEqual([
        hashCode(SECRET, ID, '123456'),
        hashCode(OLD, ID, '123456'),
      ]);
    }
  });
});
