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
  setHidden,
  signIn,
  startDemo,
  wrongCode,
} from '../helpers/browser.js';

/** The seconds an `m:ss` label ends with ("Verify in 1:05" → 65). */
const secondsIn = (label: string | null) => {
  const [, m, s] = label?.match(/(\d+):(\d\d)$/) ?? [];
  return m === undefined ? Number.NaN : Number(m) * 60 + Number(s);
};

/** `#rrggbb` as the `rgb(r, g, b)` a computed colour reads. */
const rgb = (hex: string) => {
  const n = Number.parseInt(hex.trim().slice(1), 16);
  return `rgb(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255})`;
};

const colourOf = (locator: Locator) => locator.evaluate((node) => getComputedStyle(node).color);
const successColour = async (page: Page) =>
  rgb(await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--tfa-ok')));

async function typeWrong(page: Page, code: string) {
  await page.fill('#tfa-code', wrongCode(code));
  await page.press('#tfa-code', 'Enter');
}

describeBrowser('the challenge page in every state, in Chromium', { timeout: 90_000 }, () => {
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

    async function open(): Promise<Page> {
      harness = await openContext(browser, profile);
      return harness.newPage();
    }

    it('says "Too many wrong codes" on the fifth wrong code and keeps saying it; "1 attempt left" before', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code:enabled').waitFor();
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      const error = page.locator('#tfa-error');
      for (const left of ['4 attempts left.', '3 attempts left.', '2 attempts left.', '1 attempt left.']) {
        await typeWrong(page, code);
        await page.locator('#tfa-error', { hasText: left }).waitFor();
      }
      await typeWrong(page, code);
      await expect.poll(() => error.textContent()).toBe('Too many wrong codes. Ask for a new code.');

      // A status check later (the tab shown again) does not turn it into "No code is pending".
      await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/2fa/status')),
        setHidden(page, true).then(() => setHidden(page, false)),
      ]);
      expect(await error.textContent()).toBe('Too many wrong codes. Ask for a new code.');
      // Five wrong codes also start the account's delay: the button says when a new code can come.
      const send = page.locator('#tfa-send');
      await expect.poll(() => send.textContent()).toMatch(/^Text me a code in\s[01]:\d\d$/);
      expect(await send.isDisabled()).toBe(true);
      expect(await page.locator('#tfa-code').isEnabled()).toBe(false);
    });

    it('says the code expired when it expires while the page is open, even when the server saw it first', async () => {
      const clock = serverClock();
      demo = await startDemo({ twoFactor: { now: clock.now } });
      const page = await open();
      await page.clock.install();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();

      // The server's code has expired; the page, which rounds the other way, has half a second left.
      clock.advance(5 * 60_000 + 1);
      await page.clock.fastForward(5 * 60_000 - 500);
      await setHidden(page, true);
      await setHidden(page, false);
      const error = page.locator('#tfa-error');
      await expect
        .poll(() => error.textContent(), { timeout: 5_000 })
        .toBe('That code has expired. Ask for a new code.');
      await page.locator('#tfa-send:enabled', { hasText: /^Text me a code$/ }).waitFor();

      // And when the page's own countdown ends, the same words.
      await page.click('#tfa-send');
      await page.locator('#tfa-code:enabled').waitFor();
      clock.advance(5 * 60_000 + 1_000);
      await page.clock.fastForward(5 * 60_000 + 1_000);
      await expect.poll(() => error.textContent()).toBe('That code has expired. Ask for a new code.');
    });

    it('during the failure delay: one message, Verify disabled and counting down, no sends', async () => {
      const clock = serverClock();
      demo = await startDemo({
        voiceAfterMs: 0,
        resendCooldownMs: 1_000,
        twoFactor: { now: clock.now, lockout: { threshold: 2, baseMs: 60_000 } },
      });
      const page = await open();
      await page.clock.install();
      await signIn(page, demo, 'alice');
      // Delivered: the page polls no more, so no status check of its own is out when the clocks move.
      await page.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      await typeWrong(page, code);
      await page.locator('#tfa-error', { hasText: '4 attempts left.' }).waitFor();
      await typeWrong(page, code);

      const error = page.locator('#tfa-error');
      await expect
        .poll(() => error.textContent())
        .toBe('Too many wrong codes. Please wait before trying again.');
      const verify = page.locator('#tfa-verify');
      await expect.poll(() => verify.textContent()).toMatch(/^Verify in\s[01]:\d\d$/);
      expect(await verify.isDisabled()).toBe(true);
      const first = secondsIn(await verify.textContent());
      clock.advance(5_000);
      await page.clock.fastForward(5_000);
      await expect.poll(async () => secondsIn(await verify.textContent())).toBeLessThanOrEqual(first - 4);
      expect(await error.textContent()).toBe('Too many wrong codes. Please wait before trying again.');

      // No sends while the account waits: the buttons wait as long, and a forced post is refused.
      // Each refusal makes the page check the status; both answers are in before the clocks move
      // below: one the server gave before the move but the page read after it would hold a wait
      // the jump already ended (Verify then stays off for the rest of the delay, in real time).
      expect(await page.locator('#tfa-resend').isDisabled()).toBe(true);
      expect(await page.locator('#tfa-voice').isDisabled()).toBe(true);
      for (const button of ['tfa-resend', 'tfa-voice']) {
        const path = `/2fa/${button.slice(4)}`;
        const [refused] = await Promise.all([
          page.waitForResponse((r) => r.url().endsWith(path)),
          page.waitForResponse((r) => r.url().endsWith('/2fa/status')).then((r) => r.finished()),
          page.evaluate(
            (id) =>
              (document.getElementById('tfa-form') as HTMLFormElement).requestSubmit(
                document.getElementById(id) as HTMLButtonElement,
              ),
            button,
          ),
        ]);
        expect(refused.status()).toBe(429);
      }
      const refused = await page.evaluate(async () => {
        const res = await fetch('/2fa/voice', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{}',
        });
        return { status: res.status, body: await res.json() };
      });
      expect(refused).toMatchObject({ status: 429, body: { error: { code: 'ERR_2FA_LOCKED' } } });
      expect(demo.fake?.messages).toHaveLength(1);

      // When the delay is over, Verify is back.
      clock.advance(60_000);
      await page.clock.fastForward(60_000);
      await page.locator('#tfa-verify:enabled', { hasText: /^Verify$/ }).waitFor();
    });

    it('after "Call me instead": "Call me again" in m:ss, and the hint speaks of the call', async () => {
      demo = await startDemo({ voiceAfterMs: 0 });
      const page = await open();
      await signIn(page, demo, 'alice');
      const voice = page.locator('#tfa-voice');
      await page.locator('#tfa-voice:enabled', { hasText: /^Call me instead$/ }).click();
      await page.locator('#tfa-intro', { hasText: 'We are calling +32 4•• •• •• 01' }).waitFor();
      await expect.poll(() => voice.textContent()).toMatch(/^Call me again in\s[01]:\d\d$/);
      expect(secondsIn(await voice.textContent())).toBeGreaterThan(50);
      expect(await page.locator('#tfa-code-hint').textContent()).toContain(
        'Enter the 6-digit code from the call.',
      );
      // The server-rendered page says the same after a reload.
      await page.reload();
      await expect.poll(() => voice.textContent()).toMatch(/^Call me again in\s[01]:\d\d$/);
      expect(await page.locator('#tfa-code-hint').textContent()).toContain('from the call');
    });

    it('says that the SMS could not be sent when the code comes by call (bob), also after a reload', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'bob');
      const intro = page.locator('#tfa-intro');
      const said =
        'The SMS to +32 4•• •• •• 02 could not be sent, so we are calling you to read you the code.';
      await expect.poll(() => intro.textContent()).toBe(said);
      await page.reload();
      await expect.poll(() => intro.textContent()).toBe(said);
      expect(await colourOf(intro)).not.toBe(await successColour(page));
    });

    it('never shows a delivery failure in the success green (carol)', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'carol');
      const failure = page.locator('#tfa-intro, #tfa-status', { hasText: /not delivered|could not be/ });
      await failure.first().waitFor();
      for (const node of await failure.all()) {
        expect(await colourOf(node)).not.toBe(await successColour(page));
      }
    });

    it('shows "could not be delivered" as a warning when no call follows (voice off)', async () => {
      demo = await startDemo({ twoFactor: { voice: false } });
      const page = await open();
      await signIn(page, demo, 'carol');
      const status = page.locator('#tfa-status', { hasText: 'The SMS could not be delivered.' });
      await status.waitFor();
      expect(await colourOf(status)).not.toBe(await successColour(page));
      expect(await status.getAttribute('data-tone')).toBe('warn');
    });

    it('says how many digits a code has when one is too short', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code:enabled').waitFor();
      await page.fill('#tfa-code', '123');
      await page.press('#tfa-code', 'Enter');
      await page.locator('#tfa-error', { hasText: 'Enter all 6 digits of the code.' }).waitFor();
      expect(await page.locator('#tfa-code').getAttribute('aria-invalid')).toBe('true');
    });
  });
});
