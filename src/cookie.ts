import type { KeyObject } from 'node:crypto';
import { sign } from 'cookie-signature';
import type { Request, Response } from 'express';
import { BoundedCache } from './bounded-cache.js';
import { CHALLENGE_ID } from './challenge.js';
import { ClaimCache } from './claim-cache.js';
import { fingerprint, hmacKeys, unsignWith } from './crypto.js';
import type { CheckedUser, Config } from './options.js';
import { isHttps } from './request-scheme.js';
import { ClaimKey, openClaim, sealClaimFor, type VerifiedClaim } from './verified-claim.js';

export type { Method, VerifiedClaim } from './verified-claim.js';

export interface CookieJar {
  /**
   * The verified claim of this browser for `user` (its id, session and version), live now; `null`
   * for a missing, tampered, foreign, expired or malformed cookie (or one of an earlier format).
   */
  readVerified(req: Request, user: CheckedUser): VerifiedClaim | null;
  /**
   * Whether this request's cookies are the Secure ones (`cookie.secure`, or for 'auto' whether
   * Express sees HTTPS). A route writing two cookies asks once and passes it to both writes.
   */
  isSecure(req: Request | undefined): boolean;
  /** Sets the verified cookie: `claim`, bound to `user`'s id, session and version. */
  writeVerified(res: Response, user: CheckedUser, claim: VerifiedClaim, secure?: boolean): void;
  /** The challenge id from the signed challenge cookie, or `null` (`secure`: the scheme, when known). */
  readChallenge(req: Request, secure?: boolean): string | null;
  writeChallenge(res: Response, challengeId: string, maxAgeMs: number): void;
  clearChallenge(res: Response, secure?: boolean): void;
  /** The error of a form post, for the page it redirects to (signed, shown once, no secret in it). */
  readFlash(req: Request): string | null;
  writeFlash(res: Response, value: string): void;
  clearFlash(res: Response): void;
  /** The remembered-device cookie's value, its signature checked, or `null` (see src/lifecycle/devices). */
  readDevice(req: Request): string | null;
  writeDevice(res: Response, value: string, maxAgeMs: number): void;
  clearDevice(res: Response): void;
  /** Ends the verified state and any pending challenge in this browser (a remembered device stays). */
  clear(res: Response): void;
}

/**
 * Reads one cookie from the header without a cookie parser; garbage reads as absent. The first
 * pair with that name wins; the value is trimmed and percent-decoded. Scans the header in place:
 * no array of pairs, no copy of a name that cannot match.
 */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (let from = 0; from < header.length; ) {
    let end = header.indexOf(';', from);
    if (end < 0) end = header.length;
    let start = from;
    while (start < end && (header.charCodeAt(start) === 32 || header.charCodeAt(start) === 9)) start++;
    const eq = header.indexOf('=', start);
    if (
      eq >= 0 &&
      eq < end &&
      header.startsWith(name, start) &&
      header.slice(start + name.length, eq).trim() === ''
    ) {
      const raw = header.slice(eq + 1, end).trim();
      if (!raw.includes('%')) return raw;
      try {
        return decodeURIComponent(raw);
      } catch {
        return undefined;
      }
    }
    from = end + 1;
  }
  return undefined;
}

/**
 * `text` as a string of its own: V8 keeps a slice of 13 characters or more as a view of the whole
 * string it was cut from, so a cached cookie value (or session id) would keep its request's whole
 * Cookie header alive (10,000 cached browsers with a 4 kB analytics cookie: 40 MB). Copied through
 * UTF-8 (~0.2 µs); text with a lone surrogate is kept as it is (UTF-8 would change it).
 */
function detached(text: string): string {
  return text.length < 13 || !(text as unknown as { isWellFormed(): boolean }).isWellFormed()
    ? text
    : Buffer.from(text, 'utf8').toString('utf8');
}

/**
 * `text` (a value cut from `header`, or a session id likely cut from it) to cache, `detached` when
 * the header is much longer than the value: a short header costs little to keep, and the copy is
 * paid only when something is cached.
 */
function ownCopy(text: string, value: string, header: string | undefined): string {
  return header !== undefined && header.length > value.length + OWN_COPY_SLACK ? detached(text) : text;
}

/** Header characters past the value below which a cached value keeps its slice (a few other cookies). */
const OWN_COPY_SLACK = 256;

/**
 * The claim cache's key for a cookie value: 28 bits of its last four characters, the end of its
 * signature (base64url of an HMAC: 6 random bits each, on every value that gets cached). A small
 * integer is hashed at once, where a string key costs a pass over its 80 characters on every
 * lookup. Two values with the same key take turns in one entry: each entry holds its value, which
 * must equal the cookie's in full. That comparison may stop at the first difference (as the
 * string-keyed Map's did once hashes matched): what it could tell is how much of another browser's
 * cached value was guessed, and that value is worth nothing without that browser's user, session
 * and version, which its signature binds (a constant-time loop over a sliced string cost a hit
 * more than the key saved).
 */
function cacheKeyOf(value: string): number {
  const n = value.length;
  return (
    (value.charCodeAt(n - 1) & 127) |
    ((value.charCodeAt(n - 2) & 127) << 7) |
    ((value.charCodeAt(n - 3) & 127) << 14) |
    ((value.charCodeAt(n - 4) & 127) << 21)
  );
}

/** Session ids repeat on every request of a session: their fingerprints are kept, boundedly. */
const fingerprints = new BoundedCache<string, string>(10_000);

export function sessionFingerprint(user: CheckedUser): string {
  const session = user.sessionId;
  if (!session) return '';
  const known = fingerprints.get(session);
  if (known !== undefined) return known;
  const made = fingerprint(session);
  // The id is often cut from the Cookie header: kept as its own string, not as a view of the header.
  fingerprints.set(detached(session), made);
  return made;
}

/**
 * Challenges whose cookie is kept checked (each entry about 260 B): the ones being typed right now.
 * Filled when the cookie is written, so a verify (most often the challenge's first and only one)
 * does not pay the HMAC of a signature we made ourselves; sized like `HOT_USERS` (challenge.ts),
 * for every browser between its send and its verify. At most ~2.6 MB.
 */
const HOT_CHALLENGES = 10_000;

/** A verify time this far ahead of our clock is refused (clocks of several instances differ a little). */
const CLOCK_SKEW_MS = 60_000;

/** A form error waits this long for its page (the redirect follows at once). */
const FLASH_MAX_AGE_MS = 60_000;

/** Expires of a cleared cookie, as Express's `res.clearCookie` writes it (`new Date(1)`). */
const CLEARED = '; Expires=Thu, 01 Jan 1970 00:00:00 GMT';

/**
 * Adds a Set-Cookie line after the ones already set, as Express's `res.append` does (a single line
 * stays a string, more become an array). After one line (the right code's second), Node's
 * `appendHeader` checks only the new line and makes the array itself; an array already set may be
 * the app's own, which `appendHeader` would extend in place: it is copied, as `res.append` does.
 */
export function appendSetCookie(res: Response, line: string): void {
  const prev = res.getHeader('Set-Cookie');
  if (!prev) res.setHeader('Set-Cookie', line);
  else if (typeof prev === 'string' && typeof res.appendHeader === 'function')
    res.appendHeader('Set-Cookie', line);
  else res.setHeader('Set-Cookie', Array.isArray(prev) ? [...prev, line] : [String(prev), line]);
}

/**
 * The attributes of this package's cookies, in the `cookie` package's order, once per scheme:
 * every Set-Cookie line is then two concatenations instead of `res.cookie`'s option copy,
 * validation and `Date` objects. The lines are byte for byte what `res.cookie(name, value,
 * { httpOnly, sameSite, path: '/', domain, secure, maxAge })` and `res.clearCookie(name, same)` write
 * (test/unit/cookie-lines.test.ts compares them); the name and domain were checked at construction.
 */
export interface CookieLines {
  /** `name=value; Max-Age=…; [Domain=…; ]Path=/; Expires=…; HttpOnly[; Secure]; SameSite=…`, expiring `maxAgeMs` from now. */
  set(name: string, value: string, maxAgeMs: number): string;
  /** The line that deletes `name` (empty value, expired in 1970). */
  clear(name: string): string;
}

export function cookieLines(options: {
  secure: boolean;
  sameSite: 'lax' | 'strict';
  domain: string | undefined;
}): CookieLines {
  const where = `${options.domain ? `; Domain=${options.domain}` : ''}; Path=/`;
  const flags = `; HttpOnly${options.secure ? '; Secure' : ''}; SameSite=${options.sameSite === 'strict' ? 'Strict' : 'Lax'}`;
  // The last Expires written, by its whole second (an HTTP date has no milliseconds): the cookies
  // of one second share it instead of a `Date` and its formatting each.
  let lastSecond = Number.NaN;
  let lastExpires = '';
  const expiresAt = (ms: number) => {
    const second = Math.floor(ms / 1000);
    if (second !== lastSecond) {
      lastExpires = new Date(ms).toUTCString();
      lastSecond = second;
    }
    return lastExpires;
  };
  // A cleared cookie's line never changes: made once per name (the jar has four).
  const cleared = new Map<string, string>();
  return {
    set(name, value, maxAgeMs) {
      // Express: `expires = new Date(Date.now() + maxAge)`, `Max-Age = floor(maxAge / 1000)`.
      const expires = expiresAt(Date.now() + maxAgeMs);
      return `${name}=${encodeURIComponent(value)}; Max-Age=${Math.floor(maxAgeMs / 1000)}${where}; Expires=${expires}${flags}`;
    },
    clear(name) {
      let line = cleared.get(name);
      if (line === undefined) {
        line = `${name}=${where}${CLEARED}${flags}`;
        cleared.set(name, line);
      }
      return line;
    },
  };
}

interface Names {
  verified: string;
  challenge: string;
  flash: string;
  device: string;
}

export function createCookieJar(config: Config): CookieJar {
  const { name, secure, sameSite, domain } = config.cookie;
  // `__Host-` pins the cookie to this host over HTTPS (R-34); it needs Secure, Path=/ and no Domain.
  const secureBase = domain ? name : `__Host-${name}`;
  const secureNames: Names = {
    verified: secureBase,
    challenge: `${secureBase}-challenge`,
    flash: `${secureBase}-flash`,
    device: `${secureBase}-device`,
  };
  const plainNames: Names = {
    verified: name,
    challenge: `${name}-challenge`,
    flash: `${name}-flash`,
    device: `${name}-device`,
  };
  const secureLines = cookieLines({ secure: true, sameSite, domain });
  const plainLines = cookieLines({ secure: false, sameSite, domain });
  const secureJar = { names: secureNames, lines: secureLines };
  const plainJar = { names: plainNames, lines: plainLines };
  /**
   * 'auto': Secure (and `__Host-`) when Express sees HTTPS, which follows `trust proxy`; plain on
   * HTTP, where a browser would drop a Secure cookie. Names differ, so a cookie set over HTTP is
   * never read over HTTPS. A request outside Express counts as plain unless its `secure` is true.
   */
  const isSecure = (req: Request | undefined) =>
    secure === 'auto' ? req !== undefined && isHttps(req) : secure;
  const namesFor = (req: Request | undefined, secure = isSecure(req)) => (secure ? secureNames : plainNames);
  /**
   * The names and Set-Cookie lines for this response's scheme (`req.secure` read once), or for the
   * scheme the caller already asked `isSecure` about (about 1 µs a request on a live request).
   */
  const jarFor = (res: Response, secure = isSecure(res.req)) => (secure ? secureJar : plainJar);
  const setCookie = (
    res: Response,
    pick: (names: Names) => string,
    value: string,
    maxAgeMs: number,
    secure?: boolean,
  ) => {
    const { names, lines } = jarFor(res, secure);
    appendSetCookie(res, lines.set(pick(names), value, maxAgeMs));
  };
  const clearCookie = (res: Response, pick: (names: Names) => string, secure?: boolean) => {
    const { names, lines } = jarFor(res, secure);
    appendSetCookie(res, lines.clear(pick(names)));
  };
  // The secrets as prepared HMAC keys: the first signs, all verify (rotation).
  const keys = hmacKeys(config.secrets);
  const signer = keys[0] as KeyObject;
  const unsignAny = (value: string) => unsignWith(value, keys);
  const claimKeys = keys.map((key) => new ClaimKey(key));
  const signingKey = claimKeys[0] as ClaimKey;
  // Cookies whose signature already checked out, by the end of their signature (`cacheKeyOf`),
  // with their exact value and the binding it was checked for: a verified browser costs the HMAC
  // once, not on every request. Another user, session or version presenting the same value is
  // refused without one; the clock is checked on every request.
  const verifiedCookies = new ClaimCache(10_000);
  // Challenge cookies whose signature checked out, by their exact value: the attempts of one
  // challenge read the same cookie, and its HMAC is paid once, not on every attempt. A cookie this
  // process signed is kept as it is written: it is exactly what `unsignAny` gives back for it.
  const challengeCookies = new BoundedCache<string, string>(HOT_CHALLENGES);

  return {
    isSecure,
    readVerified(req, user) {
      const raw = readCookie(req, namesFor(req).verified);
      if (raw === undefined) return null;
      const key = cacheKeyOf(raw);
      let slot = verifiedCookies.find(key, raw);
      let claim: VerifiedClaim | null;
      if (slot === undefined) {
        // The user's parts are read once: the cache keeps exactly those the signature was checked
        // for (an app's getter answering differently on a later read then fails `boundTo`).
        const id = user.id;
        const session = user.sessionId ?? '';
        const version = user.version ?? '';
        claim = openClaim(raw, id, session, version, claimKeys);
        if (!claim) return null;
        const header = req.headers.cookie;
        const own = ownCopy(raw, raw, header);
        slot = verifiedCookies.add(key, own, id, ownCopy(session, raw, header), version, claim);
      } else {
        claim = verifiedCookies.claimAt(slot);
      }
      const now = config.now();
      const live = claim.verifiedAt <= now + CLOCK_SKEW_MS && now < claim.expiresAt;
      return live && verifiedCookies.boundTo(slot, user) ? claim : null;
    },
    writeVerified(res, user, claim, secure) {
      // From now, not from `verifiedAt` (a remembered device's is the day it was remembered).
      const maxAge = Math.max(0, claim.expiresAt - config.now());
      // Bound to the user's parts as `bindingOf(user)` frames them, written without that string.
      const value = sealClaimFor(
        claim,
        user.id,
        user.sessionId ?? '',
        String(user.version ?? ''),
        signingKey,
      );
      setCookie(res, (n) => n.verified, value, maxAge, secure);
    },
    readChallenge(req, secure) {
      const raw = readCookie(req, namesFor(req, secure).challenge);
      if (raw === undefined) return null;
      const known = challengeCookies.get(raw);
      if (known !== undefined) return known;
      const signedId = unsignAny(raw);
      if (signedId === null || !CHALLENGE_ID.test(signedId)) return null;
      // Both cut from the header (ASCII: the id passed CHALLENGE_ID, the value its signature).
      const header = req.headers.cookie;
      const id = ownCopy(signedId, raw, header);
      challengeCookies.set(ownCopy(raw, raw, header), id);
      return id;
    },
    writeChallenge(res, challengeId, maxAgeMs) {
      const signed = sign(challengeId, signer);
      setCookie(res, (n) => n.challenge, signed, maxAgeMs);
      // Only an id that `readChallenge` would take: the cache never answers what the check would refuse.
      if (CHALLENGE_ID.test(challengeId)) challengeCookies.set(signed, challengeId);
    },
    clearChallenge(res, secure) {
      clearCookie(res, (n) => n.challenge, secure);
    },
    readFlash(req) {
      const raw = readCookie(req, namesFor(req).flash);
      return raw === undefined ? null : unsignAny(raw);
    },
    writeFlash(res, value) {
      // Signed, so that no other site or subdomain can put words on the page.
      setCookie(res, (n) => n.flash, sign(value, signer), FLASH_MAX_AGE_MS);
    },
    clearFlash(res) {
      clearCookie(res, (n) => n.flash);
    },
    readDevice(req) {
      const raw = readCookie(req, namesFor(req).device);
      return raw === undefined ? null : unsignAny(raw);
    },
    writeDevice(res, value, maxAgeMs) {
      setCookie(res, (n) => n.device, sign(value, signer), maxAgeMs);
    },
    clearDevice(res) {
      clearCookie(res, (n) => n.device);
    },
    clear(res) {
      const { names, lines } = jarFor(res);
      appendSetCookie(res, lines.clear(names.verified));
      appendSetCookie(res, lines.clear(names.challenge));
    },
  };
}
