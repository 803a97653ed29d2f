import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Demo } from '../../demo/app.js';
import {
  closeContext,
  describeBrowser,
  inboxCode,
  launchChromium,
  phoneOf,
  readCode,
  signIn,
  startDemo,
  wrongCode,
} from '../helpers/browser.js';

describeBrowser('the challenge page in Chromium, against the demo', { timeout: 60_000 }, () => {
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

  async function open(options: Parameters<Browser['newContext']>[0] = {}): Promise<Page> {
    context = await browser.newContext(options);
    const page = await context.newPage();
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) cspErrors.push(message.text());
    });
    return page;
  }

  describe('with JavaScript', () => {
    it('login → /2fa sends once by itself → code read on /phone → typed → /account', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');

      const field = page.locator('#tfa-code');
      await field.waitFor({ state: 'visible' });
      await page.locator('#tfa-intro', { hasText: 'We sent a code by SMS to +32 4•• •• •• 01' }).waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('tfa-code');
      expect(await field.getAttribute('autocomplete')).toBe('one-time-code');
      expect(await field.getAttribute('inputmode')).toBe('numeric');
      // The countdowns run: both buttons wait, and say for how long.
      expect(await page.locator('#tfa-resend').isDisabled()).toBe(true);
      expect(await page.locator('#tfa-resend').textContent()).toMatch(/^Send the SMS again in\s0:[0-3]\d$/);
      // The delivery report arrives at the demo's webhook; the page polls and says so.
      await page.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();

      // A reload shows the live challenge again and sends nothing.
      await page.reload();
      await page.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('tfa-code');

      const code = await readCode(context as BrowserContext, demo, phoneOf(demo, 'alice'));
      await field.fill(code);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      expect(await page.locator('h1').textContent()).toBe('Welcome, Alice');
      expect(await page.locator('main').textContent()).toContain('code sent by SMS');
      expect(demo.fake?.messages.filter((m) => m.channel === 'sms')).toHaveLength(1);
    });

    it('shows errors inline: Retry-After on an early resend, attempts left on a wrong code', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code').waitFor({ state: 'visible' });
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));

      // The button waits; a forced early submit gets the server's 429; the button says how long.
      await page.evaluate(() =>
        (document.getElementById('tfa-form') as HTMLFormElement).requestSubmit(
          document.getElementById('tfa-resend') as HTMLButtonElement,
        ),
      );
      await page.locator('#tfa-error', { hasText: /^Please wait before asking again\.$/ }).waitFor();
      expect(await page.locator('#tfa-resend').textContent()).toMatch(/^Send the SMS again in\s0:[0-3]\d$/);
      expect(demo.fake?.messages).toHaveLength(1);

      await page.fill('#tfa-code', wrongCode(code));
      await page.press('#tfa-code', 'Enter');
      const error = page.locator('#tfa-error[role=alert]', { hasText: '4 attempts left.' });
      await error.waitFor();
      expect(await error.textContent()).toBe('That code is not right. 4 attempts left.');
      expect(await page.locator('#tfa-code').getAttribute('aria-invalid')).toBe('true');
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('tfa-code');
      expect(page.url()).toContain('/2fa');

      await page.fill('#tfa-code', code);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.press('#tfa-code', 'Enter')]);
    });

    it('"call me instead" counts down, unlocks, places the call, and the spoken code verifies', async () => {
      demo = await startDemo({ voiceAfterMs: 2_000 });
      const page = await open();
      await signIn(page, demo, 'alice');
      const voice = page.locator('#tfa-voice');
      await page.locator('#tfa-code').waitFor({ state: 'visible' });
      expect(await voice.isDisabled()).toBe(true);
      expect(await voice.textContent()).toMatch(/^Call me instead in\s0:0[12]$/);

      await page.locator('#tfa-voice:enabled', { hasText: /^Call me instead$/ }).waitFor();
      await voice.click();
      await page.locator('#tfa-status', { hasText: 'Calling you now…' }).waitFor();
      await page.locator('#tfa-intro', { hasText: 'We are calling' }).waitFor();

      const spoken = await inboxCode(demo, phoneOf(demo, 'alice'), 'voice');
      expect(spoken).toBe(demo.fake?.lastCode(phoneOf(demo, 'alice')));
      await page.fill('#tfa-code', spoken);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      expect(await page.locator('main').textContent()).toContain('code sent by voice call');
    });

    it('fills in and submits the code from WebOTP where the browser offers it', async () => {
      demo = await startDemo();
      const page = await open();
      // Chromium only delivers WebOTP on Android: stand in for the SMS retriever.
      await page.addInitScript(() => {
        const w = window as unknown as Record<string, unknown>;
        w.OTPCredential = function OTPCredential() {};
        Object.defineProperty(navigator.credentials, 'get', {
          value: (options: { otp?: { transport?: string[] }; signal?: AbortSignal }) =>
            new Promise((resolve, reject) => {
              w.otpRequest = {
                transport: options.otp?.transport,
                signal: options.signal instanceof AbortSignal,
              };
              w.deliverOtp = (code: string) => resolve({ type: 'otp', code });
              options.signal?.addEventListener('abort', () =>
                reject(new DOMException('aborted', 'AbortError')),
              );
            }),
        });
      });
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code').waitFor({ state: 'visible' });
      await page.waitForFunction(() => 'deliverOtp' in window);
      expect(await page.evaluate(() => (window as unknown as { otpRequest: unknown }).otpRequest)).toEqual({
        transport: ['sms'],
        signal: true,
      });
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      await Promise.all([
        page.waitForURL(`${demo.url}/account`),
        page.evaluate((c) => (window as unknown as { deliverOtp: (c: string) => void }).deliverOtp(c), code),
      ]);
    });

    it('links to another way to sign in, and back to the live challenge without a second send', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code').waitFor({ state: 'visible' });
      await Promise.all([
        page.waitForURL(`${demo.url}/other-ways`),
        page.click('text=Use another way to sign in'),
      ]);
      expect(await page.locator('h1').textContent()).toBe('Other ways to sign in');
      await Promise.all([page.waitForURL(`${demo.url}/2fa`), page.click('text=Back to the code')]);
      await page.locator('#tfa-intro', { hasText: 'We sent a code by SMS' }).waitFor();
      expect(demo.fake?.messages).toHaveLength(1);
    });

    it('calls by itself when the SMS fails at the provider (bob)', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'bob');
      await page
        .locator('#tfa-intro', {
          hasText: 'The SMS to +32 4•• •• •• 02 could not be sent, so we are calling you',
        })
        .waitFor();
      expect(demo.fake?.messages.map((m) => m.channel)).toEqual(['voice']);

      const spoken = await inboxCode(demo, phoneOf(demo, 'bob'), 'voice');
      await page.fill('#tfa-code', spoken);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      expect(await page.locator('h1').textContent()).toBe('Welcome, Bob');
    });

    it('says the SMS was not delivered and calls instead when the report says so (carol)', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'carol');
      // The fake reports the call delivered quickly too, so the status may already say so.
      await page.locator('#tfa-status', { hasText: /^(Calling you now…|We called you\.)$/ }).waitFor();
      await page
        .locator('#tfa-intro', {
          hasText: 'The SMS to +31 6 ••••••78 was not delivered, so we are calling you',
        })
        .waitFor();

      const spoken = await inboxCode(demo, phoneOf(demo, 'carol'), 'voice');
      await page.fill('#tfa-code', spoken);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
    });
  });

  describe('without JavaScript', () => {
    it('GET sends nothing; "Text me a code" posts the form; the code verifies by form post', async () => {
      demo = await startDemo();
      const page = await open({ javaScriptEnabled: false });
      await signIn(page, demo, 'alice');
      expect(demo.fake?.messages).toHaveLength(0);
      expect(await page.locator('#tfa-code').isDisabled()).toBe(true);

      await Promise.all([page.waitForURL(`${demo.url}/2fa`), page.click('#tfa-send')]);
      expect(demo.fake?.messages).toHaveLength(1);
      await page.locator('#tfa-code').waitFor({ state: 'visible' });
      expect(await page.locator('#tfa-intro').textContent()).toBe(
        'We sent a code by SMS to +32 4•• •• •• 01.',
      );

      const code = await readCode(context as BrowserContext, demo, phoneOf(demo, 'alice'));
      await page.fill('#tfa-code', wrongCode(code));
      await Promise.all([page.waitForURL(/\/2fa\?returnTo=/), page.click('#tfa-verify')]);
      expect(await page.locator('#tfa-error').textContent()).toContain('4 attempts left.');

      await page.fill('#tfa-code', code);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
      expect(await page.locator('h1').textContent()).toBe('Welcome, Alice');
    });
  });
});
