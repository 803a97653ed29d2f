// The enrollment routes, mounted by two-factor.ts when the `enroll` option is set.
import type { Request, Response } from 'express';
import type { Runtime } from '../../context.js';
import type { Body } from '../../http.js';
import type { CheckedUser } from '../../options.js';
import type { RouteResult } from '../../routes/result.js';
import { sendEnrollCode } from './send.js';
import { verifyEnrollCode } from './verify.js';

export type EnrollPostRoute = (
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  body: Body,
  returnTo: string,
  routes: string,
) => Promise<RouteResult>;

/** The page of the enrollment routes, below the routes' path. */
export const ENROLL_PAGE = '/enroll';

export const ENROLL_POST_ROUTES: Record<string, EnrollPostRoute> = {
  '/enroll/send': (rt, req, _res, user, body, returnTo, routes) =>
    sendEnrollCode(rt, req, user, body, returnTo, routes),
  '/enroll/verify': (rt, req, res, user, body, returnTo, routes) =>
    verifyEnrollCode(rt, req, res, user, body, returnTo, routes),
};
