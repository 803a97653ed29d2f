// The README's recovery-code and remembered-device examples, run as printed: only the import path,
// the transport (one the test can read codes from) and an export at the end are changed.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type MemoryTransport, memoryTransport } from '../../src/transports/memory.js';
import type { TwoFactor } from '../../src/two-factor.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function example(heading: string): string {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const at = readme.indexOf(`\n## ${heading}\n`);
  if (at < 0) throw new Error(`no "## ${heading}" in the README`);
  const code = readme.slice(at).match(/```js\n([\s\S]*?)```/)?.[1];
  if (!code) throw new Error(`no js block under "## ${heading}"`);
  return code;
}

const PHONE = '+32470123401';
const transport: MemoryTransport = memoryTransport();
(globalThis as { readmeTransport?: MemoryTransport }).readmeTransport = transport;

async function load(heading: string, file: string): Promise<{ app: Express; tfa: TwoFactor }> {
  const code = example(heading)
    .replace(/from 'express-sms-2fa'/, `from '${root}src/index.ts'`)
    .replace('transport: memoryTransport(),', 'transport: globalThis.readmeTransport,');
  expect(code).toContain('globalThis.readmeTransport');
  const path = fileURLToPath(new URL(file, import.meta.url));
  writeFileSync(path, `${code}\nexport { app, tfa };\n`);
  const loaded = (await import(path)) as { app: Express; tfa: TwoFactor };
  // Stands in for "your login", registered after the example as an app would.
  loaded.app.post('/test-login', (req, res) => {
    const session = (req as unknown as { session: Record<string, unknown> }).session;
    session.user = { id: '42', phone: PHONE };
    res.sendStatus(204);
  });
  return loaded;
}

async function verified(app: Express, extra: object = {}) {
  const agent = request.agent(app);
  await agent.post('/test-login').expect(204);
  await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}').expect(200);
  const code = transport.lastCode(PHONE);
  await agent
    .post('/2fa/verify')
    .set('Content-Type', 'application/json')
    .send(JSON.stringify({ code, ...extra }))
    .expect(200);
  return agent;
}

describe('the README examples for recovery codes and remembered devices', () => {
  const files = ['./.recovery.generated.mjs', './.devices.generated.mjs'];
  beforeAll(() => {
    vi.stubEnv('SESSION_SECRET', 'a-session-secret-for-the-readme-test');
    vi.stubEnv('TWO_FACTOR_SECRET', 'a-two-factor-secret-for-the-readme-test!');
  });
  afterAll(() => {
    vi.unstubAllEnvs();
    for (const file of files) rmSync(fileURLToPath(new URL(file, import.meta.url)), { force: true });
  });

  it('recovery codes: the account page counts them, its form makes a set, one signs in', async () => {
    const { app } = await load('Recovery codes', files[0] as string);
    const agent = await verified(app);
    expect((await agent.get('/account').expect(200)).text).toContain('0 recovery codes left.');
    const page = await agent
      .post('/2fa/recovery/generate')
      .type('form')
      .set('Accept', 'text/html')
      .set('Sec-Fetch-Site', 'same-origin')
      .send({ returnTo: '/account' })
      .expect(200);
    const codes = [...page.text.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]);
    expect(codes).toHaveLength(10);
    expect((await agent.get('/account').expect(200)).text).toContain('10 recovery codes left.');

    const other = request.agent(app);
    await other.post('/test-login').expect(204);
    await other
      .post('/2fa/recovery/verify')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ code: codes[0] }))
      .expect(200);
    expect((await other.get('/account').expect(200)).text).toContain('9 recovery codes left.');
  });

  it('remembered devices: listed after the box was checked, revoked by the routes', async () => {
    const { app } = await load('Remembered devices', files[1] as string);
    const agent = await verified(app, { remember: true });
    const devices = (await agent.get('/account/devices').expect(200)).body;
    expect(devices).toEqual([expect.objectContaining({ id: expect.any(String), ipPrefix: '127.0.0.0/24' })]);
    await agent
      .post(`/account/devices/${devices[0].id}/revoke`)
      .set('Sec-Fetch-Site', 'same-origin')
      .expect(303);
    expect((await agent.get('/account/devices').expect(200)).body).toEqual([]);
  });
});
