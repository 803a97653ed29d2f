// The options of recovery codes and remembered devices (API.md §8), checked at construction.
import { fn, integer, object } from '../config-checks.js';
import { TwoFactorConfigError } from '../errors.js';
import {
  DEFAULT_RECOVERY_COUNT,
  DEFAULT_REMEMBER_TTL_MS,
  MAX_RECOVERY_COUNT,
  MAX_REMEMBER_TTL_MS,
  MIN_REMEMBER_TTL_MS,
} from './constants.js';

export interface RecoveryOptions {
  /**
   * The user's saved recovery-code hashes, as `save` last received them (`[]` or `null` when there
   * are none). Keep them in your database: they must outlive the store.
   */
  load: (
    userId: string,
  ) => readonly string[] | null | undefined | Promise<readonly string[] | null | undefined>;
  /** Replaces the user's set. `hashes` are keyed HMACs, never the codes: store them as they are. */
  save: (userId: string, hashes: string[]) => void | Promise<void>;
  /** Codes per set, 1..50. @default 10 */
  count?: number;
}

export interface RecoveryConfig {
  load: RecoveryOptions['load'];
  save: RecoveryOptions['save'];
  count: number;
}

export interface RememberDeviceOptions {
  /** How long a device is remembered, in ms (1 hour to 400 days). @default 2_592_000_000 (30 days) */
  ttlMs?: number;
}

export interface RememberConfig {
  ttlMs: number;
}

export function parseRecovery(value: unknown): RecoveryConfig | undefined {
  if (value === undefined || value === false) return undefined;
  const raw = object('recovery', value, ['load', 'save', 'count']);
  const fix = '{ load: (userId) => hashes, save: (userId, hashes) => { … } }';
  if (raw.load === undefined) throw new TwoFactorConfigError('recovery.load', `is required: ${fix}`);
  if (raw.save === undefined) throw new TwoFactorConfigError('recovery.save', `is required: ${fix}`);
  return {
    load: fn('recovery.load', raw.load, '(userId) => string[] | Promise<string[]> (the saved hashes)'),
    save: fn('recovery.save', raw.save, '(userId, hashes) => void | Promise<void>'),
    count: integer('recovery.count', raw.count, DEFAULT_RECOVERY_COUNT, 1, MAX_RECOVERY_COUNT),
  };
}

export function parseRememberDevice(value: unknown): RememberConfig | false {
  if (value === undefined || value === false) return false;
  if (value === true) {
    throw new TwoFactorConfigError(
      'rememberDevice',
      'must be an object, e.g. `rememberDevice: {}` (30 days) or `{ ttlMs }`',
    );
  }
  const raw = object('rememberDevice', value, ['ttlMs']);
  return {
    ttlMs: integer(
      'rememberDevice.ttlMs',
      raw.ttlMs,
      DEFAULT_REMEMBER_TTL_MS,
      MIN_REMEMBER_TTL_MS,
      MAX_REMEMBER_TTL_MS,
    ),
  };
}
