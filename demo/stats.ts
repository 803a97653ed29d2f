// The demo's /stats page: the SMS funnel drawn from the middleware's own OpenTelemetry metrics.
// The OpenTelemetry SDK (a devDependency) collects them in this process; nothing leaves it.
import { randomBytes } from 'node:crypto';
import { type DataPoint, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { Express, Response } from 'express';
import { type HealthReport, METRICS } from '../src/index.js';

/** A reader that collects only when asked: the page asks on every refresh. */
class OnDemandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

type Labels = Record<string, string>;
type Series = { labels: Labels; value: number; sum?: number }[];

/** What the chart shows, read from the instruments. */
export interface Funnel {
  sent: { sms: number; voice: number };
  delivered: number;
  verified: number;
  wrongCodes: number;
  /** Mean time from the first send to a successful verify, in seconds; null before the first. */
  meanVerifySeconds: number | null;
  parts: number;
  fallbacks: Record<string, number>;
  refused: Record<string, number>;
  failed: Record<string, number>;
}

export interface DemoStats {
  /** Pass it to twoFactor({ metrics: { meterProvider } }). */
  meterProvider: MeterProvider;
  funnel(): Promise<Funnel>;
  /** GET /stats (the page) and GET /stats/chart (the chart alone, for the page's live refresh). */
  mount(app: Express, health: () => Promise<HealthReport>): void;
  shutdown(): Promise<void>;
}

const REFRESH_MS = 2_000;
const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const e = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

const sum = (series: Series, match: Labels = {}) =>
  series
    .filter((p) => Object.entries(match).every(([k, v]) => p.labels[k] === v))
    .reduce((total, p) => total + p.value, 0);

function byLabel(series: Series, label: string, match: Labels = {}): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of series) {
    if (!Object.entries(match).every(([k, v]) => p.labels[k] === v)) continue;
    const key = p.labels[label] ?? 'other';
    out[key] = (out[key] ?? 0) + p.value;
  }
  return out;
}

export function demoStats(): DemoStats {
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });

  async function read(): Promise<Map<string, Series>> {
    const { resourceMetrics } = await reader.collect();
    const out = new Map<string, Series>();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const points = (metric.dataPoints as DataPoint<unknown>[]).map((p) => {
          const v = p.value as number | { count: number; sum?: number };
          const labels = p.attributes as Labels;
          return typeof v === 'number' ? { labels, value: v } : { labels, value: v.count, sum: v.sum ?? 0 };
        });
        out.set(metric.descriptor.name, [...(out.get(metric.descriptor.name) ?? []), ...points]);
      }
    }
    return out;
  }

  async function funnel(): Promise<Funnel> {
    const m = await read();
    const get = (name: string) => m.get(name) ?? [];
    const sends = get(METRICS.sends.name);
    const verifications = get(METRICS.verifications.name);
    const duration = get(METRICS.verifyDuration.name);
    const count = duration.reduce((n, p) => n + p.value, 0);
    const seconds = duration.reduce((n, p) => n + (p.sum ?? 0), 0);
    return {
      sent: {
        sms: sum(sends, { channel: 'sms', outcome: 'sent' }),
        voice: sum(sends, { channel: 'voice', outcome: 'sent' }),
      },
      delivered: sum(get(METRICS.reports.name), { outcome: 'delivered' }),
      verified: sum(verifications, { outcome: 'success' }),
      wrongCodes: sum(verifications, { outcome: 'wrong-code' }),
      meanVerifySeconds: count > 0 ? seconds / count : null,
      parts: sum(get(METRICS.parts.name)),
      fallbacks: byLabel(get(METRICS.fallbacks.name), 'reason'),
      refused: byLabel(get(METRICS.refused.name), 'reason'),
      failed: byLabel(sends, 'reason', { outcome: 'failed' }),
    };
  }

  function page(res: Response, status: number, type: string, body: string, nonce?: string) {
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'none'; ${nonce ? `script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; ` : ''}connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
    );
    res.setHeader('Cache-Control', 'no-store');
    res.status(status).type(type).send(body);
  }

  return {
    meterProvider,
    funnel,
    mount(app, health) {
      const chart = async () => chartSvg(await funnel(), await health());
      app.get('/stats', async (_req, res, next) => {
        try {
          const nonce = randomBytes(16).toString('base64');
          page(res, 200, 'html', statsPage(nonce, await chart()), nonce);
        } catch (error) {
          next(error);
        }
      });
      app.get('/stats/chart', async (_req, res, next) => {
        try {
          page(res, 200, 'image/svg+xml', await chart());
        } catch (error) {
          next(error);
        }
      });
    },
    shutdown: () => meterProvider.shutdown(),
  };
}

const COLORS = {
  sent: '#2563eb',
  delivered: '#0891b2',
  verified: '#16a34a',
  fallback: '#d97706',
  refused: '#dc2626',
  failed: '#9f1239',
};

interface Bar {
  id: string;
  label: string;
  value: number;
  color: string;
  note?: string;
}

/** The funnel as inline SVG: presentation attributes only, so the page's CSP needs no inline styles. */
export function chartSvg(f: Funnel, health?: HealthReport): string {
  const sent = f.sent.sms + f.sent.voice;
  const groups: { title: string; bars: Bar[] }[] = [
    {
      title: 'Funnel',
      bars: [
        {
          id: 'sent',
          label: 'Sent',
          value: sent,
          color: COLORS.sent,
          note: `${f.sent.sms} SMS, ${f.sent.voice} ${f.sent.voice === 1 ? 'call' : 'calls'}`,
        },
        { id: 'delivered', label: 'Delivered', value: f.delivered, color: COLORS.delivered },
        { id: 'verified', label: 'Verified', value: f.verified, color: COLORS.verified },
      ],
    },
    { title: 'Voice fallbacks, by reason', bars: reasonBars('fallback', f.fallbacks, COLORS.fallback) },
    { title: 'Sends refused, by reason', bars: reasonBars('refused', f.refused, COLORS.refused) },
    { title: 'Sends the provider failed, by reason', bars: reasonBars('failed', f.failed, COLORS.failed) },
  ];
  const max = Math.max(1, ...groups.flatMap((g) => g.bars.map((b) => b.value)));
  const width = 720;
  const labelWidth = 190;
  const barSpace = 400;
  const rowHeight = 34;
  let y = 0;
  const parts: string[] = [];
  for (const group of groups) {
    y += 30;
    parts.push(
      `<text x="0" y="${y}" font-size="15" font-weight="700" fill="currentColor">${e(group.title)}</text>`,
    );
    y += 10;
    if (group.bars.length === 0) {
      y += 24;
      parts.push(`<text x="${labelWidth}" y="${y}" font-size="14" fill="#6b7280">none yet</text>`);
      continue;
    }
    for (const bar of group.bars) {
      const w = Math.round((bar.value / max) * barSpace);
      const top = y + 6;
      parts.push(
        `<g data-metric="${e(bar.id)}" data-value="${bar.value}">` +
          `<text x="0" y="${top + 17}" font-size="14" fill="currentColor">${e(bar.label)}</text>` +
          `<rect x="${labelWidth}" y="${top}" width="${barSpace}" height="24" rx="5" fill="#9ca3af" fill-opacity="0.18"/>` +
          (w > 0
            ? `<rect x="${labelWidth}" y="${top}" width="${w}" height="24" rx="5" fill="${bar.color}"/>`
            : '') +
          `<text x="${labelWidth + Math.max(w, 0) + 8}" y="${top + 17}" font-size="14" font-weight="700" fill="currentColor">${bar.value}${bar.note ? ` <tspan font-weight="400" fill="#6b7280">(${e(bar.note)})</tspan>` : ''}</text>` +
          '</g>',
      );
      y += rowHeight;
    }
  }
  y += 34;
  const mean = f.meanVerifySeconds === null ? '–' : `${f.meanVerifySeconds.toFixed(1)} s`;
  parts.push(
    `<text x="0" y="${y}" font-size="14" fill="currentColor">Mean time to verify: <tspan font-weight="700">${mean}</tspan> · Wrong codes: <tspan font-weight="700">${f.wrongCodes}</tspan> · SMS parts billed: <tspan font-weight="700">${f.parts}</tspan></text>`,
  );
  if (health) {
    y += 26;
    const provider = health.provider.ok
      ? `ok, ${Math.round(health.provider.latencyMs)} ms${health.provider.balance === undefined ? '' : `, balance ${health.provider.balance.toFixed(2)} ${health.provider.currency ?? ''}`}`
      : `down (${health.provider.error ?? 'error'})`;
    const store = health.store.ok
      ? `ok, ${health.store.latencyMs.toFixed(1)} ms`
      : `down (${health.store.error})`;
    parts.push(
      `<text x="0" y="${y}" font-size="14" fill="currentColor" data-health="${health.ok ? 'ok' : 'down'}">Store: ${e(store)} · Provider: ${e(provider.trim())}</text>`,
    );
  }
  const height = y + 12;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${e(`SMS funnel: ${sent} sent, ${f.delivered} delivered, ${f.verified} verified`)}">${parts.join('')}</svg>`;
}

function reasonBars(prefix: string, counts: Record<string, number>, color: string): Bar[] {
  return Object.entries(counts)
    .filter(([, value]) => value > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([reason, value]) => ({ id: `${prefix}:${reason}`, label: reason, value, color }));
}

function statsPage(nonce: string, chart: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SMS funnel · express-sms-2fa demo</title>
<style nonce="${nonce}">
:root{color-scheme:light dark}
body{margin:0;background:#eef1f6;color:#111827;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;padding:1rem}
@media (prefers-color-scheme:dark){body{background:#0f1115;color:#f3f4f6}main{background:#1a1d24!important}}
main{max-width:50rem;margin:2rem auto;background:#fff;border-radius:14px;padding:2rem 1.75rem;box-shadow:0 1px 2px rgb(0 0 0/.06),0 8px 24px rgb(0 0 0/.08)}
h1{font-size:1.5rem;margin:0 0 .25rem}
p{margin:.25rem 0 1rem;color:#6b7280}
#chart svg{max-width:100%;height:auto}
a{color:#2563eb}
</style>
</head>
<body>
<main>
<h1>SMS funnel</h1>
<p>Read from the middleware's OpenTelemetry metrics (<code>sms2fa.*</code>) through the SDK, in this process. Refreshed every ${REFRESH_MS / 1000} s while you use the demo. <a href="/">Back to the demo</a></p>
<div id="chart" aria-live="polite">${chart}</div>
</main>
<script nonce="${nonce}">
const chart = document.getElementById('chart');
let shown = chart.innerHTML;
async function refresh() {
  try {
    const res = await fetch('/stats/chart', { cache: 'no-store' });
    const svg = res.ok ? await res.text() : shown;
    if (svg !== shown) chart.innerHTML = shown = svg;
  } catch {}
  setTimeout(refresh, ${REFRESH_MS});
}
setTimeout(refresh, ${REFRESH_MS});
</script>
</body>
</html>`;
}
