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

const VALUE = /^v2\.(sms|voice|recovery|device)\.(\d{1,15})\.(\d{1,15})\.[\w-]{43}$/;
const SIGNATURE_LENGTH = 43;
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Whom a claim holds for, as one string: each of user id, session id ('' for none) and version as
 * `<length>:<text>`, so no value can shift into its neighbour. UTF-8 would turn any lone surrogate
 * into U+FFFD, so a binding with surrogates is JSON instead, which escapes them (and starts with
 * `[`, never a digit).
 */
export function bindingOf(user: CheckedUser): string {
  const { id } = user;
  const session = user.sessionId ?? '';
  const version = String(user.version ?? '');
  const framed = `${id.length}:${id}${session.length}:${session}${version.length}:${version}`;
  return SURROGATE.test(framed) ? JSON.stringify([id, session, version]) : framed;
}

const signatureOf = (key: KeyObject, binding: string, text: string) =>
  createHmac('sha256', key).update(`2fa-verified\0${binding}${text}`).digest('base64url');

export function signClaim(claim: VerifiedClaim, binding: string, key: KeyObject): string {
  const text = `v2.${claim.method}.${claim.verifiedAt}.${claim.expiresAt}`;
  return `${text}.${signatureOf(key, binding, text)}`;
}

/** The claim of a cookie value signed under one of `keys` for `binding`, else `null` (expiry not checked). */
export function openClaim(value: string, binding: string, keys: KeyObject[]): VerifiedClaim | null {
  const parts = VALUE.exec(value);
  if (!parts) return null;
  const at = value.length - SIGNATURE_LENGTH;
  const text = value.slice(0, at - 1);
  for (const key of keys) {
    if (textMatches(signatureOf(key, binding, text), value, at, SIGNATURE_LENGTH)) {
      return { method: parts[1] as Method, verifiedAt: Number(parts[2]), expiresAt: Number(parts[3]) };
    }
  }
  return null;
}
