// metrics: POST /2fa/verify with an OpenTelemetry SDK meter provider vs with none (the API's no-op).
import { startServer } from '../child.js';
import { measure, type Variant } from '../measure.js';
import type { MetricsCost } from '../metrics-cost.js';
import { type CaseResult, type Context, type Row, throughputRows } from '../report.js';
import { VERIFY_NAMES, type VerifyKind, verifyVariant } from './verify.js';

const TARGET = 0.95;

/**
 * One app with two instances of the middleware on one memory store: /2fa with no meter provider
 * (nothing registered globally, so the API hands out its no-op meter) and /m/2fa with an SDK
 * MeterProvider (a periodic reader exporting every 5 s) passed as `metrics.meterProvider`. A
 * wrong code records one counter; a right code a counter and a histogram.
 */
export async function metricsCase(ctx: Context): Promise<CaseResult> {
  const server = await startServer(
    'metrics',
    { kind: 'app', auth: 'session', store: 'memory', transport: 'codes', metrics: true },
    { profile: ctx.profile },
  );
  try {
    const kinds = ['wrong', 'right'] as const satisfies readonly VerifyKind[];
    const name = (kind: VerifyKind, metered: boolean) =>
      `${VERIFY_NAMES[kind]}, ${metered ? 'meter provider' : 'no meter provider'}`;
    const variants: Variant[] = [];
    for (const kind of kinds) {
      variants.push(await verifyVariant(name(kind, false), server, kind, '/2fa'));
      variants.push(await verifyVariant(name(kind, true), server, kind, '/m/2fa'));
    }
    const summaries = await measure(variants, ctx.settings, ctx.log);
    const rows: Row[] = [];
    for (const kind of kinds) {
      const [bare, metered] = [name(kind, false), name(kind, true)];
      const pair = new Map([...summaries].filter(([variant]) => variant === bare || variant === metered));
      rows.push(...throughputRows('metrics', pair, bare, { [metered]: TARGET }));
    }
    // The metered instance must really have measured: its verifications reached the SDK.
    const recorded = await server.request<Record<string, number> | null>('metrics');
    const verifications = recorded?.['sms2fa.verifications'] ?? 0;
    if (verifications === 0) throw new Error('metrics: the meter provider recorded no verification');
    ctx.log(`  the SDK recorded ${verifications} verifications, ${recorded?.['sms2fa.sends'] ?? 0} sends`);
    // A second estimate, steadier on a shared machine: recording one verify in-process, SDK vs no-op,
    // against the CPU the bare variant spends per request.
    // The in-process estimate runs the package the server runs (its build, or src with --src).
    const cost = await server.request<MetricsCost>('metricscost');
    if (cost.package !== server.ready.package)
      throw new Error(
        `metrics: the server runs ${String(server.ready.package)}, its cost ran ${cost.package}`,
      );
    for (const kind of kinds) {
      const { sdkUs, noopUs } = cost[kind];
      const cpu = summaries.get(name(kind, false))?.cpuUs ?? Number.NaN;
      const implied = cpu / (cpu + sdkUs - noopUs);
      ctx.log(
        `  ${VERIFY_NAMES[kind]}: recording costs ${sdkUs.toFixed(2)} µs with the SDK, ${noopUs.toFixed(2)} µs with the no-op; ` +
          `${Math.round(cpu)} µs CPU per request → ${implied.toFixed(3)}×`,
      );
      rows.push({
        case: 'metrics',
        variant: `${VERIFY_NAMES[kind]}, in-process cost of the metrics`,
        value: `${sdkUs.toFixed(1)} µs (no-op ${noopUs.toFixed(1)} µs) → ${implied.toFixed(3)}× of the CPU per request`,
        met: null,
        note: 'a second estimate of the same ratio, steadier than req/s on a shared machine; not the target',
      });
    }
    return {
      name: 'metrics',
      rows,
      details: { recorded, inProcess: cost, summaries: Object.fromEntries(summaries) },
    };
  } finally {
    await server.stop();
  }
}
