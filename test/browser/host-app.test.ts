import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import csurf from 'csurf';
import helmet from 'helmet';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeBrowser, launchChromium } from '../helpers/browser.js';
import { EXPRESS_MATRIX, matrixApp } from '../integration/apps/kit.js';

/**
 * A host app as people write them: helmet with its default Content-Security-Policy first, then the
 * session, body parsers and csurf, then tfa. The challenge page must still run its script (no CSP
 * violation), and its posts must carry csurf's token.
 */
function hostApp(express: (typeof EXPRESS_MATRIX)[number][1]) {
  return matrixApp(
    express,
    (parts) => {
      const { app, tfa } = parts;
      app.use(helmet());
      app.use(parts.session);
      app.use(express.urlencoded({ extended: false }));
      app.get('/login', (_req, res) => {
        res.send(
          '<!doctype html><title>Login</title><form method="post" action="/login"><input id="username" name="username"><button>Sign in</button></form>',
        );
      });
      parts.login(app);
      app.use(csurf());
      app.use(tfa);
      app.get('/account', tfa.requireSecondFactor, (_req, res) => {
        res.send('<!doctype html><title>Account</title><h1>Your account</h1>');
      });
      app.post('/logout', (req, res) => {
        tfa.clear(res);
        req.session.destroy(() => res.redirect(303, '/login'));
      });
    },
    { loginPath: '/login', page: { signOut: { action: '/logout' } } },
  );
}

describeBrowser('a host app with helmet and csurf before tfa, in Chromium', { timeout: 60_000 }, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.each(EXPRESS_MATRIX.map(([name, express]) => [name, express] as const))(
    '%s: login → /2fa sends by itself → the code → /account, with no CSP violation',
    async (_name, express) => {
      const t = hostApp(express);
      const server = await new Promise<Server>((resolve) => {
        const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
      });
      const context = await browser.newContext();
      const lines: string[] = [];
      try {
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        const page = await context.newPage();
        page.on('console', (message) => lines.push(message.text()));
        await page.goto(`${base}/account`);
        await page.waitForURL(/\/login$/);
        await page.fill('#username', 'alice');
        await Promise.all([page.waitForResponse(`${base}/login`), page.click('button')]);
        await page.goto(`${base}/account`);
        await page.waitForURL(/\/2fa\?returnTo=%2Faccount$/);
        // The script runs under the page's own CSP (helmet's header is replaced) and sends by itself.
        await page.locator('#tfa-intro', { hasText: 'We sent a code by SMS' }).waitFor();
        expect(t.transport.messages).toHaveLength(1);
        await page.fill('#tfa-code', t.transport.lastCode('+32470123401') ?? '');
        await Promise.all([page.waitForURL(`${base}/account`), page.click('#tfa-verify')]);
        expect(await page.locator('h1').textContent()).toBe('Your account');
        // Back to the challenge page once verified (a bookmark, the Back button): sent on, nothing sent.
        await page.goto(`${base}/2fa?returnTo=%2Faccount`);
        expect(page.url()).toBe(`${base}/account`);
        expect(t.transport.messages).toHaveLength(1);
        expect(lines.filter((line) => /Content.Security.Policy|Refused to/i.test(line))).toEqual([]);
      } finally {
        await context.close();
        await new Promise((resolve) => server.close(resolve));
      }
    },
  );

  it('signs out from the challenge page through csurf', async () => {
    const t = hostApp(EXPRESS_MATRIX[2][1]);
    const server = await new Promise<Server>((resolve) => {
      const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    const context = await browser.newContext();
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const page = await context.newPage();
      await page.goto(`${base}/login`);
      await page.fill('#username', 'alice');
      await Promise.all([page.waitForResponse(`${base}/login`), page.click('button')]);
      await page.goto(`${base}/2fa`);
      await page.locator('#tfa-intro', { hasText: 'We sent a code by SMS' }).waitFor();
      await Promise.all([page.waitForURL(`${base}/login`), page.click('#tfa-sign-out button')]);
      await page.goto(`${base}/account`);
      await page.waitForURL(`${base}/login`);
    } finally {
      await context.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
