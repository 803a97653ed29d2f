import type { Request } from 'express';
import { MINUTE } from '../constants.js';
import type { Runtime } from '../context.js';
import { claimMatches } from '../cookie.js';
import type { CheckedUser } from '../options.js';

/*
 * "A verified state no older than `maxAgeMs`" (API.md §8): what a phone change, new recovery codes
 * and step-up (`requireSecondFactor.within(ms)`) ask for. It is read from the verify time signed
 * into this browser's verified cookie, for the request's current user and session. A session that
 * a remembered device let in is never fresh: nobody proved possession of anything in it.
 */

/** The default of `enroll.maxAgeMs`: a verified state at most 5 minutes old is fresh. */
export const DEFAULT_FRESH_MAX_AGE_MS = 5 * MINUTE;

const FRESHNESS = Symbol('express-sms-2fa freshness');

interface Bound {
  rt: Runtime;
  user: CheckedUser;
}

type Stamped = Request & { [FRESHNESS]?: Bound };

/**
 * Ties a request to its runtime and checked user, so that `isFresh(req, ms)` can judge it. The
 * /2fa routes do it; a middleware of the package outside them (step-up's `within(ms)`) does it
 * too, or calls `isFreshFor` with what it has.
 */
export function bindFreshness(req: Request, rt: Runtime, user: CheckedUser): void {
  (req as Stamped)[FRESHNESS] = { rt, user };
}

/**
 * True when this request carries a verified state for its user that is at most `maxAgeMs` old and
 * came from a code (SMS, voice or recovery), not from a remembered device. False for anything else,
 * including a request the package never saw (fails closed).
 */
export function isFresh(req: Request, maxAgeMs: number): boolean {
  const bound = (req as Stamped)[FRESHNESS];
  return bound ? isFreshFor(bound.rt, req, bound.user, maxAgeMs) : false;
}

/** `isFresh`, given the runtime and the checked user outright. */
export function isFreshFor(rt: Runtime, req: Request, user: CheckedUser, maxAgeMs: number): boolean {
  const now = rt.config.now();
  const claim = rt.cookies.readVerified(req);
  if (!claim || !claimMatches(claim, user, now) || claim.method === 'device') return false;
  return now - claim.verifiedAt <= maxAgeMs;
}

/** `enroll.maxAgeMs` when the app set it, else 300 000 ms (5 minutes): the window `isFresh` is asked about. */
export function freshMaxAgeMs(config: object): number {
  const enroll = (config as { enroll?: { maxAgeMs?: unknown } | false }).enroll;
  const value = enroll ? enroll.maxAgeMs : undefined;
  return typeof value === 'number' ? value : DEFAULT_FRESH_MAX_AGE_MS;
}
