// The verified cookie's value (format v2): `v2.<method>.<verifiedAt>.<expiresAt>.<signature>`.
//
// The signature is base64url HMAC-SHA256 over `2fa-verified\0`, the binding (user id, session id,
// version) and the text before it. The binding is signed, never written: the guard knows the user,
// session and version of the request, so one HMAC checks the claim and whom it is for, with no
// hash of the session id, no JSON and nothing percent-encoded. Cookies of the earlier format
// (cookie-signature over base64url JSON) do not parse: the browser verifies once more.
import * as crypto from 'node:crypto';
import { createHash, createHmac, type KeyObject } from 'node:crypto';
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
  // Each part tested as it is (flat), not the framed text (a rope the test would copy first): the
  // framing adds only digits and colons, so it has a surrogate exactly when a part has one.
  if (SURROGATE.test(id) || SURROGATE.test(session) || SURROGATE.test(version))
    return JSON.stringify([id, session, version]);
  return `${id.length}:${id}${session.length}:${session}${version.length}:${version}`;
}

const DOMAIN = '2fa-verified\0';

const signatureOf = (key: KeyObject, binding: string, text: string) =>
  createHmac('sha256', key).update(`${DOMAIN}${binding}${text}`).digest('base64url');

type OneShotHash = (algorithm: string, data: Uint8Array, encoding: 'latin1' | 'base64url') => string;
// `crypto.hash` (Node ≥ 20.12): one call, no Hash object; `createHmac` on older Node 20.
const nodeOneShot = (crypto as { hash?: OneShotHash }).hash ?? null;
/** SHA-256's block size in bytes: HMAC pads its key to one block. */
const BLOCK = 64;
/** Where the binding starts in a key's inner buffer: after the padded key and the domain. */
const MESSAGE_AT = BLOCK + DOMAIN.length;
/** Bytes of binding and text a key's inner buffer takes; a longer message goes through `createHmac`. */
const ROOM = 1024;

/**
 * A secret prepared for opening claims: HMAC-SHA256 as RFC 2104 defines it,
 * SHA-256((K ⊕ opad) ‖ SHA-256((K ⊕ ipad) ‖ message)), by two one-shot hashes over buffers that
 * hold the padded key once. `createHmac` builds an Hmac object, a native handle and a stream and
 * pads the key on every call, twice the cost of the hashes themselves on a cookie this short
 * (bench/cases/guard-miss.ts). The same function: `signClaim` keeps `createHmac`, so every cookie
 * read back in the tests checks one against the other, and test/unit/claim-key.test.ts compares
 * them directly (keys shorter and longer than a block, messages across block edges), and the
 * fast path against the fallback that Node without `crypto.hash` takes (`{ oneShot: false }`).
 */
export class ClaimKey {
  readonly key: KeyObject;
  /** `crypto.hash`, or null: every signature through `createHmac` (Node < 20.12, or `oneShot: false`). */
  readonly #oneShot: OneShotHash | null;
  /** K ⊕ ipad, then `2fa-verified\0`, then the message being checked (written per call). */
  readonly #inner: Buffer;
  /** K ⊕ opad, then the inner hash (written per call). */
  readonly #outer: Buffer;

  /**
   * `oneShot: false` builds the key as Node < 20.12 runs it (no `crypto.hash`), so that the tests
   * reach that path on any Node; the default is the fast path wherever Node has `crypto.hash`.
   */
  constructor(key: KeyObject, { oneShot = true }: { oneShot?: boolean } = {}) {
    this.key = key;
    this.#oneShot = oneShot ? nodeOneShot : null;
    const exported = key.export();
    // A key longer than a block is hashed first (RFC 2104, section 2), as `createHmac` does.
    const raw = exported.length > BLOCK ? createHash('sha256').update(exported).digest() : exported;
    this.#inner = Buffer.alloc(MESSAGE_AT + ROOM);
    this.#outer = Buffer.alloc(BLOCK + 32);
    for (let i = 0; i < BLOCK; i++) {
      const byte = raw[i] ?? 0;
      this.#inner[i] = byte ^ 0x36;
      this.#outer[i] = byte ^ 0x5c;
    }
    raw.fill(0);
    exported.fill(0);
    this.#inner.write(DOMAIN, BLOCK, 'latin1');
  }

  /**
   * `signatureOf(key, binding, value.slice(0, textLength))`: the first `textLength` characters of
   * `value` must be ASCII (`openClaim` checked them), so they are written as they are, no slice.
   * Synchronous from the first write to the last hash: no other call can use the buffers between.
   */
  signature(binding: string, value: string, textLength: number): string {
    // A UTF-16 unit is at most 3 bytes of UTF-8 (a surrogate pair, two units, is 4): it fits.
    const oneShot = this.#oneShot;
    if (oneShot === null || binding.length * 3 + textLength > ROOM)
      return signatureOf(this.key, binding, value.slice(0, textLength));
    const inner = this.#inner;
    let end = MESSAGE_AT + inner.write(binding, MESSAGE_AT, 'utf8');
    end += inner.write(value, end, textLength, 'latin1');
    this.#outer.write(oneShot('sha256', inner.subarray(0, end), 'latin1'), BLOCK, 'latin1');
    return oneShot('sha256', this.#outer, 'base64url');
  }
}

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
export function openClaim(value: string, binding: string, keys: readonly ClaimKey[]): VerifiedClaim | null {
  const at = value.length - SIGNATURE_LENGTH;
  if (at < 10 || !value.startsWith('v2.')) return null;
  const method = methodAt(value, 3);
  if (method === null) return null;
  const verifiedFrom = 4 + method.length;
  const verifiedEnd = digitsEnd(value, verifiedFrom);
  if (verifiedEnd < 0) return null;
  const expiresEnd = digitsEnd(value, verifiedEnd + 1);
  if (expiresEnd !== at - 1) return null;
  for (const key of keys) {
    if (textMatches(key.signature(binding, value, at - 1), value, at, SIGNATURE_LENGTH)) {
      return {
        method,
        verifiedAt: numberAt(value, verifiedFrom, verifiedEnd),
        expiresAt: numberAt(value, verifiedEnd + 1, expiresEnd),
      };
    }
  }
  return null;
}
