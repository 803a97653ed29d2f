import type { MeterProvider } from '@opentelemetry/api';
import { integer, object } from '../config-checks.js';
import { HOUR, MINUTE, SECOND } from '../constants.js';
import { TwoFactorConfigError } from '../errors.js';

export interface MetricsOptions {
  /** Where the instruments come from. @default the globally registered provider (a no-op until the app registers one) */
  meterProvider?: MeterProvider;
}

export interface HealthOptions {
  /** Each check of `tfa.health()` (store, provider) gives up after this long, in ms. @default 1_000 */
  timeoutMs?: number;
  /** Emit `provider.balance_low` when the provider reports a balance under this (its currency). Unset: never. */
  lowBalance?: number;
  /** With `lowBalance` set, a send also reads the balance, in the background, at most this often (ms). @default 900_000 (15 min) */
  balanceCheckMs?: number;
}

export interface HealthConfig {
  timeoutMs: number;
  lowBalance: number | undefined;
  balanceCheckMs: number;
}

export const DEFAULT_HEALTH_TIMEOUT_MS = SECOND;
export const DEFAULT_BALANCE_CHECK_MS = 15 * MINUTE;

export function parseMetrics(value: unknown): MetricsOptions {
  const { meterProvider } = object('metrics', value, ['meterProvider']);
  if (meterProvider === undefined) return {};
  if (typeof (meterProvider as { getMeter?: unknown } | null)?.getMeter !== 'function') {
    throw new TwoFactorConfigError(
      'metrics.meterProvider',
      "must be an OpenTelemetry MeterProvider (with getMeter), e.g. new MeterProvider({ readers }) from '@opentelemetry/sdk-metrics'",
    );
  }
  return { meterProvider: meterProvider as MeterProvider };
}

export function parseHealth(value: unknown): HealthConfig {
  const health = object('health', value, ['timeoutMs', 'lowBalance', 'balanceCheckMs']);
  const { lowBalance } = health;
  if (
    lowBalance !== undefined &&
    (typeof lowBalance !== 'number' || !Number.isFinite(lowBalance) || lowBalance < 0)
  ) {
    throw new TwoFactorConfigError(
      'health.lowBalance',
      `must be a number ≥ 0 in the provider's currency, e.g. 5, got ${String(lowBalance)}`,
    );
  }
  return {
    timeoutMs: integer('health.timeoutMs', health.timeoutMs, DEFAULT_HEALTH_TIMEOUT_MS, 10, 60 * SECOND),
    lowBalance: lowBalance as number | undefined,
    balanceCheckMs: integer(
      'health.balanceCheckMs',
      health.balanceCheckMs,
      DEFAULT_BALANCE_CHECK_MS,
      MINUTE,
      24 * HOUR,
    ),
  };
}
