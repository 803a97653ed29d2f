import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Demo, DemoOptions } from '../../demo/app.js';
import {
  axeViolations,
  describeBrowser,
  describeViolations,
  inboxCode,
  launchChromium,
  phoneOf,
  serverClock,
  signIn,
  startDemo,
  wrongCode,
} from '../helpers/browser.js';

/**
 * The challenge page in each state a user meets, on a phone, light and dark: axe-core finds
 * nothing in any of them, and with `UPDATE_SCREENSHOTS=1` each card is saved for the gallery in
 * docs/states.md (a test run does not rewrite committed images).
 */
const OUT = process.env.UPDATE_SCREENSHOTS
  ? join(import.meta.dirname, '../../docs/states')
  : mkdtempSync(join(tmpdir(), 'tfa-states-'));

/** A report that does not come while the picture is taken. */
const NO_REPORT = 10 * 60_000;

interface State {
  name: string;
  demo?: DemoOptions;
  javaScript?: boolean;
  /** Brings a signed-in browser to the state; `clock` moves the server's time. */
  reach(page: Page, demo: Demo, clock: ReturnType<typeof serverClock>): Promise<void>;
}

const waitForStatus = (page: Page, text: string | RegExp) =>
  page.locator('#tfa-status', { hasText: text }).waitFor();

async function typeWrong(page: Page, demo: Demo, times: number) {
  const code = await inboxCode(demo, phoneOf(demo, 'alice'));
  for (let i = 0; i < times; i++) {
    await page.fill('#tfa-code', wrongCode(code));
    await page.press('#tfa-code', 'Enter');
    await page.locator('#tfa-error:not(:empty)').waitFor();
  }
}

const STATES: State[] = [
  {
    name: 'sent',
    demo: { deliveryReportDelayMs: NO_REPORT },
    reach: (page) => waitForStatus(page, 'SMS sent.'),
  },
  {
    name: 'delivered',
    reach: (page) => waitForStatus(page, 'SMS delivered.'),
  },
  {
    name: 'wrong-code',
    async reach(page, demo) {
      await waitForStatus(page, 'SMS delivered.');
      await typeWrong(page, demo, 1);
      await page.locator('#tfa-error', { hasText: '4 attempts left.' }).waitFor();
    },
  },
  {
    name: 'locked',
    demo: { twoFactor: { lockout: { threshold: 2, baseMs: 60_000 } } },
    async reach(page, demo) {
      await waitForStatus(page, 'SMS delivered.');
      await typeWrong(page, demo, 2);
      await page.locator('#tfa-verify', { hasText: /^Verify in\s/ }).waitFor();
    },
  },
  {
    name: 'calling',
    demo: { deliveryReportDelayMs: NO_REPORT },
    reach: (page) => waitForStatus(page, 'Calling you now…'),
  },
  {
    name: 'undelivered',
    reach: (page) => page.locator('#tfa-intro', { hasText: 'was not delivered' }).waitFor(),
  },
  {
    name: 'expired',
    async reach(page, _demo, clock) {
      await waitForStatus(page, 'SMS delivered.');
      clock.advance(5 * 60_000);
      await page.reload();
      await page.locator('#tfa-error', { hasText: 'That code has expired.' }).waitFor();
    },
  },
  {
    name: 'no-javascript',
    javaScript: false,
    async reach(page, demo) {
      await Promise.all([page.waitForURL(`${demo.url}/2fa`), page.click('#tfa-send')]);
      await page.locator('#tfa-code:enabled').waitFor();
    },
  },
];

/** The page's markup and styles, without its scripts, in a page where axe can run. */
async function markupOnly(browser: Browser, page: Page, colorScheme: 'light' | 'dark'): Promise<Page> {
  const html = (await page.content()).replace(/<script\b[\s\S]*?<\/script>/g, '');
  const context = await browser.newContext({ colorScheme, viewport: { width: 390, height: 844 } });
  const copy = await context.newPage();
  copy.on('close', () => void context.close());
  await copy.setContent(html);
  return copy;
}

/** Who meets each state: bob's SMS fails at the provider, carol's is reported undelivered. */
const USER: Record<string, string> = { calling: 'bob', undelivered: 'carol' };

describeBrowser(
  'the challenge page in every state, for the gallery (docs/states.md)',
  { timeout: 90_000 },
  () => {
    let browser: Browser;
    beforeAll(async () => {
      browser = await launchChromium();
      mkdirSync(OUT, { recursive: true });
    });
    afterAll(async () => {
      await browser?.close();
    });

    describe.each(['light', 'dark'] as const)('%s', (colorScheme) => {
      it.each(STATES)('$name: no axe-core violation, and its picture', async (state) => {
        const clock = serverClock();
        const demo = await startDemo({
          ...state.demo,
          twoFactor: { now: clock.now, ...state.demo?.twoFactor },
        });
        // The page's CSP allows no injected script: bypass it for the axe run only.
        const context = await browser.newContext({
          colorScheme,
          viewport: { width: 390, height: 844 },
          javaScriptEnabled: state.javaScript ?? true,
          bypassCSP: true,
        });
        try {
          const page = await context.newPage();
          await signIn(page, demo, USER[state.name] ?? 'alice');
          await state.reach(page, demo, clock);
          // Without JavaScript axe cannot run in the page: it checks the same markup in a page that can.
          const checked = state.javaScript === false ? await markupOnly(browser, page, colorScheme) : page;
          const violations = await axeViolations(checked);
          if (checked !== page) await checked.close();
          expect(describeViolations(violations), `axe-core in ${state.name}`).toEqual([]);
          await page.locator('main').screenshot({
            path: join(OUT, `${state.name}-${colorScheme}.png`),
            // Without JavaScript the waits are CSS animations: "disabled" would end them.
            animations: state.javaScript === false ? 'allow' : 'disabled',
            caret: 'hide',
          });
        } finally {
          await context.close();
          await demo.close();
        }
      });
    });
  },
);
