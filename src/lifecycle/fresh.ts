// How recent this browser's verification is: for step-up (`requireSecondFactor.within(ms)`), a
// change of number, and anything else that must ask again before a sensitive action (API.md §8).
import type { Request } from 'express';
import type { Runtime } from '../context.js';
import type { CheckedUser } from '../options.js';

/**
 * Methods whose `verifiedAt` is the moment a person proved possession in this browser. A claim
 * restored from a remembered device (or any method not listed) never counts as fresh, whatever
 * its `verifiedAt` says: a device cookie proves an earlier verification, not a present one.
 */
const FRESH_METHODS: ReadonlySet<string> = new Set(['sms', 'voice', 'recovery']);

/** When this browser last proved possession, for its current user; `null` when never (or not valid). */
export function verifiedAtOf(rt: Runtime, req: Request, user: CheckedUser): number | null {
  const claim = rt.cookies.readVerified(req, user);
  return claim && FRESH_METHODS.has(claim.method) ? claim.verifiedAt : null;
}

/**
 * True when this browser holds a valid verified state for `user` whose code was verified at most
 * `maxAgeMs` ago (by the verify time signed into the verified cookie, never the cookie's age).
 */
export function isFresh(rt: Runtime, req: Request, user: CheckedUser, maxAgeMs: number): boolean {
  const at = verifiedAtOf(rt, req, user);
  return at !== null && rt.config.now() - at <= maxAgeMs;
}

/** The `within` hint of a step-up redirect (`/2fa?within=60000`): a positive whole number of ms, else undefined. */
export function withinOf(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value)) return undefined;
  const ms = Number(value);
  return ms > 0 ? ms : undefined;
}

/**
 * Whether `/2fa` may treat this browser as done: verified at all, or, with a step-up's `within`,
 * verified recently enough. A verified but stale browser is asked for a code again.
 */
export function verifiedEnough(
  rt: Runtime,
  req: Request,
  user: CheckedUser,
  within: number | undefined,
): boolean {
  if (within === undefined) return rt.cookies.readVerified(req, user) !== null;
  return isFresh(rt, req, user, within);
}

/**
 * The `within` hint of this request's query (`?within=ms`), as `withinOf` reads it. A URL without
 * a query has none: Express would still parse one for `req.query` on every POST.
 */
export const withinOfRequest = (req: Request) =>
  req.url?.includes('?') ? withinOf((req.query as Record<string, unknown>).within) : undefined;

/** A route path with the step-up hint kept on it. */
export const withWithin = (path: string, within: number | undefined) =>
  within === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}within=${within}`;
