/**
 * The README's "Enrollment, phone change and step-up" example, exactly as printed, with only the
 * import and the listen call changed: a user without a number enrolls, changes it, and a sensitive
 * route asks for a fresh code.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeSmstools, startFakeSmstools } from '../../src/testing/fake-smstools.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const generated = fileURLToPath(new URL('./.readme-enroll.generated.mjs', import.meta.url));

function example(): string {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Enrollment, phone change and step-up'));
  const code = section.match(/```js\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error('no js block under "## Enrollment, phone change and step-up"');
  return code;
}

describe('the README enrollment example', () => {
  let fake: FakeSmstools;
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    fake = await startFakeSmstools();
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) =>
      realFetch(String(input).replace('https://api.smsgatewayapi.com/v1', fake.url), init),
    );
    vi.stubEnv('SESSION_SECRET', 'a-session-secret-for-the-enroll-example');
    vi.stubEnv('TWO_FACTOR_SECRET', 'a-two-factor-secret-for-the-enroll-test!');
    vi.stubEnv('SMSTOOLS_CLIENT_ID', fake.clientId);
    vi.stubEnv('SMSTOOLS_CLIENT_SECRET', fake.clientSecret);
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    rmSync(generated, { force: true });
    await fake.close();
  });

  it('works as written: enroll a first number, change it with the old number told, step up', async () => {
    const code = example()
      .replace("from 'express-sms-2fa'", `from '${root}src/index.ts'`)
      .replace('app.listen(3000);', 'export { app };');
    expect(code).toContain('export { app };');
    writeFileSync(generated, code);
    const { app } = (await import(generated)) as { app: Express };
    app.post('/test-login', (req, res) => {
      (req as unknown as { session: Record<string, unknown> }).session.userId = '42';
      res.sendStatus(204);
    });
    const post = (agent: ReturnType<typeof request.agent>, path: string, body: object) =>
      agent.post(path).set('Content-Type', 'application/json').send(body);

    const browser = request.agent(app);
    await browser.post('/test-login').expect(204);
    const redirect = await browser.get('/account').set('Accept', 'text/html').expect(303);
    expect(redirect.headers.location).toBe('/2fa/enroll?returnTo=%2Faccount');
    await browser.get('/2fa/enroll?returnTo=%2Faccount').set('Accept', 'text/html').expect(200);
    await post(browser, '/2fa/enroll/send', {
      phone: '0470 12 34 01',
      country: 'BE',
      returnTo: '/account',
    }).expect(200);
    expect(fake.messages.at(-1)).toMatchObject({ channel: 'sms', to: '32470123401' });
    const enrolled = await post(browser, '/2fa/enroll/verify', { code: fake.lastCode() }).expect(200);
    expect(enrolled.body).toEqual({ verified: true, returnTo: '/account' });
    await browser.get('/account').expect(200);
    await browser.post('/account/delete').expect(200);

    // A second browser, verified before the change, ends with it.
    const other = request.agent(app);
    await other.post('/test-login').expect(204);
    await post(other, '/2fa/send', {}).expect(200);
    await post(other, '/2fa/verify', { code: fake.lastCode() }).expect(200);
    await other.get('/account').expect(200);

    await post(browser, '/2fa/enroll/send', { phone: '+31 6 12345678' }).expect(200);
    expect(fake.messages.at(-1)).toMatchObject({ to: '31612345678' });
    await post(browser, '/2fa/enroll/verify', { code: fake.lastCode() }).expect(200);
    expect(fake.messages.at(-1)).toMatchObject({ to: '32470123401' });
    expect(fake.messages.at(-1)?.message).toContain('was changed to a number ending in 78');
    await browser.get('/account').expect(200);
    await other.get('/account').set('Accept', 'application/json').expect(401);
  });
});
