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
  wrongCode,
} from '../helpers/browser.js';

interface Shift {
  value: number;
  sources: { currentRect: DOMRectReadOnly }[];
}

/** Collects every layout shift of the page from its first paint (buffered), after input or not. */
const recordLayoutShifts = (page: Page) =>
  page.addInitScript(() => {
    const w = window as unknown as { shifts: Shift[] };
    w.shifts = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) w.shifts.push(entry as unknown as Shift);
    }).observe({ type: 'layout-shift', buffered: true });
  });

/**
 * The sum of the page's layout shifts, but for the digits in the code field, which move as they
 * are typed (they are centred): nothing else may move.
 */
const layoutShift = (page: Page) =>
  page.evaluate(() => {
    const field = (document.getElementById('tfa-code') as HTMLElement).getBoundingClientRect();
    const inField = (r: DOMRectReadOnly) =>
      r.top >= field.top && r.bottom <= field.bottom && r.left >= field.left && r.right <= field.right;
    return (window as unknown as { shifts: Shift[] }).shifts
      .filter((shift) => !shift.sources.every((source) => inField(source.currentRect)))
      .reduce((sum, shift) => sum + shift.value, 0);
  });

/**
 * Where the ink of a screenshot sits: the first and last columns (inside `inset` pixels of each
 * edge) with a pixel far from the background, read in a blank page's canvas.
 */
async function inkColumns(browser: Browser, png: Buffer, inset: number) {
  const blank = await browser.newPage();
  try {
    return await blank.evaluate(
      async ({ data, inset }) => {
        const image = new Image();
        image.src = `data:image/png;base64,${data}`;
        await image.decode();
        const canvas = document.createElement('canvas');
        canvas.width = image.width;
        canvas.height = image.height;
        const g = canvas.getContext('2d') as CanvasRenderingContext2D;
        g.drawImage(image, 0, 0);
        const { data: px, width, height } = g.getImageData(0, 0, image.width, image.height);
        const at = (x: number, y: number): [number, number, number] => {
          const i = (y * width + x) * 4;
          return [px[i] as number, px[i + 1] as number, px[i + 2] as number];
        };
        const background = at(inset, Math.floor(height / 2));
        const ink = (x: number) => {
          for (let y = inset; y < height - inset; y++) {
            const [r, gr, b] = at(x, y);
            const d =
              Math.abs(r - (background[0] as number)) +
              Math.abs(gr - (background[1] as number)) +
              Math.abs(b - (background[2] as number));
            if (d > 120) return true;
          }
          return false;
        };
        let first = -1;
        let last = -1;
        for (let x = inset; x < width - inset; x++) {
          if (!ink(x)) continue;
          if (first < 0) first = x;
          last = x;
        }
        return { first, last, width };
      },
      { data: png.toString('base64'), inset },
    );
  } finally {
    await blank.close();
  }
}

describeBrowser('the code field and the look of the page, in Chromium', { timeout: 90_000 }, () => {
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
      await harness.context.grantPermissions(['clipboard-read', 'clipboard-write']);
      return harness.newPage();
    }

    it('keeps only digits as they are typed, and finds the code in a pasted SMS', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');
      const field = page.locator('#tfa-code');
      await page.locator('#tfa-code:enabled').waitFor();
      await field.pressSequentially('12ab34');
      expect(await field.inputValue()).toBe('1234');
      await field.fill('');

      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      const sms = demo.fake?.messages[0]?.message ?? '';
      expect(sms).toMatch(/^Your verification code/);
      await page.evaluate((text) => navigator.clipboard.writeText(text), sms);
      await field.focus();
      await page.keyboard.press('ControlOrMeta+V');
      await expect.poll(() => field.inputValue()).toBe(code);
      await Promise.all([page.waitForURL(`${demo.url}/account`), page.click('#tfa-verify')]);
    });

    it('does not move while the code is sent, delivered, mistyped and typed again (layout shift ~0)', async () => {
      demo = await startDemo();
      const page = await open();
      await recordLayoutShifts(page);
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      await page.locator('#tfa-code').pressSequentially(wrongCode(code));
      await page.press('#tfa-code', 'Enter');
      await page.locator('#tfa-error', { hasText: '4 attempts left.' }).waitFor();
      await page.locator('#tfa-code').fill('');
      await page.locator('#tfa-code').pressSequentially(code.slice(0, 3));
      await page.locator('#tfa-code').pressSequentially('9');
      await page.fill('#tfa-code', '12');
      await page.press('#tfa-code', 'Enter');
      await page.locator('#tfa-error', { hasText: 'Enter all 6 digits of the code.' }).waitFor();
      expect(await layoutShift(page)).toBeLessThan(0.005);
    });

    it('has a bold Verify, disabled buttons that look disabled, one focus ring, centred digits', async () => {
      demo = await startDemo({ voiceAfterMs: 0 });
      const page = await open();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-voice:enabled').waitFor();
      expect(await page.locator('#tfa-verify').evaluate((b) => getComputedStyle(b).fontWeight)).toBe('600');

      // Resend waits 30 s (disabled); the call is available (enabled): they must not look alike.
      const look = (id: string) =>
        page.locator(id).evaluate((b) => {
          const s = getComputedStyle(b);
          return { color: s.color, border: s.borderTopStyle, background: s.backgroundColor };
        });
      const disabled = await look('#tfa-resend');
      const enabled = await look('#tfa-voice');
      expect(await page.locator('#tfa-resend').isDisabled()).toBe(true);
      expect(disabled.color).not.toBe(enabled.color);
      expect(disabled.border).not.toBe(enabled.border);

      // A wrong code, then the focused field: one ring, in the error colour.
      const code = await inboxCode(demo, phoneOf(demo, 'alice'));
      await page.fill('#tfa-code', wrongCode(code));
      await page.press('#tfa-code', 'Enter');
      await page.locator('#tfa-error', { hasText: '4 attempts left.' }).waitFor();
      const rings = await page.locator('#tfa-code').evaluate((field) => {
        (field as HTMLInputElement).focus();
        const s = getComputedStyle(field);
        const colours = [s.borderTopColor];
        if (s.outlineStyle !== 'none' && Number.parseFloat(s.outlineWidth) > 0) colours.push(s.outlineColor);
        for (const shadow of s.boxShadow === 'none' ? [] : s.boxShadow.split(/,(?![^(]*\))/)) {
          colours.push(shadow.match(/rgba?\([^)]*\)/)?.[0] ?? shadow);
        }
        const error = getComputedStyle(document.getElementById('tfa-error') as HTMLElement).color;
        return { colours: [...new Set(colours)], error };
      });
      expect(rings.colours).toEqual([rings.error]);

      // Digits centred in the field: the ink is as far from the left edge as from the right.
      await page.locator('#tfa-code').fill('482193');
      await page.locator('#tfa-verify').focus();
      const png = await page.locator('#tfa-code').screenshot({ caret: 'hide', animations: 'disabled' });
      const scale = 'deviceScaleFactor' in profile ? profile.deviceScaleFactor : 1;
      const { first, last, width } = await inkColumns(browser, png, 6 * scale);
      expect(first).toBeGreaterThan(0);
      const left = first;
      const right = width - 1 - last;
      expect(Math.abs(left - right), `ink from ${first} to ${last} of ${width}`).toBeLessThanOrEqual(
        2 * scale,
      );
    });

    it('declares an icon of its own, so the browser asks for no /favicon.ico; the demo serves one', async () => {
      demo = await startDemo();
      const page = await open();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-code:enabled').waitFor();
      const icon = await page.locator('link[rel=icon]').getAttribute('href');
      expect(icon).toMatch(/^data:/);
      const demoIcon = await fetch(`${demo.url}/favicon.ico`);
      expect(demoIcon.status).toBe(200);
      expect(demoIcon.headers.get('content-type')).toMatch(/^image\//);
      await page.goto(`${demo.url}/phone`);
      expect(await page.locator('link[rel=icon]').count()).toBe(1);
    });
  });
});
