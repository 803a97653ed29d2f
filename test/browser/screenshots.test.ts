import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContextOptions } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, launchChromium, signIn, startDemo } from '../helpers/browser.js';

/**
 * The README's screenshots. They are written to `docs/` only with `UPDATE_SCREENSHOTS=1`, so a
 * test run does not rewrite committed images (the countdowns differ from run to run).
 */
const OUT = process.env.UPDATE_SCREENSHOTS
  ? join(import.meta.dirname, '../../docs')
  : mkdtempSync(join(tmpdir(), 'tfa-screenshots-'));

const SHOTS: { file: string; context: BrowserContextOptions; size: [number, number] }[] = [
  {
    file: 'desktop.png',
    context: { viewport: { width: 1280, height: 800 }, colorScheme: 'light' },
    size: [1280, 800],
  },
  {
    file: 'phone.png',
    context: {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
      colorScheme: 'dark',
    },
    size: [780, 1688],
  },
];

/** Width and height from a PNG's IHDR chunk. */
const pngSize = (png: Buffer): [number, number] => [png.readUInt32BE(16), png.readUInt32BE(20)];

describeBrowser('screenshots of the challenge page with a live challenge', { timeout: 60_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
    mkdirSync(OUT, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.each(SHOTS)('takes $file', async ({ file, context: options, size }) => {
    const demo = await startDemo();
    const context = await browser.newContext(options);
    try {
      const page = await context.newPage();
      await signIn(page, demo, 'alice');
      await page.locator('#tfa-status', { hasText: 'SMS delivered.' }).waitFor();
      await page.locator('#tfa-code').pressSequentially('4821');
      const png = await page.screenshot({ path: join(OUT, file), animations: 'disabled', caret: 'hide' });
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(pngSize(png)).toEqual(size);
    } finally {
      await context.close();
      await demo.close();
    }
  });
});
