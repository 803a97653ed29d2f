import { afterEach, describe, expect, it } from 'vitest';
import { createDemo, type Demo } from '../../demo/app.js';
import { until } from '../helpers/metrics.js';
import { DemoClient, lastCode } from './demo-client.js';

let demo: Demo | undefined;
afterEach(async () => {
  await demo?.close();
  demo = undefined;
});

const start = () => createDemo({ port: 0, log: () => {}, deliveryReportDelayMs: 0 });
/** `{ metric: value }` of every bar the chart draws. */
const bars = (svg: string) =>
  Object.fromEntries(
    [...svg.matchAll(/data-metric="([^"]+)" data-value="(\d+)"/g)].map((m) => [m[1], Number(m[2])]),
  );

describe('the demo /stats page', () => {
  it('draws the funnel from the metrics: sent, delivered, verified, and the fallbacks by reason', async () => {
    demo = await start();
    const d = demo;
    const alice = await new DemoClient(d).signIn('alice');
    await alice.expect('POST', '/2fa/send', 200, {});
    await until(async () =>
      expect(bars(await (await fetch(`${d.url}/stats/chart`)).text())).toMatchObject({ delivered: 1 }),
    );
    await alice.expect('POST', '/2fa/verify', 200, { code: lastCode(d, 'alice') });

    // Bob's SMS fails at the provider: the code comes by call, placed right after the answer.
    const bob = await new DemoClient(d).signIn('bob');
    await bob.expect('POST', '/2fa/send', 200, {});
    await until(async () =>
      expect(bars(await (await fetch(`${d.url}/stats/chart`)).text())).toMatchObject({
        'fallback:sms-failed': 1,
      }),
    );
    await bob.expect('POST', '/2fa/verify', 200, { code: lastCode(d, 'bob') });

    const chart = await (await fetch(`${d.url}/stats/chart`)).text();
    expect(bars(chart)).toMatchObject({
      sent: 2,
      verified: 2,
      'fallback:sms-failed': 1,
      'failed:http': 1,
    });
    expect(chart).toContain('(1 SMS, 1 call)');
    expect(chart).toMatch(/Store: ok, [\d.]+ ms · Provider: ok, \d+ ms, balance [\d.]+ EUR/);
  });

  it('is a page of its own with a strict CSP and nothing fetched from elsewhere', async () => {
    demo = await start();
    const res = await fetch(`${demo.url}/stats`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(
      /^default-src 'none'; script-src 'nonce-[^']+'; style-src 'nonce-[^']+'; connect-src 'self';/,
    );
    const html = await res.text();
    const urls = [...html.matchAll(/(?:src|href|action)="([^"]*)"/g)].map((m) => m[1]);
    expect(urls.every((url) => url?.startsWith('/'))).toBe(true);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/\bstyle="/); // inline style attributes would need 'unsafe-inline'
  });
});
