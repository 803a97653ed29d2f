import { describe, expect, it } from 'vitest';
import { billedParts } from '../../src/sms-length.js';
import { testMeter } from '../helpers/metrics.js';
import { memoryApp, success } from './flows.js';

describe('billedParts', () => {
  it('counts GSM-7 parts of 160, then 153', () => {
    expect([1, 160, 161, 306, 307].map((n) => billedParts('a'.repeat(n)))).toEqual([1, 1, 2, 2, 3]);
    expect(billedParts('€'.repeat(80))).toBe(1); // the extension characters count two units
    expect(billedParts('€'.repeat(81))).toBe(2);
  });

  it('counts UCS-2 parts of 70, then 67, when a character has no GSM-7 form', () => {
    expect(billedParts(`ç${'a'.repeat(69)}`)).toBe(1);
    expect(billedParts(`ç${'a'.repeat(70)}`)).toBe(2);
    expect(billedParts(`🙂${'a'.repeat(132)}`)).toBe(2); // 134 UTF-16 units
    expect(billedParts(`🙂${'a'.repeat(133)}`)).toBe(3);
  });
});

describe('sms2fa.sms.parts', () => {
  it('counts every billed part of what was sent', async () => {
    const meter = testMeter();
    const t = memoryApp({
      metrics: { meterProvider: meter.meterProvider },
      messages: { sms: ({ code }) => `Your code is ${code}. ${'Keep it to yourself. '.repeat(8)}` },
      warnings: { smsLength: false },
    });
    await success(t);
    const text = t.transport.messages[0]?.text ?? '';
    expect(text.length).toBeGreaterThan(160);
    expect(await meter.table('sms2fa.sms.parts')).toEqual({ 'country=BE': 2 });
  });
});
