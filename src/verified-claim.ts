// The verified cookie's value (format v2): `v2.<method>.<verifiedAt>.<expiresAt>.<signature>`.
//
// The signature is base64url HMAC-SHA256 over `2fa-verified\0`, the binding (user id, session id,
// version) and the text before it. The binding is signed, never written: the guard knows the user,
// session and version of the request, so one HMAC checks the claim and whom it is for, with no
// hash of the session id, no JSON and nothing percent-encoded. Cookies of the earlier format
// (cookie-signature over base64url JSON) do not parse: the browser verifies once more.
import { createHmac, type KeyObject } from 'node:crypto';
import { BLOCK, PreparedHmac, textMatches } from './crypto.js';
import type { CheckedUser } from './options.js';

/** How the verified state was earned: a code by SMS or call, a recovery code, or a remembered device. */
export type Method = 'sms' | 'voice' | 'recovery' | 'device';

/** What the verified cookie says; the user, session and version it holds for are in its signature. */
export interface VerifiedClaim {
  verifiedAt: number;
  expiresAt: number;
  method: Method;
}

const SIGNATURE_LENGTH = 43;
const METHODS: readonly Method[] = ['sms', 'voice', 'recovery', 'device'];
const DOT = 46;
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Whom a claim holds for, as one string: each of user id, session id ('' for none) and version as
 * `<length>:<text>`, so no value can shift into its neighbour. UTF-8 would turn any lone surrogate
 * into U+FFFD, so a binding with surrogates is JSON instead, which escapes them (and starts with
 * `[`, never a digit).
 */
export function bindingOf(user: CheckedUser): string {
  return bindingOfParts(user.id, user.sessionId ?? '', user.version ?? '');
}

/** `bindingOf` of a user's parts already read (`sessionId ?? ''`, `version ?? ''`). */
export function bindingOfParts(id: string, session: string, versionPart: string | number): string {
  const version = String(versionPart);
  // Each part tested as it is (flat), not the framed text (a rope the test would copy first): the
  // framing adds only digits and colons, so it has a surrogate exactly when a part has one.
  if (SURROGATE.test(id) || SURROGATE.test(session) || SURROGATE.test(version))
    return JSON.stringify([id, session, version]);
  return `${id.length}:${id}${session.length}:${session}${version.length}:${version}`;
}

const DOMAIN = '2fa-verified\0';

const signatureOf = (key: KeyObject, binding: string, text: string) =>
  createHmac('sha256', key).update(`${DOMAIN}${binding}${text}`).digest('base64url');

/** Where the binding starts in a key's inner buffer: after the padded key and the domain. */
const MESSAGE_AT = BLOCK + DOMAIN.length;
/**
 * Bytes of binding and text a key's inner buffer takes; a longer message goes through `createHmac`.
 * Exported for test/unit/claim-key.test.ts, which signs at ROOM - 1, ROOM and ROOM + 1.
 */
export const ROOM = 1024;

/**
 * A secret prepared for the verified cookie's claims (`PreparedHmac`: two one-shot hashes over the
 * padded key, no Hmac object; the domain written once after the pad). The same function as
 * `signClaim`, which keeps `createHmac`: every cookie read back in the tests checks one against the
 * other, and test/unit/claim-key.test.ts compares them directly (keys shorter and longer than a
 * block, messages across block edges and at ROOM's), and the fast path against the fallback that
 * Node without `crypto.hash` takes (`{ oneShot: false }`).
 */
export class ClaimKey extends PreparedHmac {
  /**
   * `oneShot: false` builds the key as Node < 20.12 runs it (no `crypto.hash`), so that the tests
   * reach that path on any Node; the default is the fast path wherever Node has `crypto.hash`.
   */
  constructor(key: KeyObject, options?: { oneShot?: boolean }) {
    super(key, MESSAGE_AT - BLOCK + ROOM, options);
    this.inner.write(DOMAIN, BLOCK, 'latin1');
  }

  /**
   * `signatureOf(key, binding, value.slice(0, textLength))`: the first `textLength` characters of
   * `value` must be ASCII (`openClaim` checked them), so they are written as they are, no slice.
   * Synchronous from the first write to the last hash: no other call can use the buffers between.
   */
  signature(binding: string, value: string, textLength: number): string {
    // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, is 4): it fits.
    const oneShot = this.oneShot;
    if (oneShot === null || binding.length * 3 + textLength > ROOM)
      return signatureOf(this.key, binding, value.slice(0, textLength));
    const inner = this.inner;
    let end = MESSAGE_AT + inner.write(binding, MESSAGE_AT, 'utf8');
    end += inner.write(value, end, textLength, 'latin1');
    return this.digestOf(oneShot, end);
  }

  /**
   * `signature(bindingOfParts(id, session, version), value, textLength)`, the binding written into
   * the buffer part by part (`<length>:<text>` each), with no framed string built, flattened and
   * tested for surrogates first. Parts and text all ASCII only: a character above U+007F (UTF-8 of
   * more than one byte, or a surrogate that `bindingOfParts` escapes as JSON) takes `signature`
   * with the binding as `bindingOfParts` makes it, as does a message too long for the buffer.
   */
  signatureOfParts(id: string, session: string, version: string, value: string, textLength: number): string {
    const oneShot = this.oneShot;
    // Each length at most ROOM (< 10,000): four digits and a colon per part at most.
    if (
      oneShot !== null &&
      textLength <= value.length &&
      id.length + session.length + version.length + 15 + textLength <= ROOM
    ) {
      const inner = this.inner;
      let end = writeFramed(inner, MESSAGE_AT, id);
      if (end >= 0) end = writeFramed(inner, end, session);
      if (end >= 0) end = writeFramed(inner, end, version);
      if (end >= 0 && writeAscii(inner, end, value, textLength))
        return this.digestOf(oneShot, end + textLength);
    }
    return this.signature(bindingOfParts(id, session, version), value, textLength);
  }
}

const COLON = 58;

/**
 * Writes `<length>:<text>` at `at` (the length in decimal, below 10,000) and answers where it
 * ends; -1 when `text` has a character above U+007F (then part of it may have been written).
 */
function writeFramed(buffer: Buffer, at: number, text: string): number {
  const n = text.length;
  let i = at;
  if (n >= 1000) buffer[i++] = 48 + Math.floor(n / 1000);
  if (n >= 100) buffer[i++] = 48 + (Math.floor(n / 100) % 10);
  if (n >= 10) buffer[i++] = 48 + (Math.floor(n / 10) % 10);
  buffer[i++] = 48 + (n % 10);
  buffer[i++] = COLON;
  return writeAscii(buffer, i, text, n) ? i + n : -1;
}

/** Writes the first `length` characters of `text` at `at` if all are ASCII (else false, part written). */
function writeAscii(buffer: Buffer, at: number, text: string, length: number): boolean {
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c > 127) return false;
    buffer[at + i] = c;
  }
  return true;
}

/** The claim's signed text, before its `.<signature>`. ASCII only. */
const claimText = (claim: VerifiedClaim) => `v2.${claim.method}.${claim.verifiedAt}.${claim.expiresAt}`;

export function signClaim(claim: VerifiedClaim, binding: string, key: KeyObject): string {
  const text = claimText(claim);
  return `${text}.${signatureOf(key, binding, text)}`;
}

/**
 * `signClaim(claim, bindingOfParts(id, session, version), key.key)`, signed through the key's
 * prepared HMAC with the binding written into its buffer part by part
 * (`ClaimKey.signatureOfParts`): no Hmac object, no framed string built, flattened and tested for
 * surrogates on every right code. The same value (test/unit/verified-cookie.test.ts).
 */
export function sealClaimFor(
  claim: VerifiedClaim,
  id: string,
  session: string,
  version: string,
  key: ClaimKey,
): string {
  const text = claimText(claim);
  return `${text}.${key.signatureOfParts(id, session, version, text, text.length)}`;
}

/**
 * The method at `from` in `value` when a `.` follows it, else `null`: one of the four names, as
 * `^v2\.(sms|voice|recovery|device)\.` would capture it, without a match array.
 */
function methodAt(value: string, from: number): Method | null {
  for (const method of METHODS) {
    if (value.startsWith(method, from) && value.charCodeAt(from + method.length) === DOT) return method;
  }
  return null;
}

/**
 * Where the `.` after 1 to 15 ASCII digits from `from` is, else -1. 15 digits stay below 2^53, so
 * `numberAt` reads them exactly.
 */
function digitsEnd(value: string, from: number): number {
  let i = from;
  for (; i < value.length && i - from <= 15; i++) {
    const c = value.charCodeAt(i);
    if (c === DOT) break;
    if (c < 48 || c > 57) return -1;
  }
  const length = i - from;
  return length >= 1 && length <= 15 && value.charCodeAt(i) === DOT ? i : -1;
}

/** The number the ASCII digits from `from` to `end` write (checked by `digitsEnd`). */
function numberAt(value: string, from: number, end: number): number {
  let n = 0;
  for (let i = from; i < end; i++) n = n * 10 + (value.charCodeAt(i) - 48);
  return n;
}

/**
 * The claim of a cookie value signed under one of `keys` for the binding of `id`, `session` ('' for
 * none) and `version` ('' for none; a number binds as its text), as `bindingOfParts` frames them,
 * else `null` (expiry not checked). The value must be
 * `v2.<method>.<1-15 digits>.<1-15 digits>.<43 base64url characters>`: parsed in place (no regular
 * expression, no match array, no object before the signature checks out), then one HMAC per key. A
 * signature with a character outside base64url cannot equal a computed one, so it fails the comparison.
 */
export function openClaim(
  value: string,
  id: string,
  session: string,
  version: string | number,
  keys: readonly ClaimKey[],
): VerifiedClaim | null {
  const at = value.length - SIGNATURE_LENGTH;
  if (at < 10 || !value.startsWith('v2.')) return null;
  const method = methodAt(value, 3);
  if (method === null) return null;
  const verifiedFrom = 4 + method.length;
  const verifiedEnd = digitsEnd(value, verifiedFrom);
  if (verifiedEnd < 0) return null;
  const expiresEnd = digitsEnd(value, verifiedEnd + 1);
  if (expiresEnd !== at - 1) return null;
  const versionText = String(version);
  for (const key of keys) {
    if (
      textMatches(key.signatureOfParts(id, session, versionText, value, at - 1), value, at, SIGNATURE_LENGTH)
    ) {
      return {
        method,
        verifiedAt: numberAt(value, verifiedFrom, verifiedEnd),
        expiresAt: numberAt(value, verifiedEnd + 1, expiresEnd),
      };
    }
  }
  return null;
}
