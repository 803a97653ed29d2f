// The `enroll` option: collecting a number, and changing it (API.md §8).
import type { Request } from 'express';
import { fn, integer, object } from '../../config-checks.js';
import { DAY, MINUTE, SECOND } from '../../constants.js';
import { TwoFactorConfigError } from '../../errors.js';
import type { CheckedUser } from '../../options.js';

/** How recent a verification must be to change the number (NIST SP 800-63B §6.1.2: bind with full authentication). */
export const DEFAULT_ENROLL_MAX_AGE_MS = 5 * MINUTE;

export interface EnrollOptions {
  /**
   * Stores the user's new number (E.164), called only after a code sent to that very number was
   * verified. Bump the user's `version` here: every other verified browser and remembered device
   * of the user then ends, and make `getUser` return the new number and version from now on.
   */
  save: (user: CheckedUser, phone: string, req: Request) => void | Promise<void>;
  /** A change of number needs a verified state at most this old (ms); older, the user verifies on the current number first. @default 300_000 */
  maxAgeMs?: number;
  /** Tell the old number by SMS that the number was changed. The request cannot turn it off. @default true */
  notifyOld?: boolean;
}

export interface EnrollConfig {
  save: EnrollOptions['save'];
  maxAgeMs: number;
  notifyOld: boolean;
}

export function parseEnroll(value: unknown): EnrollConfig | undefined {
  if (value === undefined || value === false) return undefined;
  const raw = object('enroll', value, ['save', 'maxAgeMs', 'notifyOld']);
  if (raw.save === undefined) {
    throw new TwoFactorConfigError(
      'enroll.save',
      'is required: (user, phone, req) => store the verified E.164 number for user.id and bump its version',
    );
  }
  const save = fn<EnrollConfig['save']>(
    'enroll.save',
    raw.save,
    '(user, phone, req) => store the verified E.164 number for user.id and bump its version',
  );
  const notifyOld = raw.notifyOld ?? true;
  if (typeof notifyOld !== 'boolean') {
    throw new TwoFactorConfigError(
      'enroll.notifyOld',
      'must be a boolean (true, the default, texts the old number when it is replaced)',
    );
  }
  return {
    save,
    maxAgeMs: integer('enroll.maxAgeMs', raw.maxAgeMs, DEFAULT_ENROLL_MAX_AGE_MS, 10 * SECOND, DAY),
    notifyOld,
  };
}
