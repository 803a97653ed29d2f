import type { Request } from 'express';
import type { Keys } from './challenge.js';
import type { CookieJar } from './cookie.js';
import type { Emit } from './events.js';
import type { Config, User } from './options.js';
import type { GuardedStore } from './stores/guarded-store.js';

/** Everything a route needs, built once by `twoFactor()`. */
export interface Runtime {
  config: Config;
  store: GuardedStore;
  cookies: CookieJar;
  keys: Keys;
  emit: Emit;
}

/** `getUser`, checked: anything without a non-empty id counts as "not signed in" (the phone is checked when sending). */
export async function resolveUser(config: Config, req: Request): Promise<User | null> {
  const user = await config.getUser(req);
  if (!user || typeof user !== 'object') return null;
  if ((typeof user.id !== 'string' && typeof user.id !== 'number') || String(user.id) === '') return null;
  return { ...user, id: String(user.id) };
}
