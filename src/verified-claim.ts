// The verified cookie's value (format v2): `v2.<method>.<verifiedAt>.<expiresAt>.<signature>`.
//
// The signature is base64url HMAC-SHA256 over `2fa-verified\0`, the binding (user id, session id,
// version) and the text before it. The binding is signed, never written: the guard knows the user,
// session and version of the request, so one HMAC checks the claim and whom it is for, with no
// hash of the session id, no JSON and nothing percent-encoded. Cookies of the earlier format
// (cookie-signature over base64url JSON) do not parse: the browser verifies once more.
import { createHmac, type KeyObject } from 'node:crypto';
import { textMatches } from './crypto.js';
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
  const framed = `${id.length}:${id}${session.length}:${session}${version.length}:${version}`;
  return SURROGATE.test(framed) ? JSON.stringify([id, session, version]) : framed;
}

const signatureOf = (key: KeyObject, binding: string, text: string) =>
  createHmac('sha256', key).update(`2fa-verified\0${binding}${text}`).digest('base64url');

export function signClaim(claim: VerifiedClaim, binding: string, key: KeyObject): string {
  const text = `v2.${claim.method}.${claim.verifiedAt}.${claim.expiresAt}`;
  return `${text}.${signatureOf(key, binding, text)}`;
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
 * The claim of a cookie value signed under one of `keys` for `binding`, else `null` (expiry not
 * checked). The value must be `v2.<method>.<1-15 digits>.<1-15 digits>.<43 base64url characters>`:
 * parsed in place (no regular expression, no match array, no object before the signature checks
 * out), then one HMAC per key. A signature with a character outside base64url cannot equal a
 * computed one, so it fails the comparison.
 */
export function openClaim(value: string, binding: string, keys: KeyObject[]): VerifiedClaim | null {
  const at = value.length - SIGNATURE_LENGTH;
  if (at < 10 || !value.startsWith('v2.')) return null;
  const method = methodAt(value, 3);
  if (method === null) return null;
  const verifiedFrom = 4 + method.length;
  const verifiedEnd = digitsEnd(value, verifiedFrom);
  if (verifiedEnd < 0) return null;
  const expiresEnd = digitsEnd(value, verifiedEnd + 1);
  if (expiresEnd !== at - 1) return null;
  const text = value.slice(0, at - 1);
  for (const key of keys) {
    if (textMatches(signatureOf(key, binding, text), value, at, SIGNATURE_LENGTH)) {
      return {
        method,
        verifiedAt: numberAt(value, verifiedFrom, verifiedEnd),
        expiresAt: numberAt(value, verifiedEnd + 1, expiresEnd),
      };
    }
  }
  return null;
}
