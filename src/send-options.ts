// The options of sending: the voice fallback and the send budgets (see options.ts for the rest).
import { integer, object } from './config-checks.js';
import * as C from './constants.js';
import { TwoFactorConfigError } from './errors.js';

export interface VoiceConfig {
  afterMs: number;
  auto: boolean;
  noReportMs: number | false;
}

export interface SendLimits {
  phonePerHour: number;
  phonePerDay: number;
  ipPerHour: number;
  prefixPerHour: number;
  /** App-wide; off when undefined. */
  globalPerHour: number | undefined;
  globalPerDay: number | undefined;
}

export function parseVoice(value: unknown): VoiceConfig | false {
  if (value === false) return false;
  const voice = object('voice', value, ['afterMs', 'auto', 'noReportMs']);
  const auto = voice.auto ?? true;
  if (typeof auto !== 'boolean') throw new TwoFactorConfigError('voice.auto', 'must be a boolean');
  const noReportMs =
    voice.noReportMs === false
      ? false
      : integer('voice.noReportMs', voice.noReportMs, C.DEFAULT_NO_REPORT_MS, C.SECOND, C.MAX_CODE_TTL_MS);
  return {
    afterMs: integer('voice.afterMs', voice.afterMs, C.DEFAULT_VOICE_AFTER_MS, 0, C.MAX_CODE_TTL_MS),
    auto,
    noReportMs,
  };
}

export function parseLimits(value: unknown): SendLimits {
  const d = C.DEFAULT_LIMITS;
  const limits = object('limits', value, [...Object.keys(d), 'globalPerHour', 'globalPerDay']);
  const optional = (name: string, v: unknown) =>
    v === undefined ? undefined : integer(`limits.${name}`, v, 0, 1, 100_000_000);
  return {
    phonePerHour: integer('limits.phonePerHour', limits.phonePerHour, d.phonePerHour, 1, 1_000),
    phonePerDay: integer('limits.phonePerDay', limits.phonePerDay, d.phonePerDay, 1, 10_000),
    ipPerHour: integer('limits.ipPerHour', limits.ipPerHour, d.ipPerHour, 1, 1_000_000),
    prefixPerHour: integer('limits.prefixPerHour', limits.prefixPerHour, d.prefixPerHour, 1, 1_000_000),
    globalPerHour: optional('globalPerHour', limits.globalPerHour),
    globalPerDay: optional('globalPerDay', limits.globalPerDay),
  };
}
