import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../../demo/app.js';
import {
  describeBrowser,
  inboxCode,
  launchChromium,
  openContext,
  PROFILES,
  phoneOf,
  signIn,
  startDemo,
} from '../helpers/browser.js';

const cardBox = async (page: Page) => {
  const box = await page.locator('main').boundingBox();
  if (!box) throw new Error(`no card on ${page.url()}`);
  return { x: Math.round(box.x), y: Math.round(box.y), width: Math.round(box.width) };
};

describeBrowser("the demo's own pages, as finished as the challenge page", { timeout: 90_000 }, () => {
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

    it('puts the card in the same place at the same width on every page; sign-out is a real button and says so', async () => {
      demo = await startDemo();
      harness = await openContext(browser, profile);
      const page = await harness.newPage();
      await page.goto(`${demo.url}/login`);
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('username');
      const login = await cardBox(page);

      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code:enabled').waitFor();
      expect(await cardBox(page)).toEqual(login);
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      await page.fill('#tfa-code', code);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      expect(await cardBox(page)).toEqual(login);

      // Sign out: as wide as the card's other buttons, and the login page confirms it.
      const signOut = page.getByRole('button', { name: 'Sign out' });
      const button = await signOut.boundingBox();
      const content = await page.locator('main').evaluate((main) => {
        const s = getComputedStyle(main);
        return main.clientWidth - Number.parseFloat(s.paddingLeft) - Number.parseFloat(s.paddingRight);
      });
      expect(Math.round(button?.width ?? 0)).toBe(Math.round(content));
      await Promise.all([page.waitForURL(/\/login/), signOut.click()]);
      await page.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
      expect(await cardBox(page)).toEqual(login);

      for (const path of ['/phone', '/other-ways']) {
        await page.goto(`${demo.url}${path}`);
        expect(await cardBox(page), path).toEqual(login);
      }
    });

    it("offers a way out on the challenge page (page.signOut): the demo's sign-out, confirmed", async () => {
      demo = await startDemo();
      harness = await openContext(browser, profile);
      const page = await harness.newPage();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code:enabled').waitFor();
      await Promise.all([page.waitForURL(/\/login\?signed-out/), page.click('#tfa-sign-out button')]);
      await page.getByRole('status').filter({ hasText: 'You are signed out.' }).waitFor();
      await page.goto(`${demo.url}/2fa`);
      await page.waitForURL(/\/login/);
    });

    it('on the phone: no big code on an SMS that never arrived, and whose number each message went to', async () => {
      demo = await startDemo();
      harness = await openContext(browser, profile);
      const page = await harness.newPage();
      await signIn(page, demo, 'carol');
      await inboxCode(demo, phoneOf(demo, 'carol'), 'voice');
      await page.goto(`${demo.url}/phone`);
      const sms = page.locator('li.msg[data-channel="sms"]');
      await sms.waitFor();
      await expect.poll(() => sms.getAttribute('data-status')).toBe('not delivered');
      expect(await sms.locator('.msg-code').count()).toBe(0);
      expect(await sms.textContent()).toContain('never reached the phone');
      const call = page.locator('li.msg[data-channel="voice"]');
      expect(await call.locator('.msg-code').count()).toBe(1);
      for (const message of [sms, call]) expect(await message.textContent()).toContain('Carol');
    });
  });
});
