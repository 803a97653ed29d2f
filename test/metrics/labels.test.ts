import type { Attributes } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { USERS } from '../helpers/create-app.js';
import { type Point, testMeter } from '../helpers/metrics.js';
import {
  callRequested,
  countryRefusal,
  memoryApp,
  phoneBudgetRefusal,
  smstoolsApp,
  success,
  wrongThenRight,
} from './flows.js';

const LABELS = ['channel', 'outcome', 'country', 'reason'];
const USER_IDS = Object.values(USERS).map((u) => u.id);
const PHONES = Object.values(USERS).flatMap((u) => [u.phone, u.phone.slice(1), u.phone.slice(-6)]);

/** Only the four label names; no value with six digits in a row, a user id, a number, an address. */
function expectSafeLabels(points: Point[], extra: string[] = []): void {
  expect(points.length).toBeGreaterThan(0);
  for (const { name, attributes } of points) {
    for (const [key, value] of Object.entries(attributes)) {
      expect(LABELS, `${name} label ${key}`).toContain(key);
      const text = String(value);
      expect(text, `${name}.${key}`).not.toMatch(/\d{6,}/);
      expect(text, `${name}.${key}`).not.toMatch(/\d/);
      for (const secret of [...USER_IDS, ...PHONES, '127.0.0.1', ...extra]) {
        expect(text, `${name}.${key}`).not.toContain(secret);
      }
    }
  }
}

describe('metric labels', () => {
  it('never hold a digit run, a user id, a number or an address, whatever the flow', async () => {
    const meter = testMeter();
    const options = { metrics: { meterProvider: meter.meterProvider } };
    await success(memoryApp(options));
    await wrongThenRight(memoryApp(options));
    await phoneBudgetRefusal(memoryApp({ ...options, limits: { phonePerHour: 1 } }));
    await countryRefusal(memoryApp(options));
    await callRequested(memoryApp(options));
    const { t, fake } = await smstoolsApp(options);
    fake.failMode = { error: '108', status: 400 }; // no credit: the provider code must not become a label
    await success(t).catch(() => {});

    const points = await meter.read();
    const names = new Set(points.map((p) => p.name));
    for (const name of [
      'sms2fa.sends',
      'sms2fa.sends.refused',
      'sms2fa.verifications',
      'sms2fa.voice.fallbacks',
    ]) {
      expect(names).toContain(name);
    }
    expectSafeLabels(points, ['108']);
  });

  it('keep only known values when an event field holds something else (a custom transport, a future event)', async () => {
    const meter = testMeter();
    const recorder = createMetrics(meter.meterProvider);
    const hostile = {
      at: 1_000,
      userId: 'u-alice',
      phone: '+32470123401',
      country: '32470123401',
      ip: '127.0.0.1',
      channel: 'sms 123456' as 'sms',
      reason: 'failed for +32470123401 (code 123456)',
      providerCode: '108',
    };
    for (const type of [
      'code.sent',
      'voice.sent',
      'code.send_failed',
      'send.blocked',
      'verify.failed',
    ] as const) {
      recorder.record({ ...hostile, type });
    }
    recorder.record({ ...hostile, type: 'verify.succeeded', sentAt: 500 });
    recorder.deliveryReport('delivered to u-alice', 'u-alice');
    recorder.smsParts(2, '+32470123401');

    const points = await meter.read();
    expectSafeLabels(points, ['108', 'u-alice']);
    const labels = (name: string): Attributes[] =>
      points.filter((p) => p.name === name).map((p) => p.attributes);
    expect(labels('sms2fa.sends')).toEqual(
      expect.arrayContaining([
        { channel: 'sms', outcome: 'sent' },
        { channel: 'voice', outcome: 'sent' },
        { outcome: 'failed', reason: 'error' },
      ]),
    );
    expect(labels('sms2fa.sends.refused')).toEqual([{ reason: 'other' }]);
    expect(labels('sms2fa.voice.fallbacks')).toEqual([{ reason: 'other' }]);
    expect(labels('sms2fa.delivery.reports')).toEqual([{ outcome: 'other' }]);
    expect(labels('sms2fa.sms.parts')).toEqual([{}]);
  });
});
