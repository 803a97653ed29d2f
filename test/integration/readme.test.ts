import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeSmstools, startFakeSmstools } from '../../src/testing/fake-smstools.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const generated = fileURLToPath(new URL('./.quickstart.generated.mjs', import.meta.url));

/** The README's quick start, exactly as printed, with only the listen call turned into an export. */
function quickStart(): string {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const code = section.match(/```js\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error('no js block under "## Quick start"');
  return code;
}

describe('the README quick start', () => {
  let fake: FakeSmstools;
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    fake = await startFakeSmstools();
    // The snippet talks to the real Smstools host; only the host is swapped for the fake's.
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) =>
      realFetch(String(input).replace('https://api.smsgatewayapi.com/v1', fake.url), init),
    );
    vi.stubEnv('SESSION_SECRET', 'a-session-secret-for-the-quick-start-test');
    vi.stubEnv('TWO_FACTOR_SECRET', 'a-two-factor-secret-for-the-quick-start!');
    vi.stubEnv('SMSTOOLS_CLIENT_ID', fake.clientId);
    vi.stubEnv('SMSTOOLS_CLIENT_SECRET', fake.clientSecret);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    rmSync(generated, { force: true });
    await fake.close();
  });

  it('has at most 15 lines', () => {
    expect(quickStart().trimEnd().split('\n').length).toBeLessThanOrEqual(15);
  });

  it('works as written: login → redirect to /2fa → SMS through Smstools → verify → /account', async () => {
    const code = quickStart()
      .replace("from 'express-sms-2fa'", `from '${root}src/index.ts'`)
      .replace('app.listen(3000);', 'export { app };');
    expect(code).toContain('export { app };');
    writeFileSync(generated, code);
    const { app } = (await import(generated)) as { app: Express };
    // Stands in for "your login", registered after the snippet as an app would.
    app.post('/test-login', (req, res) => {
      (req as unknown as { session: Record<string, unknown> }).session.user = {
        id: '42',
        phone: '+32470123401',
      };
      res.sendStatus(204);
    });

    const browser = request.agent(app);
    await browser.post('/test-login').expect(204);
    const redirect = await browser.get('/account').set('Accept', 'text/html').expect(303);
    expect(redirect.headers.location).toBe('/2fa?returnTo=%2Faccount');
    await browser.get('/2fa').set('Accept', 'text/html').expect(200);
    await browser
      .post('/2fa/send')
      .set('Content-Type', 'application/json')
      .send({ returnTo: '/account' })
      .expect(200);
    expect(fake.messages).toHaveLength(1);
    expect(fake.messages[0]).toMatchObject({ channel: 'sms', to: '32470123401', sender: 'MyApp' });
    const verified = await browser
      .post('/2fa/verify')
      .set('Content-Type', 'application/json')
      .send({ code: fake.lastCode() })
      .expect(200);
    expect(verified.body).toEqual({ verified: true, returnTo: '/account' });
    expect((await browser.get('/account').expect(200)).text).toBe('Protected');
  });
});
