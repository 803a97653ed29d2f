import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Demo } from '../../demo/app.js';
import {
  axeViolations,
  describeBrowser,
  describeViolations,
  inboxCode,
  launchChromium,
  openContext,
  PROFILES,
  phoneOf,
  serverClock,
  signIn,
  startDemo,
} from '../helpers/browser.js';

/** Signs dave (no number on file) in; the guard sends him to enrollment. */
async function signInWithoutPhone(page: Page, demo: Demo): Promise<void> {
  await page.goto(`${demo.url}/account`);
  await page.waitForURL(/\/login$/);
  await page.fill('#username', 'dave');
  await page.fill('#password', demo.users.find((u) => u.username === 'dave')?.password ?? '');
  await Promise.all([
    page.waitForURL(/\/2fa\/enroll\?returnTo=%2Faccount$/),
    page.click('button[type=submit]'),
  ]);
}

describeBrowser('enrollment and phone change in Chromium', { timeout: 90_000 }, () => {
  let browser: Browser;
  let demo: Demo | undefined;
  let harness: Awaited<ReturnType<typeof openContext>> | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    const problems = harness?.problems() ?? [];
    await harness?.close();
    await demo?.close();
    harness = undefined;
    demo = undefined;
    expect(problems, 'no CSP violation and no 404 on any page').toEqual([]);
  });

  describe.each(PROFILES)('$name', ({ context: profile }) => {
    it('a user without a number types it in the national format, sees it formatted as typed, and gets in with the code', async () => {
      demo = await startDemo();
      harness = await openContext(browser, profile);
      const page = await harness.newPage();
      await signInWithoutPhone(page, demo);
      expect(await page.locator('h1').textContent()).toBe('Add your mobile number');
      expect(await page.locator('#tfa-country').inputValue()).toBe('BE');
      await page.locator('#tfa-phone').pressSequentially('0470123499');
      expect(await page.locator('#tfa-phone').inputValue()).toBe('0470 12 34 99');
      // Another country formats the same digits its own way.
      await page.locator('#tfa-phone').fill('');
      await page.selectOption('#tfa-country', 'NL');
      await page.locator('#tfa-phone').pressSequentially('0612345679');
      expect(await page.locator('#tfa-phone').inputValue()).toBe('06 12345679');
      // The form posts back to the page's own URL: wait for the click's navigation, not for a URL
      // the page already has (that wait returned at once, and the next step raced the post).
      await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
      expect(page.url()).toMatch(/\/2fa\/enroll\?returnTo=%2Faccount$/);
      expect(await page.locator('#tfa-intro').textContent()).toContain('+31 6 ••••••79');

      const code = await inboxCode(demo, '+31612345679');
      await page.locator('#tfa-code').fill(code);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      expect(await page.locator('h1').textContent()).toBe('Welcome, Dave');
      expect(phoneOf(demo, 'dave')).toBe('+31612345679');
    });
  });

  it('passes axe on the number form, the code form and the re-verify state (light and dark)', async () => {
    demo = await startDemo();
    for (const colorScheme of ['light', 'dark'] as const) {
      // axe is injected as an inline script: the page's CSP is bypassed for it only here.
      harness = await openContext(browser, { colorScheme, bypassCSP: true });
      const page = await harness.newPage();
      await signInWithoutPhone(page, demo);
      expect(describeViolations(await axeViolations(page)), `${colorScheme} number form`).toEqual([]);
      await page.fill('#tfa-phone', '0470 12 34 99');
      // The form posts back to the page's own URL: wait for the click's navigation, not for a URL
      // the page already has (that wait returned at once, and the next step raced the post).
      await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
      expect(page.url()).toMatch(/\/2fa\/enroll\?returnTo=%2Faccount$/);
      expect(describeViolations(await axeViolations(page)), `${colorScheme} code form`).toEqual([]);
      await harness.close();
      harness = await openContext(browser, { colorScheme, bypassCSP: true });
      const alice = await harness.newPage();
      await signIn(alice, demo, 'alice');
      await alice.goto(`${demo.url}/2fa/enroll`);
      expect(await alice.locator('#tfa-reverify-link').count()).toBe(1);
      expect(describeViolations(await axeViolations(alice)), `${colorScheme} re-verify`).toEqual([]);
      await harness.close();
      harness = undefined;
    }
  });

  it('works without JavaScript: plain forms, a wrong code said on the page', async () => {
    demo = await startDemo();
    harness = await openContext(browser, { javaScriptEnabled: false });
    const page = await harness.newPage();
    await signInWithoutPhone(page, demo);
    await page.fill('#tfa-phone', '0470 12 34 99');
    // A post back to the page's own URL: wait for its navigation, not for a URL the page already has.
    await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
    const code = await inboxCode(demo, '+32470123499');
    await page.fill(
      '#tfa-code',
      code.replace(/\d$/, (d) => String((Number(d) + 1) % 10)),
    );
    await Promise.all([page.waitForNavigation(), page.click('#tfa-verify')]);
    expect(await page.locator('#tfa-error').textContent()).toBe('That code is not right.');
    await page.fill('#tfa-code', code);
    await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
    expect(phoneOf(demo, 'dave')).toBe('+32470123499');
  });

  it('alice changes her number from the account page; the old number gets the notice; the sensitive action passes', async () => {
    demo = await startDemo();
    harness = await openContext(browser);
    const page = await harness.newPage();
    const old = phoneOf(demo, 'alice');
    await signIn(page, demo, 'alice');
    await page.fill('#tfa-code', await inboxCode(demo, old));
    await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);

    await Promise.all([page.waitForURL(/\/account\/sensitive$/), page.click('#sensitive')]);
    expect(await page.locator('#sensitive-done').textContent()).toContain('Done, Alice');
    await page.goto(`${demo.url}/account`);

    await Promise.all([page.waitForURL(/\/2fa\/enroll\?returnTo=%2Faccount$/), page.click('#change-phone')]);
    expect(await page.locator('h1').textContent()).toBe('Change your mobile number');
    await page.locator('#tfa-phone').pressSequentially('0471556677');
    // The form posts back to the page's own URL: wait for the click's navigation, not for a URL
    // the page already has (that wait returned at once, and the next step raced the post).
    await Promise.all([page.waitForNavigation(), page.click('#tfa-send')]);
    expect(page.url()).toMatch(/\/2fa\/enroll\?returnTo=%2Faccount$/);
    await page.fill('#tfa-code', await inboxCode(demo, '+32471556677'));
    await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
    expect(phoneOf(demo, 'alice')).toBe('+32471556677');
    const inbox = await (await fetch(`${demo.url}/phone/inbox`)).text();
    expect(inbox).toContain('was changed to a number ending in 77');
  });

  it('step-up: a stale browser opening the sensitive action gets a new code on /2fa (no "verified" loop) and comes back', async () => {
    const clock = serverClock();
    demo = await startDemo({ twoFactor: { now: clock.now } });
    harness = await openContext(browser);
    const page = await harness.newPage();
    const phone = phoneOf(demo, 'alice');
    await signIn(page, demo, 'alice');
    const first = await inboxCode(demo, phone);
    await page.fill('#tfa-code', first);
    await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
    clock.advance(3 * 60_000);
    await Promise.all([
      page.waitForURL(/\/2fa\?returnTo=%2Faccount%2Fsensitive&within=120000$/),
      page.click('#sensitive'),
    ]);
    // The page sends by itself, with the hint: a new code, not "verified".
    await page.locator('#tfa-code:enabled').waitFor();
    await vi.waitFor(async () => expect(await inboxCode(demo as Demo, phone)).not.toBe(first), {
      timeout: 10_000,
    });
    await page.fill('#tfa-code', await inboxCode(demo, phone));
    await Promise.all([page.waitForURL(`${demo.url}/account/sensitive`), page.click('#tfa-verify')]);
    expect(await page.locator('#sensitive-done').textContent()).toContain('Done, Alice');
  });
});
