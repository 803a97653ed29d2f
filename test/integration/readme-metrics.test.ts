import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { metrics } from '@opentelemetry/api';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeSmstools, startFakeSmstools } from '../../src/testing/fake-smstools.js';
import { createApp } from '../helpers/create-app.js';
import { success } from '../metrics/flows.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const generated = (name: string) => fileURLToPath(new URL(`./.${name}.generated.mjs`, import.meta.url));

/** The first js block of the README section `heading`, exactly as printed. */
function snippet(heading: string): string {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const code = readme.slice(readme.indexOf(heading)).match(/```js\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error(`no js block under "${heading}"`);
  return code;
}

/** Writes `code` next to this test (so its imports resolve) and imports it. */
async function load<T>(name: string, code: string): Promise<T> {
  writeFileSync(generated(name), code.replace("from 'express-sms-2fa'", `from '${root}src/index.ts'`));
  return (await import(generated(name))) as T;
}

afterEach(() => metrics.disable());
afterAll(() => {
  for (const name of ['prometheus', 'otlp']) rmSync(generated(name), { force: true });
});

describe('the README Prometheus example', () => {
  let fake: FakeSmstools;
  const realFetch = globalThis.fetch;
  beforeAll(async () => {
    fake = await startFakeSmstools();
    // The snippet talks to the real Smstools host; only the host is swapped for the fake's.
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) =>
      realFetch(String(input).replace('https://api.smsgatewayapi.com/v1', fake.url), init),
    );
    vi.stubEnv('SESSION_SECRET', 'a-session-secret-for-the-metrics-example');
    vi.stubEnv('TWO_FACTOR_SECRET', 'a-two-factor-secret-for-the-metrics-example');
    vi.stubEnv('SMSTOOLS_CLIENT_ID', fake.clientId);
    vi.stubEnv('SMSTOOLS_CLIENT_SECRET', fake.clientSecret);
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    await fake.close();
  });

  it('works as written: a verified sign-in shows on /metrics, /ready answers the health report', async () => {
    const code = snippet('### Exporting to Prometheus')
      .replace(
        'new PrometheusExporter({ port: 9464 })',
        'new PrometheusExporter({ preventServerStart: true })',
      )
      .replace('app.listen(3000);', 'export { app, exporter };');
    expect(code).toContain('export { app, exporter };');
    expect(code).toContain('preventServerStart: true');
    const { app, exporter } = await load<{ app: Express; exporter: PrometheusExporter }>('prometheus', code);
    app.post('/test-login', (req, res) => {
      (req as unknown as { session: Record<string, unknown> }).session.user = {
        id: '42',
        phone: '+32470123401',
      };
      res.sendStatus(204);
    });
    const browser = request.agent(app);
    await browser.post('/test-login').expect(204);
    await browser.post('/2fa/send').set('Content-Type', 'application/json').send({}).expect(200);
    await browser
      .post('/2fa/verify')
      .set('Content-Type', 'application/json')
      .send({ code: fake.lastCode() })
      .expect(200);
    const ready = await browser.get('/ready').expect(200);
    expect(ready.body).toMatchObject({
      ok: true,
      store: { ok: true },
      provider: { ok: true, checked: true, balance: expect.any(Number), currency: 'EUR' },
    });

    // What Prometheus would scrape from port 9464.
    const server: Server = createServer((req: IncomingMessage, res) =>
      exporter.getMetricsRequestHandler(req, res),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const scrape = await (await realFetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(scrape).toContain(
        'sms2fa_sends_total{channel="sms",outcome="sent",country="BE",otel_scope_name="express-sms-2fa"} 1',
      );
      expect(scrape).toContain(
        'sms2fa_verifications_total{outcome="success",channel="sms",country="BE",otel_scope_name="express-sms-2fa"} 1',
      );
      expect(scrape).toMatch(/sms2fa_verify_duration_bucket\{channel="sms",country="BE",[^}]*le="30"\} 1/);
      expect(scrape).toMatch(/sms2fa_provider_balance\{[^}]*\} \d/);
    } finally {
      server.close();
      await exporter.shutdown();
    }
  });
});

describe('the README OTLP example', () => {
  it('sends the instruments to the collector URL it names', async () => {
    const received: { type?: string; body: string }[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ type: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const { port } = collector.address() as AddressInfo;
    try {
      const code = `${snippet('### Exporting to an OpenTelemetry collector').replace(
        'http://localhost:4318/v1/metrics',
        `http://127.0.0.1:${port}/v1/metrics`,
      )}\nexport { reader };\n`;
      expect(code).toContain(`127.0.0.1:${port}`);
      const { reader } = await load<{ reader: PeriodicExportingMetricReader }>('otlp', code);
      await success(createApp()); // an app that passes no meter provider: the global one
      await reader.forceFlush();
      await reader.shutdown();
      const body = received.map((r) => r.body).join('\n');
      expect(body).toContain('sms2fa.sends');
      expect(body).toContain('sms2fa.verifications');
    } finally {
      collector.close();
    }
  });
});
