import * as crypto from 'node:crypto';
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomBytes,
  randomInt,
  timingSafeEqual,
} from 'node:crypto';

/** A code of `length` digits, uniform (no modulo bias), leading zeros kept. */
export function generateCode(length: number): string {
  let code = '';
  for (let i = 0; i < length; i++) code += randomInt(10);
  return code;
}

/** 144 random bits, URL- and cookie-safe. */
export function randomId(): string {
  return randomBytes(18).toString('base64url');
}

/** `secret`: the text, or the same prepared once as a KeyObject (`hmacKeys`): the same HMAC, less work per call. */
function hmac(secret: string | KeyObject, purpose: string, data: string): Buffer {
  return createHmac('sha256', secret).update(`${purpose}\0${data}`).digest();
}

/** The secrets as HMAC keys, made once: `createHmac` with a KeyObject skips preparing the key each call. */
export function hmacKeys(secrets: string[]): KeyObject[] {
  return secrets.map((secret) => createSecretKey(Buffer.from(secret, 'utf8')));
}

/** Length of cookie-signature's signature: base64 of an HMAC-SHA256 without its one `=`. */
const SIGNATURE_LENGTH = 43;

/**
 * cookie-signature's `unsign` (value `.` base64 HMAC-SHA256, no padding, nothing after it) under
 * each key: one HMAC per key, compared as text without a copy, in time independent of where the
 * signatures differ. The value, or `null`.
 */
export function unsignWith(input: string, keys: KeyObject[]): string | null {
  const dot = input.lastIndexOf('.');
  if (dot < 0 || input.length - dot - 1 !== SIGNATURE_LENGTH) return null;
  const value = input.slice(0, dot);
  for (const key of keys) {
    // 44 characters ending in one `=`: the 43 before it are compared.
    const expected = createHmac('sha256', key).update(value).digest('base64');
    if (textMatches(expected, input, dot + 1, SIGNATURE_LENGTH)) return value;
  }
  return null;
}

/**
 * Whether `length` characters of `expected` equal those of `input` from `at`: compared in place, in
 * time independent of where they differ.
 */
export function textMatches(expected: string, input: string, at: number, length: number): boolean {
  let diff = 0;
  for (let i = 0; i < length; i++) diff |= expected.charCodeAt(i) ^ input.charCodeAt(at + i);
  return diff === 0;
}

/** Constant-time equality for strings whose length is not secret. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/**
 * By the code of a base64url character: that character with its low four bits cleared. Base64url
 * of an HMAC's first 16 bytes is the first 21 characters of the whole HMAC's, then one character
 * of byte 15's last two bits and four zero bits: the whole HMAC's 22nd character, those bits cleared.
 */
const LAST_OF_16: string[] = [];
for (let i = 0; i < 64; i++) LAST_OF_16[B64URL.charCodeAt(i)] = B64URL[i & 0x30] as string;

/** Base64url of an HMAC's first 16 bytes, from the base64url of the whole (see `LAST_OF_16`). */
const first16 = (whole: string) => whole.slice(0, 21) + LAST_OF_16[whole.charCodeAt(21)];

/**
 * What the store keeps instead of the code: HMAC(secret, challenge id + code), 128 bits of it, as
 * base64url (22 characters). Taken as text straight from the digest, without a Buffer, its slice
 * and their encoding (~0.8 µs of each verify): test/unit/challenge-cookie.test.ts compares it with
 * the first 16 bytes of the HMAC encoded over many ids, codes and secrets.
 */
export function hashCode(secret: string | KeyObject, challengeId: string, code: string): string {
  return first16(createHmac('sha256', secret).update(`code\0${challengeId}:${code}`).digest('base64url'));
}

/** `hashCode` under a prepared key (every verify hashes its typed code): no Hmac object. */
export const hashCodeWith = (key: HmacKey, challengeId: string, code: string): string =>
  first16(key.digest(`code\0${challengeId}:${code}`));

type OneShotDigest = (algorithm: string, data: Uint8Array, encoding: 'latin1' | 'base64url') => string;
/** `crypto.hash` (Node ≥ 20.12): one call, no Hash object; null on older Node 20. */
const nodeOneShotDigest = (crypto as { hash?: OneShotDigest }).hash ?? null;
/** SHA-256's block size in bytes: HMAC pads its key to one block. */
export const BLOCK = 64;

/**
 * A secret prepared for HMAC-SHA256 of short messages: RFC 2104's
 * SHA-256((K ⊕ opad) ‖ SHA-256((K ⊕ ipad) ‖ message)) by two `crypto.hash` one-shots over buffers
 * that hold the padded key once, where `createHmac` builds an Hmac object, a native handle and a
 * stream and pads the key on every call (twice the cost of the hashes on a message this short).
 * A subclass writes its message into `inner` after the pad (from `BLOCK`) and hashes the first
 * `end` bytes with `digestOf`; a message longer than its room, or Node without `crypto.hash`
 * (< 20.12, or `oneShot: false` in the tests: `oneShot` is null), goes through `createHmac(key)`.
 * Synchronous from the first write to the last hash: no other call can use the buffers between.
 * `HmacKey` (a verify's typed code) and `ClaimKey` (the verified cookie) are the two.
 */
export class PreparedHmac {
  readonly key: KeyObject;
  /** `crypto.hash`, or null: every message through `createHmac`. */
  protected readonly oneShot: OneShotDigest | null;
  /** K ⊕ ipad, then the message (written per call). */
  protected readonly inner: Buffer;
  /** K ⊕ opad, then the inner hash (written per call). */
  readonly #outer = Buffer.alloc(BLOCK + 32);
  /** `inner.subarray(0, end)` by `end`, made once per length seen (a view per call costs more). */
  readonly #views: Buffer[] = [];

  constructor(key: KeyObject, room: number, { oneShot = true }: { oneShot?: boolean } = {}) {
    this.key = key;
    this.oneShot = oneShot ? nodeOneShotDigest : null;
    this.inner = Buffer.alloc(BLOCK + room);
    const exported = key.export();
    // A key longer than a block is hashed first (RFC 2104, section 2), as `createHmac` does.
    const raw = exported.length > BLOCK ? createHash('sha256').update(exported).digest() : exported;
    for (let i = 0; i < BLOCK; i++) {
      const byte = raw[i] ?? 0;
      this.inner[i] = byte ^ 0x36;
      this.#outer[i] = byte ^ 0x5c;
    }
    raw.fill(0);
    exported.fill(0);
  }

  /** base64url HMAC of `inner`'s first `end` bytes (the pad and the message written); `oneShot` not null. */
  protected digestOf(oneShot: OneShotDigest, end: number): string {
    let view = this.#views[end];
    if (view === undefined) {
      view = this.inner.subarray(0, end);
      this.#views[end] = view;
    }
    const innerHash = oneShot('sha256', view, 'latin1');
    const outer = this.#outer;
    // 32 bytes as 32 latin1 characters: copied in place, no `write` call.
    for (let i = 0; i < 32; i++) outer[BLOCK + i] = innerHash.charCodeAt(i);
    return oneShot('sha256', outer, 'base64url');
  }
}

/** Bytes of text a code key's buffer holds; longer text goes through `createHmac`. */
const CODE_ROOM = 256;

/**
 * A secret prepared for a verify's typed code (`PreparedHmac`). The text is taken as UTF-8, as
 * `createHmac(...).update(text)` takes it (a lone surrogate as U+FFFD in both); after hashing, the
 * text's bytes are zeroed so the typed code does not stay in the buffer until the next verify.
 * test/unit/code-hash.test.ts compares it with `createHmac`, on both paths.
 */
export class HmacKey extends PreparedHmac {
  constructor(key: KeyObject, options?: { oneShot?: boolean }) {
    super(key, CODE_ROOM, options);
  }

  /** `createHmac('sha256', key).update(text).digest('base64url')`. */
  digest(text: string): string {
    const oneShot = this.oneShot;
    // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, is 4): it fits.
    if (oneShot === null || text.length * 3 > CODE_ROOM)
      return createHmac('sha256', this.key).update(text).digest('base64url');
    const end = BLOCK + this.inner.write(text, BLOCK, 'utf8');
    const digest = this.digestOf(oneShot, end);
    this.inner.fill(0, BLOCK, end);
    return digest;
  }
}

/** Checks a typed code against the stored hash under every secret (rotation), in constant time. */
export function codeMatches(secrets: string[], challengeId: string, code: string, hash: string): boolean {
  let match = false;
  for (const secret of secrets) match = safeEqual(hashCode(secret, challengeId, code), hash) || match;
  return match;
}

/** A short keyed hash for store keys, so the store never holds a phone number, IP or user id in clear. */
export function keyHash(secret: string | KeyObject, kind: string, value: string): string {
  return hmac(secret, `key:${kind}`, value).subarray(0, 12).toString('base64url');
}

/** An unkeyed fingerprint (the session id inside the verified cookie): not reversible, not secret. */
export function fingerprint(value: string | Buffer): string {
  return sha256(value).subarray(0, 16).toString('base64url');
}

// `crypto.hash` (Node ≥ 20.12): one call, no Hash object; createHash on older Node 20.
const oneShot = (
  crypto as { hash?: (algorithm: string, data: string | Buffer, encoding: 'buffer') => Buffer }
).hash;
const sha256 = (value: string | Buffer): Buffer =>
  oneShot ? oneShot('sha256', value, 'buffer') : createHash('sha256').update(value).digest();

/** The CSRF token of HTML forms, bound to the user and the first-factor session. */
export function formToken(secret: string, userId: string, sessionId: string): string {
  return hmac(secret, 'form', `${userId}:${sessionId}`).subarray(0, 24).toString('base64url');
}

export function formTokenMatches(
  secrets: string[],
  userId: string,
  sessionId: string,
  token: string,
): boolean {
  let match = false;
  for (const secret of secrets) match = safeEqual(formToken(secret, userId, sessionId), token) || match;
  return match;
}

/*
 * Resend and "call me instead" deliver the same code, and a delivery report may trigger the voice
 * call with no request at hand, so the code and the number must be recoverable. They are kept
 * sealed with AES-256-GCM under a key derived from the secret, bound to the challenge id. This is
 * no weaker than the keyed hash alone: whoever holds the secret can reverse a 6-digit HMAC anyway.
 */
const sealKey = (secret: string) => hmac(secret, 'seal', 'aes-256-gcm');

export function seal(secret: string, challengeId: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(secret), iv);
  cipher.setAAD(Buffer.from(challengeId));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

/** Opens a sealed value under any of the secrets; `undefined` when none fits or it was tampered with. */
export function unseal(secrets: string[], challengeId: string, sealed: string): string | undefined {
  const raw = Buffer.from(sealed, 'base64url');
  if (raw.length < 29) return undefined;
  for (const secret of secrets) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', sealKey(secret), raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(challengeId));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      // wrong secret or tampered: try the next one
    }
  }
  return undefined;
}
