import type { ChallengeView } from '../delivery.js';

/**
 * What a route produced: a challenge view (200 JSON, or 303 to the page for forms), a redirect
 * after verify, or `answered` when the route wrote its own answer (new recovery codes).
 */
export type RouteResult = { view: ChallengeView } | { verified: true; returnTo: string } | { answered: true };
