// The OpenTelemetry SDK as an app would set it up, read through its in-memory exporter.
import type { Attributes } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { onTestFinished } from 'vitest';

/** One data point: a counter's sum, a gauge's value, or a histogram's count and sum. */
export interface Point {
  name: string;
  attributes: Attributes;
  /** Counters and gauges: the value. Histograms: the number of recordings. */
  value: number;
  /** Histograms only: the sum of the recordings. */
  sum?: number;
}

export interface TestMeter {
  meterProvider: MeterProvider;
  /** Every data point recorded so far (cumulative). */
  read(): Promise<Point[]>;
  /** The points of `name` as `{ 'k=v,k=v': value }`, attribute keys sorted: easy to compare whole. */
  table(name: string): Promise<Record<string, number>>;
}

/** Attributes as `channel=sms,country=BE,outcome=sent` (keys sorted). */
export const labelKey = (attributes: Attributes) =>
  Object.keys(attributes)
    .sort()
    .map((key) => `${key}=${String(attributes[key])}`)
    .join(',');

/** A MeterProvider with a reader that exports only when asked; shut down when the test ends. */
export function testMeter(): TestMeter {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 2 ** 31 - 1 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  onTestFinished(() => meterProvider.shutdown());

  async function read(): Promise<Point[]> {
    exporter.reset();
    await reader.forceFlush();
    const points: Point[] = [];
    for (const resource of exporter.getMetrics()) {
      for (const scope of resource.scopeMetrics) {
        for (const metric of scope.metrics) {
          for (const point of metric.dataPoints) {
            const { name } = metric.descriptor;
            if (metric.dataPointType === DataPointType.HISTOGRAM) {
              const value = point.value as { count: number; sum?: number };
              points.push({ name, attributes: point.attributes, value: value.count, sum: value.sum ?? 0 });
            } else {
              points.push({ name, attributes: point.attributes, value: point.value as number });
            }
          }
        }
      }
    }
    return points;
  }

  return {
    meterProvider,
    read,
    async table(name) {
      const rows: Record<string, number> = {};
      for (const point of await read()) {
        if (point.name === name && point.value !== 0) rows[labelKey(point.attributes)] = point.value;
      }
      return rows;
    },
  };
}

/**
 * Polls `check` until it stops throwing: for work the app does in the background (a delivery report,
 * the call it triggers). Nothing is timed; after `tries` polls the last failure is the test's.
 */
export async function until(check: () => void | Promise<void>, tries = 1000): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      await check();
      return;
    } catch (error) {
      if (i >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}
