// The metrics' own cost per verify, in-process: what recording one verify adds, with an SDK meter
// provider and with the API's no-op, without HTTP around it (a steadier estimate than req/s).
// `createMetrics` is the build's, as the servers run the package (bench/pkg.ts): bench/build.ts
// builds src/metrics/metrics.ts into bench/dist/internal-metrics.js with the package's tsup config;
// with BENCH_SRC=1 (`--src`) it is the source through tsx.
import { existsSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createNoopMeter, type MeterProvider } from '@opentelemetry/api';
import type { TwoFactorEvent } from '../src/events.js';
import type * as MetricsModule from '../src/metrics/metrics.js';
import { PACKAGE } from './pkg.js';

const built = new URL('./dist/internal-metrics.js', import.meta.url);
if (PACKAGE === 'dist' && !existsSync(built))
  throw new Error(
    'bench/dist/internal-metrics.js is missing: rebuild with `node --import tsx bench/build.ts`',
  );
// A specifier in a variable, so that TypeScript does not look for bench/dist/ (the types are src's).
const moduleUrl = PACKAGE === 'src' ? '../src/metrics/metrics.js' : built.href;
const { createMetrics } = (await import(moduleUrl)) as typeof MetricsModule;
// tsx's keepNames wraps every closure in `__name(…)`; the build has none. Say which code this times.
if (PACKAGE === 'dist' && createMetrics.toString().includes('__name('))
  throw new Error('bench/metrics-cost.ts: createMetrics came through tsx, not from the build');

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

/** µs per recorded verify of each kind, SDK and no-op, and which package's `createMetrics` ran. */
export function metricsCost(provider: MeterProvider): MetricsCost {
  const cost = (kind: 'wrong' | 'right') => ({
    sdkUs: perCall(provider, EVENTS[kind]),
    noopUs: perCall(NOOP, EVENTS[kind]),
  });
  return { package: PACKAGE, wrong: cost('wrong'), right: cost('right') };
}

export interface MetricsCost {
  package: typeof PACKAGE;
  wrong: { sdkUs: number; noopUs: number };
  right: { sdkUs: number; noopUs: number };
}
