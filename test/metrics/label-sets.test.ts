import { type Attributes, createNoopMeter, type Meter, type MeterProvider } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { TwoFactorEvent, TwoFactorEventType } from '../../src/events.js';
import { createMetrics } from '../../src/metrics/metrics.js';

/*
 * The metrics reuse one frozen attribute set per call site and distinct values (metrics.ts
 * `LabelSets`) instead of building and copying an object per event. Each event must still carry
 * exactly the labels it carried when they were built afresh: the same keys, in the same order,
 * without the undefined ones.
 */

interface Call {
  instrument: string;
  value: number;
  attributes: Attributes | undefined;
}

/** A meter provider whose instruments record every call, attributes by reference. */
function capturingProvider(): { provider: MeterProvider; calls: Call[] } {
  const calls: Call[] = [];
  const noop = createNoopMeter();
  const instrument = (name: string) => ({
    add: (value: number, attributes?: Attributes) => calls.push({ instrument: name, value, attributes }),
    record: (value: number, attributes?: Attributes) => calls.push({ instrument: name, value, attributes }),
  });
  const meter = new Proxy(noop, {
    get(target, key) {
      if (typeof key === 'string' && key.startsWith('create') && key !== 'createObservableGauge') {
        return (name: string) => instrument(name);
      }
      return Reflect.get(target, key);
    },
  }) as Meter;
  return { provider: { getMeter: () => meter }, calls };
}

/** Attributes as the metrics built them before: the fields in order, undefined ones left out. */
function built(fields: Record<string, string | undefined>): Attributes {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));
}

const COUNTRIES = [undefined, 'BE', 'FR', 'be', 'BEL', 42];
const CHANNELS = [undefined, 'sms', 'voice', 'fax'];
const REASONS = [undefined, 'ip', 'phone', 'sms-failed', 'requested', 'timeout', 'http', 'made-up'];

/** Each label set the event should carry, in order of the instrument calls. */
function expected(event: TwoFactorEvent): Attributes[] {
  const country =
    typeof event.country === 'string' && /^[A-Z]{2}$/.test(event.country) ? event.country : undefined;
  const channel = event.channel === 'sms' || event.channel === 'voice' ? event.channel : undefined;
  const reason = (allowed: string[], otherwise: string) =>
    typeof event.reason === 'string' && allowed.includes(event.reason) ? event.reason : otherwise;
  switch (event.type) {
    case 'code.sent':
    case 'enroll.code_sent':
      return [built({ channel: 'sms', outcome: 'sent', country })];
    case 'voice.sent':
      return [
        built({ channel: 'voice', outcome: 'sent', country }),
        built({ reason: reason(['requested', 'sms-failed', 'undelivered', 'no-report'], 'other'), country }),
      ];
    case 'code.send_failed': {
      const why = reason(['http', 'invalid-response', 'timeout', 'network', 'invalid-request'], 'error');
      return [built({ channel, outcome: 'failed', reason: why, country })];
    }
    case 'send.blocked': {
      const allowed = [
        'ip',
        'phone',
        'prefix',
        'global',
        'challenge',
        'country',
        'invalid-number',
        'vetoed',
        'user',
      ];
      return [built({ reason: reason(allowed, 'other'), channel, country })];
    }
    case 'verify.failed':
      return [built({ outcome: 'wrong-code', country })];
    case 'verify.succeeded':
      return [built({ outcome: 'success', channel, country }), built({ channel, country })];
    default:
      return [];
  }
}

const TYPES: TwoFactorEventType[] = [
  'code.sent',
  'enroll.code_sent',
  'voice.sent',
  'code.send_failed',
  'send.blocked',
  'verify.failed',
  'verify.succeeded',
];

describe('metric labels made once per distinct values', () => {
  it('carry the same labels, in the same order, for every event, channel, reason and country', () => {
    const { provider, calls } = capturingProvider();
    const metrics = createMetrics(provider);
    for (let round = 0; round < 2; round++) {
      for (const type of TYPES) {
        for (const country of COUNTRIES) {
          for (const channel of CHANNELS) {
            for (const reason of REASONS) {
              const event = {
                type,
                at: 5_000,
                sentAt: 1_000,
                country,
                channel,
                reason,
              } as unknown as TwoFactorEvent;
              calls.length = 0;
              metrics.record(event);
              const want = expected(event);
              expect(calls.map((c) => c.attributes)).toEqual(want);
              expect(calls.map((c) => Object.keys(c.attributes ?? {}))).toEqual(
                want.map((w) => Object.keys(w)),
              );
            }
          }
        }
      }
    }
  });

  it('gives the same frozen set for the same values, and another for other values', () => {
    const { provider, calls } = capturingProvider();
    const metrics = createMetrics(provider);
    const right = (country: string) =>
      ({ type: 'verify.succeeded', at: 5_000, sentAt: 1_000, channel: 'sms', country }) as TwoFactorEvent;
    metrics.record(right('BE'));
    metrics.record(right('BE'));
    metrics.record(right('FR'));
    const [first, , second, , other] = calls.map((c) => c.attributes);
    expect(second).toBe(first);
    expect(other).not.toBe(first);
    expect(other).toEqual({ outcome: 'success', channel: 'sms', country: 'FR' });
    expect(Object.isFrozen(first)).toBe(true);
  });

  it('labels SMS parts and delivery reports as before', () => {
    const { provider, calls } = capturingProvider();
    const metrics = createMetrics(provider);
    metrics.smsParts(2, 'BE');
    metrics.smsParts(1, 'belgium');
    metrics.smsParts(0, 'BE');
    metrics.deliveryReport('delivered', 'FR');
    metrics.deliveryReport('weird', undefined);
    metrics.deliveryReport('delivered', 'FR');
    expect(calls.map(({ value, attributes }) => [value, attributes])).toEqual([
      [2, { country: 'BE' }],
      [1, {}],
      [1, { outcome: 'delivered', country: 'FR' }],
      [1, { outcome: 'other' }],
      [1, { outcome: 'delivered', country: 'FR' }],
    ]);
    expect(calls[4]?.attributes).toBe(calls[2]?.attributes);
  });
});
