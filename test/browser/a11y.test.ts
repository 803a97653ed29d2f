import type { Browser, Page, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  axeViolations,
  describeBrowser,
  describeViolations,
  inboxCode,
  launchChromium,
  phoneOf,
  signIn,
  startDemo,
  wrongCode,
} from '../helpers/browser.js';

const expectNoViolations = async (page: Page, state: string) => {
  const violations = await axeViolations(page);
  expect(describeViolations(violations), `axe-core violations ${state}`).toEqual([]);
};

describeBrowser('accessibility of the challenge page (axe-core)', { timeout: 60_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  describe.each(['light', 'dark'] as const)('in the %s colour scheme', (colorScheme) => {
    it('has no violations before the send, while sending, with a live challenge and after a wrong code', async () => {
      const demo = await startDemo();
      // The page's CSP allows no injected script: bypass it for the axe run only.
      const context = await browser.newContext({ colorScheme, bypassCSP: true });
      try {
        const page = await context.newPage();
        // Hold the automatic send, to check the page before and while it sends.
        let release: (() => void) | undefined;
        await page.route('**/2fa/send', (route: Route) => {
          release = () => void route.continue();
        });
        await signIn(page, demo, 'alice');
        await page.locator('#tfa-status', { hasText: 'Sending a code…' }).waitFor();
        expect(await page.locator('#tfa-code').isDisabled()).toBe(true);
        await expectNoViolations(page, 'while sending');

        release?.();
        await page.locator('#tfa-code').waitFor({ state: 'visible' });
        await page.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();
        await expectNoViolations(page, 'with a live challenge');

        const code = await inboxCode(demo, phoneOf(demo, 'alice'));
        await page.fill('#tfa-code', wrongCode(code));
        await page.press('#tfa-code', 'Enter');
        await page.locator('#tfa-error', { hasText: '4 attempts left.' }).waitFor();
        await expectNoViolations(page, 'after a wrong code');
      } finally {
        await context.close();
        await demo.close();
      }
    });
  });

  it('has no violations on the demo login, phone and other-ways pages', async () => {
    const demo = await startDemo();
    const context = await browser.newContext({ bypassCSP: true });
    try {
      const page = await context.newPage();
      await page.goto(`${demo.url}/login`);
      await expectNoViolations(page, 'on /login');
      await page.goto(`${demo.url}/phone`);
      await expectNoViolations(page, 'on /phone');
      await page.goto(`${demo.url}/other-ways`);
      await expectNoViolations(page, 'on /other-ways');
    } finally {
      await context.close();
      await demo.close();
    }
  });
});
