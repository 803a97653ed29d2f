import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import type { Demo } from '../../demo/app.js';
import {
  axeViolations,
  closeContext,
  describeBrowser,
  describeViolations,
  launchChromium,
  phoneOf,
  readCode,
  signIn,
  startDemo,
} from '../helpers/browser.js';

describeBrowser(
  'remembered devices and recovery codes in Chromium, against the demo',
  { timeout: 90_000 },
  () => {
    let browser: Browser;
    let demo: Demo | undefined;
    let context: BrowserContext | undefined;
    const cspErrors: string[] = [];

    beforeAll(async () => {
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
    });
    afterEach(async () => {
      await closeContext(context);
      await demo?.close();
      context = undefined;
      demo = undefined;
      expect(cspErrors, 'no Content-Security-Policy violation on any page').toEqual([]);
      cspErrors.length = 0;
    });

    async function open(javaScriptEnabled = true): Promise<Page> {
      context = await browser.newContext({ javaScriptEnabled });
      const page = await context.newPage();
      page.on('console', (message) => {
        if (/Content.Security.Policy/i.test(message.text())) cspErrors.push(message.text());
      });
      return page;
    }

    /** Signs out, then in again with the password: a new first-factor session in the same browser. */
    async function signInAgain(page: Page, d: Demo, username: string): Promise<void> {
      await page.click('form[action="/logout"] button');
      await page.waitForURL(/\/login\?signed-out$/);
      await page.fill('#username', username);
      await page.fill('#password', d.users.find((u) => u.username === username)?.password ?? '');
      await page.click('button[type=submit]');
    }

    const smsCount = (d: Demo) => d.fake?.messages.filter((m) => m.channel === 'sms').length ?? 0;

    it('the box is unchecked; checked, the next sign-in on this device skips the SMS; revoked, it asks again', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');
      const box = page.locator('#tfa-remember');
      await box.waitFor();
      expect(await box.isChecked()).toBe(false);
      expect(await page.locator('label[for="tfa-remember"]').textContent()).toBe(
        "Don't ask again on this device for 30 days",
      );
      const code = await readCode(context as BrowserContext, demo, phoneOf(demo, 'alice'));
      await page.fill('#tfa-code', code);
      await page.click('label[for="tfa-remember"]'); // the label checks it: a big enough target
      expect(await box.isChecked()).toBe(true);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      await page.locator('#devices li.device').first().waitFor();
      expect(await page.locator('#devices li.device').count()).toBe(1);

      const sent = smsCount(demo);
      await signInAgain(page, demo, 'alice');
      await page.waitForURL(`${demo.url}/account`);
      expect(await page.locator('#verified-by').textContent()).toContain('this remembered device');
      expect(smsCount(demo)).toBe(sent);

      // Back on /account after the post: waiting for the same URL could race the navigation.
      await page.click('#devices button.revoke');
      await page.locator('#no-devices').waitFor();
      await signInAgain(page, demo, 'alice');
      await page.waitForURL(/\/2fa\?returnTo=%2Faccount$/);
      await page.locator('#tfa-code').waitFor({ state: 'visible' });
    });

    it('without JavaScript the box is a plain checkbox in the form, and works', async () => {
      demo = await startDemo();
      const page = await open(false);
      await signIn(page, demo, 'alice');
      await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
      const code = await readCode(context as BrowserContext, demo, phoneOf(demo, 'alice'));
      await page.fill('#tfa-code', code);
      await page.check('#tfa-remember');
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      const sent = smsCount(demo);
      await signInAgain(page, demo, 'alice');
      await page.waitForURL(`${demo.url}/account`);
      expect(smsCount(demo)).toBe(sent);
    });

    it('recovery codes: generated on the account page, then "Use a recovery code" signs in with one', async () => {
      demo = await startDemo();
      // axe is injected into the pages, which their CSP would refuse: this context bypasses it.
      context = await browser.newContext({ bypassCSP: true });
      const page = await context.newPage();
      const accessible = async () => expect(describeViolations(await axeViolations(page))).toEqual([]);
      await signIn(page, demo, 'alice');
      const code = await readCode(context as BrowserContext, demo, phoneOf(demo, 'alice'));
      await page.fill('#tfa-code', code);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      await Promise.all([
        page.waitForURL(`${demo.url}/2fa/recovery/generate`),
        page.click('#generate-codes'),
      ]);
      const codes = await page.locator('#tfa-codes code').allTextContents();
      expect(codes).toHaveLength(10);
      await accessible();
      // With JavaScript, Copy and Print appear; Download is a link either way.
      expect(await page.locator('#tfa-copy').isVisible()).toBe(true);
      expect(await page.locator('#tfa-print').isVisible()).toBe(true);
      expect(await page.locator('#tfa-download').getAttribute('download')).toBe('recovery-codes.txt');
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-codes-done')]);
      expect(await page.locator('#codes-left').textContent()).toBe('10 unused recovery codes left.');

      await signInAgain(page, demo, 'alice');
      await page.waitForURL(/\/2fa\?returnTo=%2Faccount$/);
      await accessible(); // the challenge page, with its box and link
      await Promise.all([page.waitForURL(/\/2fa\/recovery\?/), page.click('#tfa-use-recovery')]);
      await accessible();
      await page.fill('#tfa-recovery-code', (codes[4] as string).toUpperCase());
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-recovery-submit')]);
      expect(await page.locator('#verified-by').textContent()).toContain('one of your recovery codes');
      expect(await page.locator('#codes-left').textContent()).toBe('9 unused recovery codes left.');
    });
  },
);
