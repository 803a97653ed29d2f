import { DAY, HOUR } from '../constants.js';

/** Recovery codes per set (django-two-factor-auth and GitHub give 10; better-auth 10). */
export const DEFAULT_RECOVERY_COUNT = 10;
export const MAX_RECOVERY_COUNT = 50;
/**
 * Symbols per recovery code, 5 bits each (Crockford base 32): 12 × 5 = 60 bits, above the ≥ 50 bits
 * asked for (NIST SP 800-63B §5.1.2.1 asks look-up secrets for ≥ 20 bits when the verifier limits
 * attempts, which the account lockout does; the margin is for offline guessing of a leaked hash).
 */
export const RECOVERY_CODE_SYMBOLS = 12;
/**
 * A used recovery code is also marked in the store for this long: the app's `load` may serve the
 * old set a while (a replica, a cache) after `save` removed it, and the mark keeps it refused.
 */
export const RECOVERY_USED_MARK_MS = 30 * DAY;

/** How long a remembered device is trusted (the "for 30 days" of the page's box). */
export const DEFAULT_REMEMBER_TTL_MS = 30 * DAY;
export const MIN_REMEMBER_TTL_MS = HOUR;
export const MAX_REMEMBER_TTL_MS = 400 * DAY;
/** Remembered devices kept per user; remembering one more forgets the least recently used. */
export const MAX_DEVICES_PER_USER = 20;
