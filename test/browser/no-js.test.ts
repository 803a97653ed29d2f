import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../../demo/app.js';
import {
  describeBrowser,
  inboxCode,
  launchChromium,
  openContext,
  PROFILES,
  phoneOf,
  serverClock,
  signIn,
  startDemo,
  wrongCode,
} from '../helpers/browser.js';

/** How a button acts right now: whether it takes clicks, and its border (dashed while it waits). */
const acts = (button: Locator) =>
  button.evaluate((b) => `${getComputedStyle(b).pointerEvents} ${getComputedStyle(b).borderTopStyle}`);

/** The seconds the page's own CSS gives an element to wait (`#id{--tfa-w:N}`). */
const waitOf = async (page: Page, id: string) =>
  Number((await page.content()).match(new RegExp(`#${id}\\{--tfa-w:(\\d+)\\}`))?.[1]);

// Each form post is awaited with waitForNavigation: the page is already on /2fa, so waiting for
// that URL returned before the post's navigation ended, and the next reload hit a detached page.
describeBrowser('the challenge page without JavaScript, in Chromium', { timeout: 90_000 }, () => {
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

    async function open() {
      harness = await openContext(browser, { ...profile, javaScriptEnabled: false });
      return harness.newPage();
    }

    it('shows no number that would freeze: a waiting button waits in CSS, and an early post says to wait', async () => {
      const clock = serverClock();
      demo = await startDemo({ twoFactor: { now: clock.now } });
      const page = await open();
      await signIn(page, demo, 'alice');
      // Posted from the URL it waits for: the click's own navigation, or the next step races the post.
      await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
      const resend = page.locator('#tfa-resend');
      expect(await resend.textContent()).toBe('Send the SMS again');
      expect(await acts(resend)).toBe('none dashed');
      expect(await waitOf(page, 'tfa-resend')).toBe(30);

      // Sent early anyway (by keyboard): the answer says to wait; the button still waits.
      await Promise.all([page.waitForNavigation(), resend.press('Enter')]);
      expect(await page.locator('#tfa-error').textContent()).toBe('Please wait before asking again.');
      expect(await acts(resend)).toBe('none dashed');
      expect(demo.fake?.messages).toHaveLength(1);

      // Five seconds before the server allows it, the page says five; then the button is usable.
      clock.advance(25_000);
      await page.reload();
      expect(await waitOf(page, 'tfa-resend')).toBeLessThanOrEqual(5);
      await expect.poll(() => acts(resend), { timeout: 15_000 }).toBe('auto solid');
      await Promise.all([page.waitForNavigation(), resend.click()]);
      expect(demo.fake?.messages).toHaveLength(2);
    });

    it('shows an error once: it is not in the address and a reload does not bring it back', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');
      await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      await page.fill('#tfa-code', wrongCode(code));
      await Promise.all([page.waitForNavigation(), page.click('#tfa-verify')]);
      const error = page.locator('#tfa-error');
      expect(await error.textContent()).toBe('That code is not right. 4 attempts left.');
      expect(page.url()).not.toContain('error=');
      await page.reload();
      expect(await error.textContent()).toBe('');
      expect(await page.locator('#tfa-code').getAttribute('aria-invalid')).toBeNull();
    });

    it('renders the truthful state after a reload: expired, too many wrong codes, locked', async () => {
      const clock = serverClock();
      demo = await startDemo({ twoFactor: { now: clock.now, lockout: { threshold: 10 } } });
      const page = await open();
      await signIn(page, demo, 'alice');
      await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
      clock.advance(5 * 60_000);
      await page.reload();
      const error = page.locator('#tfa-error');
      expect(await error.textContent()).toBe('That code has expired. Ask for a new code.');
      expect(await page.locator('#tfa-send').isVisible()).toBe(true);
      expect(await page.locator('#tfa-verify').isVisible()).toBe(false);

      await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      for (let i = 0; i < 5; i++) {
        await page.fill('#tfa-code', wrongCode(code));
        await Promise.all([page.waitForNavigation(), page.click('#tfa-verify')]);
      }
      expect(await error.textContent()).toBe('Too many wrong codes. Ask for a new code.');
      await page.reload();
      expect(await error.textContent()).toBe('Too many wrong codes. Ask for a new code.');
      expect(await page.locator('#tfa-send').isVisible()).toBe(true);
    });

    it('during the failure delay, Verify waits (without a number) and its message goes when the wait does', async () => {
      demo = await startDemo({ twoFactor: { lockout: { threshold: 1, baseMs: 60_000 } } });
      const page = await open();
      await signIn(page, demo, 'alice');
      await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      await page.fill('#tfa-code', wrongCode(code));
      await Promise.all([page.waitForNavigation(), page.click('#tfa-verify')]);
      await page.reload();
      const verify = page.locator('#tfa-verify');
      expect(await page.locator('#tfa-error').textContent()).toBe(
        'Too many wrong codes. Please wait before trying again.',
      );
      expect(await verify.textContent()).toBe('Verify');
      expect(await acts(verify)).toBe('none dashed');
      expect(await waitOf(page, 'tfa-verify')).toBeGreaterThan(50);
      expect(await waitOf(page, 'tfa-error')).toBe(await waitOf(page, 'tfa-verify'));
      expect(await page.locator('#tfa-error').getAttribute('class')).toContain('tfa-until');
    });
  });
});
