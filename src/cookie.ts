import type { KeyObject } from 'node:crypto';
import { sign } from 'cookie-signature';
import type { CookieOptions, Request, Response } from 'express';
import { BoundedCache } from './bounded-cache.js';
import { CHALLENGE_ID } from './challenge.js';
import { fingerprint, hmacKeys, unsignWith } from './crypto.js';
import type { CheckedUser, Config } from './options.js';
import { bindingOf, openClaim, signClaim, type VerifiedClaim } from './verified-claim.js';

export type { Method, VerifiedClaim } from './verified-claim.js';

export interface CookieJar {
  /**
   * The verified claim of this browser for `user` (its id, session and version), live now; `null`
   * for a missing, tampered, foreign, expired or malformed cookie (or one of an earlier format).
   */
  readVerified(req: Request, user: CheckedUser): VerifiedClaim | null;
  /** Sets the verified cookie: `claim`, bound to `user`'s id, session and version. */
  writeVerified(res: Response, user: CheckedUser, claim: VerifiedClaim): void;
  /** The challenge id from the signed challenge cookie, or `null`. */
  readChallenge(req: Request): string | null;
  writeChallenge(res: Response, challengeId: string, maxAgeMs: number): void;
  clearChallenge(res: Response): void;
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

/** Session ids repeat on every request of a session: their fingerprints are kept, boundedly. */
const fingerprints = new BoundedCache<string, string>(10_000);

export function sessionFingerprint(user: CheckedUser): string {
  return user.sessionId ? fingerprints.memo(user.sessionId, fingerprint) : '';
}

/** A verify time this far ahead of our clock is refused (clocks of several instances differ a little). */
const CLOCK_SKEW_MS = 60_000;

/** A form error waits this long for its page (the redirect follows at once). */
const FLASH_MAX_AGE_MS = 60_000;

interface Names {
  verified: string;
  challenge: string;
  flash: string;
  device: string;
}

export function createCookieJar(config: Config): CookieJar {
  const { name, secure, sameSite, domain } = config.cookie;
  // `__Host-` pins the cookie to this host over HTTPS; it needs Secure, Path=/ and no Domain.
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
  const base: CookieOptions = { httpOnly: true, sameSite, path: '/', ...(domain ? { domain } : {}) };
  const secureOptions: CookieOptions = { ...base, secure: true };
  const plainOptions: CookieOptions = { ...base, secure: false };
  /**
   * 'auto': Secure (and `__Host-`) when Express sees HTTPS, which follows `trust proxy`; plain on
   * HTTP, where a browser would drop a Secure cookie. Names differ, so a cookie set over HTTP is
   * never read over HTTPS. A request without `secure` (outside Express) counts as plain.
   */
  const isSecure = (req: Request | undefined) => (secure === 'auto' ? req?.secure === true : secure);
  const namesFor = (req: Request | undefined) => (isSecure(req) ? secureNames : plainNames);
  const optionsFor = (req: Request | undefined) => (isSecure(req) ? secureOptions : plainOptions);
  // The secrets as prepared HMAC keys: the first signs, all verify (rotation).
  const keys = hmacKeys(config.secrets);
  const signer = keys[0] as KeyObject;
  const unsignAny = (value: string) => unsignWith(value, keys);
  // Cookies whose signature already checked out, by their exact value, with the binding it was
  // checked for: a verified browser costs the HMAC once, not on every request. Another user,
  // session or version presenting the same value is refused without one; the clock is checked on
  // every request.
  const verifiedCookies = new BoundedCache<string, { claim: VerifiedClaim; binding: string }>(10_000);

  return {
    readVerified(req, user) {
      const raw = readCookie(req, namesFor(req).verified);
      if (raw === undefined) return null;
      const binding = bindingOf(user);
      let known = verifiedCookies.get(raw);
      if (!known) {
        const claim = openClaim(raw, binding, keys);
        if (!claim) return null;
        known = { claim, binding };
        verifiedCookies.set(raw, known);
      }
      const { claim } = known;
      const now = config.now();
      const live = claim.verifiedAt <= now + CLOCK_SKEW_MS && now < claim.expiresAt;
      return live && known.binding === binding ? claim : null;
    },
    writeVerified(res, user, claim) {
      // From now, not from `verifiedAt` (a remembered device's is the day it was remembered).
      const maxAge = Math.max(0, claim.expiresAt - config.now());
      res.cookie(namesFor(res.req).verified, signClaim(claim, bindingOf(user), signer), {
        ...optionsFor(res.req),
        maxAge,
      });
    },
    readChallenge(req) {
      const raw = readCookie(req, namesFor(req).challenge);
      const id = raw === undefined ? null : unsignAny(raw);
      return id !== null && CHALLENGE_ID.test(id) ? id : null;
    },
    writeChallenge(res, challengeId, maxAgeMs) {
      res.cookie(namesFor(res.req).challenge, sign(challengeId, signer), {
        ...optionsFor(res.req),
        maxAge: maxAgeMs,
      });
    },
    clearChallenge(res) {
      res.clearCookie(namesFor(res.req).challenge, optionsFor(res.req));
    },
    readFlash(req) {
      const raw = readCookie(req, namesFor(req).flash);
      return raw === undefined ? null : unsignAny(raw);
    },
    writeFlash(res, value) {
      // Signed, so that no other site or subdomain can put words on the page.
      res.cookie(namesFor(res.req).flash, sign(value, signer), {
        ...optionsFor(res.req),
        maxAge: FLASH_MAX_AGE_MS,
      });
    },
    clearFlash(res) {
      res.clearCookie(namesFor(res.req).flash, optionsFor(res.req));
    },
    readDevice(req) {
      const raw = readCookie(req, namesFor(req).device);
      return raw === undefined ? null : unsignAny(raw);
    },
    writeDevice(res, value, maxAgeMs) {
      res.cookie(namesFor(res.req).device, sign(value, signer), { ...optionsFor(res.req), maxAge: maxAgeMs });
    },
    clearDevice(res) {
      res.clearCookie(namesFor(res.req).device, optionsFor(res.req));
    },
    clear(res) {
      const names = namesFor(res.req);
      res.clearCookie(names.verified, optionsFor(res.req));
      res.clearCookie(names.challenge, optionsFor(res.req));
    },
  };
}
