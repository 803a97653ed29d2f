import type { Request } from 'express';
import type { Keys } from './challenge.js';
import type { CookieJar } from './cookie.js';
import type { Emit } from './events.js';
import type { WarnOnce } from './host/warn-once.js';
import type { Metrics } from './metrics/metrics.js';
import type { CheckedUser, Config, User } from './options.js';
import type { GuardedStore } from './stores/guarded-store.js';

/** Everything a route needs, built once by `twoFactor()`. */
export interface Runtime {
  config: Config;
  store: GuardedStore;
  cookies: CookieJar;
  keys: Keys;
  emit: Emit;
  metrics: Metrics;
  /** One-time warnings about how the package fits into the host app. */
  warnOnce: WarnOnce;
}

const idLike = (value: unknown): value is string | number =>
  (typeof value === 'string' && value !== '') || (typeof value === 'number' && Number.isFinite(value));

/** `getUser`, checked (see `checkUser`). */
export async function resolveUser(rt: Runtime, req: Request): Promise<CheckedUser | null> {
  return checkUser(rt, await rt.config.getUser(req));
}

/**
 * The same, without a promise when `getUser` answers synchronously (the guard's hot path), and
 * without a copy when the user is already in checked form (a string id, a string session id or
 * none): the caller reads it at once, in the same tick, and copies it (`ownUser`) before any await.
 */
export function userFrom(rt: Runtime, req: Request): CheckedUser | null | Promise<CheckedUser | null> {
  const answer = rt.config.getUser(req);
  const thenable = typeof (answer as PromiseLike<unknown> | null)?.then === 'function';
  return thenable
    ? Promise.resolve(answer).then((user) => checkUser(rt, user, false))
    : checkUser(rt, answer as User | null | undefined, false);
}

/** A checked user of `userFrom` as the guard's own copy, before it waits on anything. */
export const ownUser = (user: CheckedUser): CheckedUser => ({ ...user });

/** What an unusable value is, for the log line (never the value itself: it may be personal data). */
export function kindOf(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (value === '') return 'an empty string';
  if (typeof value === 'number') return 'not a finite number';
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'object')
    return 'toHexString' in value ? 'an object (a MongoDB ObjectId?)' : 'an object';
  return `a ${typeof value}`;
}

const FIXES = {
  id: 'return a string or a number, e.g. `id: String(user._id)`',
  sessionId: 'return a string, e.g. `sessionId: req.sessionID`',
  version: 'return a string or a number, e.g. a counter or `version: user.passwordChangedAt.getTime()`',
} as const;

/**
 * A usable user, its id as a string; `null` for nobody signed in. An answer that cannot be used
 * (an object id, a Date version…) also counts as nobody, failing closed, and is logged once per
 * field with the fix: a signed-in user who is told "Sign in first." must not go unexplained.
 * A copy (its id and session id as strings) unless `copy` is false and the user needs no conversion.
 */
function checkUser(rt: Runtime, user: User | null | undefined, copy = true): CheckedUser | null {
  if (user === null || user === undefined) return null;
  if (typeof user !== 'object') {
    rt.warnOnce(
      'getUser:user',
      `getUser returned ${kindOf(user)}: return { id, phone, sessionId?, version? }, or null when no user is signed in`,
      'error',
    );
    return null;
  }
  const { id, sessionId, version } = user;
  const unusable: [keyof typeof FIXES, unknown] | undefined = !idLike(id)
    ? ['id', id]
    : sessionId !== undefined && !idLike(sessionId)
      ? ['sessionId', sessionId]
      : version !== undefined && !idLike(version) && version !== ''
        ? ['version', version]
        : undefined;
  if (unusable) {
    const [field, value] = unusable;
    rt.warnOnce(
      `getUser:${field}`,
      `getUser returned a user whose \`${field}\` is ${kindOf(value)}, so that user counts as signed out: ${FIXES[field]}`,
      'error',
    );
    return null;
  }
  if (!copy && typeof id === 'string' && (sessionId === undefined || typeof sessionId === 'string')) {
    // Only a plain object reads the same as its copy (a class's getters are not copied by `...`).
    const proto: unknown = Object.getPrototypeOf(user);
    if (proto === Object.prototype || proto === null) return user as CheckedUser;
  }
  // The fields are copied by name too: `...` leaves out a class's getters (an ORM entity's
  // `version` or `phone`), and a version left out would not invalidate the verified state.
  const { phone } = user;
  return {
    ...user,
    id: String(id),
    ...(phone === undefined ? {} : { phone }),
    ...(sessionId === undefined ? {} : { sessionId: String(sessionId) }),
    ...(version === undefined ? {} : { version }),
  };
}
