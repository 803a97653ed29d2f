import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { describe, vi } from 'vitest';
import { createDemo, type Demo, type DemoOptions } from '../../demo/app.js';

/** Debian's Chromium (`apt-get install chromium`); `.ci/run` installs it when missing. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM_PATH);

if (!hasChromium && !process.env.CI) {
  console.warn(
    `\n  Browser tests SKIPPED: no Chromium at ${CHROMIUM_PATH}. Install it with \`apt-get install chromium\` (with CI set, this is a failure).\n`,
  );
}

/**
 * `describe` when Chromium is there. Without it the suites are skipped locally, but run (and fail
 * at launch) when `CI` is set: CI must never pass without having driven a browser.
 */
export const describeBrowser = hasChromium || process.env.CI ? describe : describe.skip;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

/** The demo, in this process, on a free port, quiet, with short waits unless told otherwise. */
export function startDemo(options: DemoOptions = {}): Promise<Demo> {
  return createDemo({ port: 0, log: () => {}, deliveryReportDelayMs: 100, ...options });
}

/** Signs in through the demo's login page; the guard then sends the browser to /2fa. */
export async function signIn(page: Page, demo: Demo, username: string): Promise<void> {
  await page.goto(`${demo.url}/account`);
  await page.waitForURL(/\/login$/);
  await page.fill('#username', username);
  await page.fill('#password', demo.users.find((u) => u.username === username)?.password ?? '');
  await Promise.all([page.waitForURL(/\/2fa\?returnTo=%2Faccount$/), page.click('button[type=submit]')]);
}

/**
 * Reads the newest code sent to `phone` on the demo's /phone page, in a second tab, the way a
 * person would. `channel` waits for that kind of message.
 */
export async function readCode(
  context: BrowserContext,
  demo: Demo,
  phone: string,
  channel: 'sms' | 'voice' = 'sms',
): Promise<string> {
  const tab = await context.newPage();
  try {
    await tab.goto(`${demo.url}/phone`);
    const message = tab.locator(`li.msg[data-to="${phone}"][data-channel="${channel}"]`).first();
    await message.waitFor({ timeout: 10_000 });
    const code = await message.getAttribute('data-code');
    if (!code) throw new Error(`no code in the newest ${channel} to ${phone}`);
    return code;
  } finally {
    await tab.close();
  }
}

/**
 * The same code, read from the /phone page's inbox over plain HTTP (no tab): quicker, for tests
 * whose subject is something else.
 */
export async function inboxCode(
  demo: Demo,
  phone: string,
  channel: 'sms' | 'voice' = 'sms',
): Promise<string> {
  const pattern = new RegExp(
    `data-channel="${channel}" data-to="${phone.replace('+', '\\+')}" data-code="(\\d+)"`,
  );
  return vi.waitFor(
    async () => {
      const html = await (await fetch(`${demo.url}/phone/inbox`)).text();
      const code = html.match(pattern)?.[1];
      if (!code) throw new Error(`no ${channel} to ${phone} on /phone yet`);
      return code;
    },
    { timeout: 10_000, interval: 100 },
  );
}

export const phoneOf = (demo: Demo, username: string) =>
  demo.users.find((u) => u.username === username)?.phone ?? '';

/** A code of the right length that is not `code`. */
export const wrongCode = (code: string) => code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[]; failureSummary?: string }[];
}

/**
 * Runs axe-core on the page and returns its violations. The page's CSP allows no injected
 * script, so the context running this must be created with `bypassCSP: true`.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const violations = await page.evaluate(async () => {
    // biome-ignore lint/suspicious/noExplicitAny: axe is injected at run time
    const axe = (window as any).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations as unknown[];
  });
  return violations as AxeViolation[];
}

/** One line per violation, for a readable assertion message. */
export const describeViolations = (violations: AxeViolation[]) =>
  violations.map(
    (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
  );

/**
 * The two ways the browser suites look at the page: a light desktop, and a phone in the dark
 * colour scheme at 390×844.
 */
export const PROFILES = [
  {
    name: 'light, 1280×800',
    context: { colorScheme: 'light', viewport: { width: 1280, height: 800 } },
  },
  {
    name: 'dark, 390×844',
    context: {
      colorScheme: 'dark',
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    },
  },
] as const satisfies readonly { name: string; context: BrowserContextOptions }[];

/**
 * A browser context for one test, its pages watched for Content-Security-Policy violations and
 * for answers of 404 (a missing favicon, a wrong path); `problems()` lists both.
 */
export async function openContext(browser: Browser, options: BrowserContextOptions = {}) {
  const context = await browser.newContext(options);
  // A wait that fails, fails in 10 s rather than Playwright's 30.
  context.setDefaultTimeout(10_000);
  const problems: string[] = [];
  context.on('page', (page) => watch(page));
  const watch = (page: Page) => {
    page.on('console', (message) => {
      if (/Content.Security.Policy/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
    });
    page.on('response', (response) => {
      if (response.status() === 404) problems.push(`404: ${response.url()}`);
    });
  };
  return {
    context,
    problems: () => [...problems],
    async newPage(): Promise<Page> {
      return context.newPage();
    },
    close: () => closeContext(context),
  };
}

/**
 * Closes a test's browser context without letting the close take the hook down. Under load, a page
 * the test gave up on in the middle of a navigation (a wait that failed) has kept Chromium's context
 * close from answering, and the hook's timeout then buried the test's own error under its own.
 * Gives up waiting after the same 10 s as any other wait, says so, and leaves what is left to the
 * browser's close at the end of the file.
 */
export async function closeContext(context: BrowserContext | undefined): Promise<void> {
  if (!context) return;
  // Route handlers a failed test left waiting would throw into the close; they are moot now.
  await context.unrouteAll({ behavior: 'ignoreErrors' }).catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gaveUp = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), 10_000);
  });
  const result = await Promise.race([context.close().then(() => 'closed' as const), gaveUp]).finally(() =>
    clearTimeout(timer),
  );
  if (result === 'hung') {
    console.warn('  a browser context did not close within 10 s; the browser closes it with itself');
  }
}

/** The `/2fa/status` requests a page makes, as they happen. */
export function countStatusPolls(page: Page): { count: () => number } {
  let count = 0;
  page.on('request', (request) => {
    if (new URL(request.url()).pathname === '/2fa/status') count++;
  });
  return { count: () => count };
}

/** Makes the page hidden or visible, as switching tabs does, and fires `visibilitychange`. */
export async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((hide) => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => hide });
    Object.defineProperty(document, 'visibilityState', {
      configurable: true,
      get: () => (hide ? 'hidden' : 'visible'),
    });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

/** A clock for the server side of the demo that a test can move forward. */
export function serverClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advance: (ms: number) => {
      offset += ms;
    },
  };
}
