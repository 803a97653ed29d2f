import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../../demo/app.js';
import {
  countStatusPolls,
  describeBrowser,
  inboxCode,
  launchChromium,
  openContext,
  PROFILES,
  phoneOf,
  setHidden,
  signIn,
  startDemo,
} from '../helpers/browser.js';

/** Status requests of the page still waiting for their answer. */
function inFlight(page: Page): () => number {
  let open = 0;
  const isStatus = (url: string) => url.endsWith('/2fa/status');
  page.on('request', (r) => {
    if (isStatus(r.url())) open++;
  });
  const done = (r: Request) => {
    if (isStatus(r.url())) open--;
  };
  page.on('requestfinished', done);
  page.on('requestfailed', done);
  return () => open;
}

/**
 * Runs the page's clock forward one second at a time; after each second, every status request
 * it fired has its answer (so the page has scheduled its next one) before the clock moves on.
 */
async function runSeconds(
  page: Page,
  open: () => number,
  seconds: number,
  onSecond?: (second: number) => void,
) {
  for (let second = 1; second <= seconds; second++) {
    onSecond?.(second);
    await page.clock.runFor(1_000);
    await expect.poll(open, { interval: 5 }).toBe(0);
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 0)));
  }
}

describeBrowser('tabs that agree, and polling that knows when to stop', { timeout: 120_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(PROFILES)('$name', ({ context: profile }) => {
    let demo: Demo | undefined;
    let harness: Awaited<ReturnType<typeof openContext>> | undefined;
    afterEach(async () => {
      const problems = harness?.problems() ?? [];
      await harness?.close();
      await demo?.close();
      harness = undefined;
      demo = undefined;
      expect(problems, 'no CSP violation and no 404 on any page').toEqual([]);
    });

    it('a second tab follows the first to the account when the first verifies', async () => {
      demo = await startDemo();
      harness = await openContext(browser, profile);
      const first = await harness.newPage();
      await signIn(first, demo, 'alice');
      await first.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();
      const second = await harness.newPage();
      await second.goto(`${demo.url}/2fa?returnTo=%2Faccount`);
      await second.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();

      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      await first.fill('#tfa-code', code);
      await Promise.all([first.waitForURL(`${demo.url}/account`), first.click('#tfa-verify')]);
      await second.waitForURL(`${demo.url}/account`, { timeout: 10_000 });
      // Never an invitation to send a new SMS to a user who is verified.
      expect(demo.fake?.messages).toHaveLength(1);
    });

    it('a status check still out when the code is accepted does not send the browser on a second time', async () => {
      // No delivery report within the test: the page keeps checking the status while the user types.
      demo = await startDemo({ deliveryReportDelayMs: 60 * 60_000 });
      harness = await openContext(browser, profile);
      const page = await harness.newPage();
      await signIn(page, demo, 'alice');
      // The order a loaded server can give: the check the page started before the click is answered
      // after the verify ("verified"), and before the account page the verify led to has come.
      let verifyAnswered!: () => void;
      const verifyAnswer = new Promise<void>((resolve) => {
        verifyAnswered = resolve;
      });
      let statusAnswered!: () => void;
      const statusAnswer = new Promise<void>((resolve) => {
        statusAnswered = resolve;
      });
      page.on('response', (response) => {
        if (response.url().endsWith('/2fa/verify')) verifyAnswered();
      });
      const isStatus = (request: Request) => request.url().endsWith('/2fa/status');
      page.on('requestfinished', (request) => isStatus(request) && statusAnswered());
      page.on('requestfailed', (request) => isStatus(request) && statusAnswered());
      let statusAsked!: () => void;
      const statusAsk = new Promise<void>((resolve) => {
        statusAsked = resolve;
      });
      await page.route('**/2fa/status', async (route) => {
        statusAsked();
        await verifyAnswer;
        await route.continue().catch(() => {});
      });
      const accountLoads: string[] = [];
      await page.route(`${demo.url}/account`, async (route) => {
        accountLoads.push(route.request().url());
        await statusAnswer;
        await route.continue().catch(() => {});
      });

      await page.fill('#tfa-code', await inboxCode(demo, phoneOf(demo, 'alice')));
      await statusAsk;
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      expect(await page.locator('h1').textContent()).toBe('Welcome, Alice');
      // One navigation: a second one would abort the first (net::ERR_ABORTED) and load the page twice.
      expect(accountLoads).toHaveLength(1);
    });

    it('after "Call me instead" in one tab, the other says the same, with no stale "SMS delivered."', async () => {
      demo = await startDemo({ voiceAfterMs: 0 });
      harness = await openContext(browser, profile);
      const first = await harness.newPage();
      await signIn(first, demo, 'alice');
      await first.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();
      const second = await harness.newPage();
      await second.goto(`${demo.url}/2fa`);
      await second.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();

      await first.locator('#tfa-voice:enabled').click();
      await second.locator('#tfa-intro', { hasText: 'We are calling +32 4•• •• •• 01' }).waitFor();
      await expect
        .poll(() => second.locator('#tfa-status').textContent())
        .toMatch(/^(Calling you now…|We called you\.)$/);
      await expect.poll(() => second.locator('#tfa-voice').textContent()).toMatch(/^Call me again in\s/);
      expect(await second.locator('#tfa-code-hint').textContent()).toContain('from the call');
    });

    it('stops polling once the SMS is delivered, for the rest of the five minutes', async () => {
      demo = await startDemo();
      harness = await openContext(browser, profile);
      const page = await harness.newPage();
      await page.clock.install();
      const polls = countStatusPolls(page);
      const open = inFlight(page);
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();
      const before = polls.count();
      await runSeconds(page, open, 280);
      expect(polls.count() - before).toBe(0);
    });

    it('backs off while it waits for a report, and pauses while the tab is hidden', async () => {
      // No delivery report within the test: the page keeps asking, less and less often.
      demo = await startDemo({ deliveryReportDelayMs: 60 * 60_000 });
      harness = await openContext(browser, profile);
      const page = await harness.newPage();
      await page.clock.install();
      const open = inFlight(page);
      const seen: number[] = [];
      let now = 0;
      page.on('request', (request) => {
        if (request.url().endsWith('/2fa/status')) seen.push(now);
      });
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code:enabled').waitFor();
      await runSeconds(page, open, 240, (second) => {
        now = second;
      });
      const gaps = seen.slice(1).map((at, i) => at - (seen[i] as number));
      expect(seen.length, `polls at ${seen.join(', ')} s`).toBeGreaterThanOrEqual(4);
      expect(seen.length, `polls at ${seen.join(', ')} s`).toBeLessThanOrEqual(20);
      // The gaps only grow. Each poll is seen at the whole second the test had stepped to, up to one
      // late under load, so a gap reads up to one second long and the next one up to one short.
      gaps.slice(1).forEach((gap, i) => {
        expect(gap, `gaps ${gaps.join(', ')} s`).toBeGreaterThanOrEqual((gaps[i] as number) - 2);
      });
      expect(gaps.at(-1)).toBeGreaterThanOrEqual(15);

      // Hidden: not a single request, however long; shown again: one at once.
      await setHidden(page, true);
      const hiddenFrom = seen.length;
      await runSeconds(page, open, 120);
      expect(seen.length).toBe(hiddenFrom);
      await Promise.all([
        page.waitForRequest((r) => r.url().endsWith('/2fa/status'), { timeout: 5_000 }),
        setHidden(page, false),
      ]);
    });
  });
});
