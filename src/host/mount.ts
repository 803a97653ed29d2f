import type { Request } from 'express';
import type { Config } from '../options.js';
import type { WarnOnce } from './warn-once.js';

/** Where the routes answer for one request, and which of them was asked for. */
export interface RouteMatch {
  /** The routes' full URL path for this request, e.g. `/2fa` or `/admin/2fa`. */
  routes: string;
  /** The route below it: `/`, `/send`, `/webhooks/smstools`… */
  sub: string;
}

export interface Mount {
  /** The route this request asks for, or `null` when it is not one of ours. */
  match(req: Request): RouteMatch | null;
  /** Where the routes are, for the guard's redirect and `verifyUrl`. */
  routesFor(req: Request): string;
}

function below(full: string, routes: string): string | null {
  if (full !== routes && !full.startsWith(`${routes}/`)) return null;
  return full.slice(routes.length).replace(/\/+$/, '') || '/';
}

/**
 * Without a `path` option the routes follow the mount point (`router.use(tfa)` under `/admin`
 * answers at `/admin/2fa`); an explicit `path` is the full URL path, wherever tfa is mounted.
 */
export function createMount(config: Config, warnOnce: WarnOnce): Mount {
  // Each request that passed through the router: its routes' path, for the guard. Kept aside, not
  // on the request: Express gives each request a hidden class of its own (setPrototypeOf), so a
  // property added to one builds a new map per request, on every route of the app.
  const routesOfRequest = new WeakMap<object, string>();
  let lastSeen: string | undefined;

  return {
    match(req) {
      const base = req.baseUrl ?? '';
      if (config.pathFollowsMount) {
        const routes = `${base}${config.path}`;
        routesOfRequest.set(req, routes);
        lastSeen = routes;
        const sub = below(req.path, config.path);
        return sub === null ? null : { routes, sub };
      }
      if (base !== '' && below(config.path, base) === null) {
        warnOnce(
          'path-outside-mount',
          `twoFactor() is mounted under '${base}' but its \`path\` is '${config.path}', outside that mount, so its routes never answer: set path: '${base}${config.path}' (the full URL path), or leave \`path\` unset to follow the mount`,
          'error',
        );
      }
      const sub = below(`${base}${req.path}`, config.path);
      return sub === null ? null : { routes: config.path, sub };
    },
    routesFor(req) {
      if (!config.pathFollowsMount) return config.path;
      const stamped = routesOfRequest.get(req);
      if (stamped !== undefined) return stamped;
      // The guard sits in a router the twoFactor() middleware never saw this request pass through.
      if ((req.baseUrl ?? '') !== '') {
        warnOnce(
          'guard-mount',
          `requireSecondFactor ran on a request that did not pass through twoFactor() (it is mounted in another router), so it cannot tell where the routes are and guesses '${lastSeen ?? config.path}': set \`path\` to their full URL path, e.g. path: '${lastSeen ?? '/admin/2fa'}', or mount tfa before the routes it protects`,
          'error',
        );
      }
      return lastSeen ?? config.path;
    },
  };
}
