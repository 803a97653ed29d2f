import type { Request, Response } from 'express';
import type { Runtime } from '../context.js';
import type { ChallengeView } from '../delivery.js';
import type { TwoFactorError } from '../errors.js';
import type { Body } from '../http.js';
import type { CheckedUser } from '../options.js';

/**
 * What a route produced: a challenge view (200 JSON, or 303 to the page for forms), a redirect
 * after verify, or `answered` when the route wrote its own answer (new recovery codes).
 */
export type RouteResult = { view: ChallengeView } | { verified: true; returnTo: string } | { answered: true };

/**
 * A verify's expected refusal (a wrong code, a used-up challenge), handed back instead of thrown:
 * a throw costs a few µs through the route's async levels, on the paths a verify takes most.
 * The router answers it exactly as it answers the same error thrown.
 */
export type Refusal = { refused: TwoFactorError };

/** A POST route: `returnTo` is the body's, already made a safe same-origin path; `routes` where the routes answer. */
export type PostRoute = (
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  body: Body,
  returnTo: string,
  routes: string,
) => Promise<RouteResult | Refusal>;
