import type { Request } from 'express';
import type { Keys } from './challenge.js';
import type { CookieJar } from './cookie.js';
import type { Emit } from './events.js';
import type { Metrics } from './metrics/metrics.js';
import type { Config, User } from './options.js';
import type { GuardedStore } from './stores/guarded-store.js';

/** Everything a route needs, built once by `twoFactor()`. */
export interface Runtime {
  config: Config;
  store: GuardedStore;
  cookies: CookieJar;
  keys: Keys;
  emit: Emit;
  metrics: Metrics;
}

const idLike = (value: unknown): value is string | number =>
  (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value));

/**
 * `getUser`, checked: anything without a usable id, or with a session id or version that is not a
 * string or a number, counts as "not signed in" (the phone is checked when sending).
 */
export async function resolveUser(config: Config, req: Request): Promise<User | null> {
  return checkUser(await config.getUser(req));
}

/** The same, without a promise when `getUser` answers synchronously (the guard's hot path). */
export function userFrom(config: Config, req: Request): User | null | Promise<User | null> {
  const answer = config.getUser(req);
  const thenable = typeof (answer as PromiseLike<unknown> | null)?.then === 'function';
  return thenable ? Promise.resolve(answer).then(checkUser) : checkUser(answer as User | null | undefined);
}

function checkUser(user: User | null | undefined): User | null {
  if (!user || typeof user !== 'object' || !idLike(user.id)) return null;
  const { sessionId, version } = user;
  if (
    (sessionId !== undefined && !idLike(sessionId)) ||
    (version !== undefined && !idLike(version) && version !== '')
  ) {
    return null;
  }
  return {
    ...user,
    id: String(user.id),
    ...(sessionId === undefined ? {} : { sessionId: String(sessionId) }),
  };
}
