import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Demo } from '../../demo/app.js';
import { describeBrowser, launchChromium, startDemo } from '../helpers/browser.js';
import { until } from '../helpers/metrics.js';
import { DemoClient, lastCode } from '../metrics/demo-client.js';

/** Written to `docs/` only with `UPDATE_SCREENSHOTS=1`, like the challenge page's screenshots. */
const OUT = process.env.UPDATE_SCREENSHOTS
  ? join(import.meta.dirname, '../../docs')
  : mkdtempSync(join(tmpdir(), 'tfa-stats-'));

const value = (page: Page, metric: string) =>
  page.locator(`[data-metric="${metric}"]`).getAttribute('data-value', { timeout: 1_000 });

/** Waits until the chart on `page` shows `metric` at `expected`, without reloading the page. */
async function shows(page: Page, metric: string, expected: number): Promise<void> {
  await until(async () => expect(await value(page, metric)).toBe(String(expected)));
}

describeBrowser('the demo /stats page in Chromium', { timeout: 90_000 }, () => {
  let browser: Browser;
  let demo: Demo;
  beforeAll(async () => {
    browser = await launchChromium();
    mkdirSync(OUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('updates live while the demo is used, fetches nothing from elsewhere, and takes docs/stats.png', async () => {
    demo = await startDemo();
    const context = await browser.newContext({ viewport: { width: 900, height: 900 }, colorScheme: 'light' });
    const page = await context.newPage();
    const requests: string[] = [];
    const cspErrors: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspErrors.push(message.text());
    });
    await page.goto(`${demo.url}/stats`);
    await shows(page, 'sent', 0); // retried: one read of a busy browser can outlast its 1 s timeout

    // Alice: a wrong code, then the right one.
    const alice = await new DemoClient(demo).signIn('alice');
    await alice.expect('POST', '/2fa/send', 200, {});
    await shows(page, 'sent', 1); // the open page caught up by itself
    await shows(page, 'delivered', 1);
    await alice.expect('POST', '/2fa/verify', 400, {
      code: '000000' === lastCode(demo, 'alice') ? '111111' : '000000',
    });
    await alice.expect('POST', '/2fa/verify', 200, { code: lastCode(demo, 'alice') });
    await shows(page, 'verified', 1);

    // Bob: the provider refuses every SMS to him, a call follows. Carol: reported undelivered, a call follows.
    const bob = await new DemoClient(demo).signIn('bob');
    await bob.expect('POST', '/2fa/send', 200, {});
    await until(() => expect(demo.fake?.lastMessage(demo.users[1]?.phone)?.channel).toBe('voice'));
    await bob.expect('POST', '/2fa/verify', 200, { code: lastCode(demo, 'bob') });
    const carol = await new DemoClient(demo).signIn('carol');
    await carol.expect('POST', '/2fa/send', 200, {});
    await shows(page, 'fallback:undelivered', 1);
    await until(() => expect(demo.fake?.lastMessage(demo.users[2]?.phone)?.channel).toBe('voice'));
    await carol.expect('POST', '/2fa/verify', 200, { code: lastCode(demo, 'carol') });
    // Alice again, on a second browser: the code is sent and never typed.
    await (await new DemoClient(demo).signIn('alice')).expect('POST', '/2fa/send', 200, {});

    await shows(page, 'verified', 3);
    await shows(page, 'sent', 5); // Bob's SMS failed: 3 SMS and 2 calls went out
    await shows(page, 'fallback:sms-failed', 1);
    await shows(page, 'delivered', 4); // all but Carol's SMS

    const png = await page
      .locator('main')
      .screenshot({ path: join(OUT, 'stats.png'), animations: 'disabled' });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(requests.every((url) => url.startsWith(demo.url))).toBe(true);
    expect(requests.filter((url) => url.endsWith('/stats/chart')).length).toBeGreaterThan(0);
    expect(cspErrors).toEqual([]);
    await context.close();
  });
});
