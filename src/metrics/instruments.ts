import type { Counter, Gauge, Histogram, Meter } from '@opentelemetry/api';

/** The instrumentation scope every instrument belongs to. */
export const METER_NAME = 'express-sms-2fa';

/**
 * Every instrument, named in OpenTelemetry's semantic-convention style (dotted, lower case, units
 * in UCUM, durations in seconds). A Prometheus exporter shows `sms2fa.sends` as
 * `sms2fa_sends_total` and `sms2fa.verify.duration` as `sms2fa_verify_duration_seconds`.
 */
export const METRICS = {
  sends: {
    name: 'sms2fa.sends',
    unit: '{message}',
    description: 'SMS and calls handed to the provider, by channel and outcome (sent, failed)',
  },
  refused: {
    name: 'sms2fa.sends.refused',
    unit: '{send}',
    description:
      'Sends refused before the provider was called, by reason (ip, phone, prefix, challenge, country, ...)',
  },
  reports: {
    name: 'sms2fa.delivery.reports',
    unit: '{report}',
    description: 'Delivery reports about our messages, by outcome (delivered, undelivered, submitted)',
  },
  verifications: {
    name: 'sms2fa.verifications',
    unit: '{verification}',
    description: 'Code checks, by outcome (success, wrong-code, expired, exhausted, locked, ...)',
  },
  fallbacks: {
    name: 'sms2fa.voice.fallbacks',
    unit: '{call}',
    description: 'Voice calls placed instead of an SMS, by reason (requested, sms-failed, undelivered, ...)',
  },
  parts: {
    name: 'sms2fa.sms.parts',
    unit: '{part}',
    description: 'Billed SMS parts sent (GSM-7: 160 characters, 153 per part when split; UCS-2: 70, 67)',
  },
  verifyDuration: {
    name: 'sms2fa.verify.duration',
    unit: 's',
    description: 'Time from the first send of a challenge to its successful verification',
  },
  providerDuration: {
    name: 'sms2fa.provider.duration',
    unit: 's',
    description: 'Time the provider took to accept or refuse a send, by channel and outcome (ok, error)',
  },
  balance: {
    name: 'sms2fa.provider.balance',
    unit: '1',
    description:
      "The provider account's balance, in its currency, as last read by tfa.health() or the low-balance check",
  },
} as const;

/** How long people take to type a code: most within a minute, the code lives at most 10. */
const VERIFY_BUCKETS_S = [5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600];
/** An SMS API answers in a few hundred ms; the transport gives up after 10 s. */
const PROVIDER_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10];

export interface Instruments {
  sends: Counter;
  refused: Counter;
  reports: Counter;
  verifications: Counter;
  fallbacks: Counter;
  parts: Counter;
  verifyDuration: Histogram;
  providerDuration: Histogram;
  balance: Gauge;
}

export function createInstruments(meter: Meter): Instruments {
  const counter = (m: { name: string; unit: string; description: string }) =>
    meter.createCounter(m.name, { unit: m.unit, description: m.description });
  const histogram = (m: { name: string; unit: string; description: string }, buckets: number[]) =>
    meter.createHistogram(m.name, {
      unit: m.unit,
      description: m.description,
      advice: { explicitBucketBoundaries: buckets },
    });
  return {
    sends: counter(METRICS.sends),
    refused: counter(METRICS.refused),
    reports: counter(METRICS.reports),
    verifications: counter(METRICS.verifications),
    fallbacks: counter(METRICS.fallbacks),
    parts: counter(METRICS.parts),
    verifyDuration: histogram(METRICS.verifyDuration, VERIFY_BUCKETS_S),
    providerDuration: histogram(METRICS.providerDuration, PROVIDER_BUCKETS_S),
    balance: meter.createGauge(METRICS.balance.name, {
      unit: METRICS.balance.unit,
      description: METRICS.balance.description,
    }),
  };
}
