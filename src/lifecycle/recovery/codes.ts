import { createHmac, randomInt } from 'node:crypto';
import { safeEqual } from '../../crypto.js';
import { RECOVERY_CODE_SYMBOLS } from '../constants.js';

/** Crockford's base 32, lower case: no i, l, o or u, so nothing reads as another symbol. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const GROUP = 4;

/** One recovery code, `xxxx-xxxx-xxxx`: 12 symbols of 5 bits from `crypto.randomInt` (60 bits). */
export function generateRecoveryCode(): string {
  let code = '';
  for (let i = 0; i < RECOVERY_CODE_SYMBOLS; i++) code += ALPHABET[randomInt(ALPHABET.length)];
  return groupCode(code);
}

/** `abcd1234wxyz` → `abcd-1234-wxyz`, for reading aloud and typing. */
export function groupCode(code: string): string {
  return (code.match(new RegExp(`.{1,${GROUP}}`, 'g')) ?? []).join('-');
}

/**
 * A typed code as it was issued, or `null` when it cannot be one. Case, spaces and dashes are
 * forgiven, and so are the look-alikes Crockford maps (O → 0, I and L → 1).
 */
export function normalizeRecoveryCode(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 64) return null;
  const code = value.toLowerCase().replace(/[\s-]/g, '').replace(/o/g, '0').replace(/[il]/g, '1');
  return code.length === RECOVERY_CODE_SYMBOLS && [...code].every((c) => ALPHABET.includes(c)) ? code : null;
}

/**
 * What `recovery.save` receives instead of a code: HMAC-SHA256(secret, user id + code), 192 bits,
 * base64url. Bound to the user, so one user's hashes are worth nothing in another's record.
 */
export function hashRecoveryCode(secret: string, userId: string, code: string): string {
  return createHmac('sha256', secret)
    .update(`recovery\0${userId}:${code}`)
    .digest()
    .subarray(0, 24)
    .toString('base64url');
}

/** The index of the code's hash in `hashes` under any of the secrets (rotation), compared in constant time; -1 for none. */
export function findRecoveryCode(
  secrets: readonly string[],
  userId: string,
  code: string,
  hashes: readonly string[],
): number {
  let found = -1;
  for (const secret of secrets) {
    const hash = hashRecoveryCode(secret, userId, code);
    hashes.forEach((stored, i) => {
      if (typeof stored === 'string' && safeEqual(stored, hash) && found < 0) found = i;
    });
  }
  return found;
}
