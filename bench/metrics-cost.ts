// The metrics' own cost per verify, in-process: what recording one verify adds, with an SDK meter
// provider and with the API's no-op, without HTTP around it (a steadier estimate than req/s).
import { performance } from 'node:perf_hooks';
import { createNoopMeter, type MeterProvider } from '@opentelemetry/api';
import type { TwoFactorEvent } from '../src/events.js';
import { createMetrics } from '../src/metrics/metrics.js';

const WHO = { userId: 'u1', phone: '+32 4•• •• •• 01', country: 'BE', ip: '127.0.0.1' };
const EVENTS: Record<'wrong' | 'right', TwoFactorEvent> = {
  wrong: { type: 'verify.failed', at: 2_000, ...WHO, attemptsLeft: 3, failures: 1 },
  right: { type: 'verify.succeeded', at: 30_000, ...WHO, channel: 'sms', sentAt: 1_000 },
};
const NOOP: MeterProvider = { getMeter: () => createNoopMeter() };

/** µs per recorded verify: the fastest of 7 batches (the machine's noise only ever adds time). */
function perCall(provider: MeterProvider, event: TwoFactorEvent): number {
  const metrics = createMetrics(provider);
  const batch = 50_000;
  for (let i = 0; i < batch; i++) metrics.record(event);
  const batches: number[] = [];
  for (let round = 0; round < 7; round++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) metrics.record(event);
    batches.push(((performance.now() - t0) * 1000) / batch);
  }
  return Math.min(...batches);
}

export function metricsCost(provider: MeterProvider) {
  const out: Record<string, { sdkUs: number; noopUs: number }> = {};
  for (const kind of ['wrong', 'right'] as const) {
    out[kind] = { sdkUs: perCall(provider, EVENTS[kind]), noopUs: perCall(NOOP, EVENTS[kind]) };
  }
  return out;
}
