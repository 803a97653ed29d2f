import type { ChallengeView } from '../delivery.js';

/** What a route produced: a challenge view (200 JSON, or 303 to the page for forms) or a redirect after verify. */
export type RouteResult = { view: ChallengeView } | { verified: true; returnTo: string };
