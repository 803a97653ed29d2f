// The enrollment routes, mounted by two-factor.ts when the `enroll` option is set.
import type { PostRoute } from '../../routes/result.js';
import { sendEnrollCode } from './send.js';
import { verifyEnrollCode } from './verify.js';

/** The page of the enrollment routes, below the routes' path. */
export const ENROLL_PAGE = '/enroll';

export const ENROLL_POST_ROUTES: Record<string, PostRoute> = {
  '/enroll/send': (rt, req, _res, user, body, returnTo, routes) =>
    sendEnrollCode(rt, req, user, body, returnTo, routes),
  '/enroll/verify': verifyEnrollCode,
};
