import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type FakeSmstools, startFakeSmstools } from '../../src/testing/fake-smstools.js';
import { requireRedis } from '../helpers/redis.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = fileURLToPath(new URL('./.recipes/', import.meta.url));
const recipes = readFileSync(`${root}docs/recipes.md`, 'utf8');

/** The first code block under `## heading` in docs/recipes.md, exactly as printed. */
function recipe(heading: string, lang: 'js' | 'ts' = 'js'): string {
  const at = recipes.indexOf(`\n## ${heading}\n`);
  if (at < 0) throw new Error(`no "## ${heading}" in docs/recipes.md`);
  const code = recipes.slice(at).match(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``))?.[1];
  if (!code) throw new Error(`no ${lang} block under "## ${heading}"`);
  return code;
}

/** The store every recipe imports as `./users.js`: numeric ids, a version, async lookups. */
const USERS_MODULE = `
const records = [
  { id: 1, username: 'alice', password: 'alice-pw', phone: '+32470123401', version: 1 },
  { id: 2, username: 'nophone', password: 'nophone-pw', phone: null, version: 1 },
];
const pub = (r) => r && { id: r.id, username: r.username, phone: r.phone, version: r.version };
export const users = {
  async check(username, password) {
    const r = records.find((u) => u.username === username);
    return r && r.password === password ? pub(r) : null;
  },
  async find(id) { return pub(records.find((u) => u.id === Number(id))) ?? null; },
  async phoneOf(id) { return records.find((u) => u.id === Number(id))?.phone ?? null; },
};
`;

/** Writes the recipe with only its package import and its listen call changed, and imports it. */
async function load(name: string, code: string, exported = 'app'): Promise<Record<string, unknown>> {
  const source = code
    .replace("from 'express-sms-2fa'", `from '${root}src/index.ts'`)
    .replace('app.listen(3000);', `export { ${exported} };`);
  expect(source).toContain(`export { ${exported} };`);
  const file = `${dir}${name}.generated.${name === 'typescript' ? 'ts' : 'mjs'}`;
  writeFileSync(file, source);
  return import(file);
}

/** The flow as a browser with JavaScript drives it: login, guard, page, send, verify, back. */
async function throughTheFlow(fake: FakeSmstools, app: Express, guarded: string, login = guarded) {
  const agent = request.agent(app);
  const signedIn = await agent.post('/login').type('form').send({ username: 'alice', password: 'alice-pw' });
  expect([200, 204, 302, 303]).toContain(signedIn.status);
  if (signedIn.status >= 300) expect(signedIn.headers.location).toBe(login);
  const redirect = await agent.get(guarded).set('Accept', 'text/html').expect(303);
  const page = await agent
    .get(redirect.headers.location as string)
    .set('Accept', 'text/html')
    .expect(200);
  const paths = JSON.parse(page.text.match(/id="tfa-data"[^>]*>([^<]*)</)?.[1] ?? '{}').paths;
  const before = fake.messages.length;
  await agent
    .post(paths.send)
    .set('Content-Type', 'application/json')
    .send({ returnTo: guarded })
    .expect(200);
  expect(fake.messages).toHaveLength(before + 1);
  const verified = await agent
    .post(paths.verify)
    .set('Content-Type', 'application/json')
    .send({ code: fake.lastCode() })
    .expect(200);
  expect(verified.body.returnTo).toBe(guarded);
  await agent.get(guarded).expect(200);
  return agent;
}

describe('the integration recipes in docs/recipes.md, run as printed', () => {
  let fake: FakeSmstools;
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}users.js`, USERS_MODULE);
    fake = await startFakeSmstools();
    // The recipes talk to the real Smstools host; only the host is swapped for the fake's.
    vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) =>
      realFetch(String(input).replace('https://api.smsgatewayapi.com/v1', fake.url), init),
    );
    vi.stubEnv('SESSION_SECRET', 'a-session-secret-for-the-recipes-test-0');
    vi.stubEnv('TWO_FACTOR_SECRET', 'a-two-factor-secret-for-the-recipes-test');
    vi.stubEnv('SMSTOOLS_CLIENT_ID', fake.clientId);
    vi.stubEnv('SMSTOOLS_CLIENT_SECRET', fake.clientSecret);
    vi.stubEnv('SMSTOOLS_WEBHOOK_SECRET', 'a-webhook-secret-for-the-recipes-test');
  });

  afterAll(async () => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
    rmSync(dir, { recursive: true, force: true });
    await fake.close();
  });

  it('express-session: login, the flow, the sign-out control, logout', async () => {
    const { app } = (await load('session', recipe('express-session'))) as { app: Express };
    const agent = await throughTheFlow(fake, app, '/account');
    const page = await agent.get('/2fa?returnTo=%2Faccount').set('Accept', 'text/html').expect(303);
    expect(page.headers.location).toBe('/account');
    await agent.post('/logout').expect(303);
    expect((await agent.get('/account').set('Accept', 'text/html').expect(303)).headers.location).toBe(
      '/login',
    );
  });

  it('express-session: a user without a number sees the no-phone state and nothing is sent', async () => {
    const { app } = (await load('session-nophone', recipe('express-session'))) as { app: Express };
    const agent = request.agent(app);
    await agent.post('/login').type('form').send({ username: 'nophone', password: 'nophone-pw' }).expect(303);
    const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    expect(page.text).toContain('id="tfa-no-phone"');
    const before = fake.messages.length;
    const sent = await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}').expect(422);
    expect(sent.body.error.code).toBe('ERR_2FA_NO_PHONE');
    expect(fake.messages).toHaveLength(before);
  });

  it('passport: numeric id, async phone lookup, tfa.clear before req.logout', async () => {
    const { app } = (await load('passport', recipe('passport'))) as { app: Express };
    const agent = await throughTheFlow(fake, app, '/account');
    expect((await agent.get('/account').expect(200)).text).toBe('Signed in as 1');
    const out = await agent.post('/logout').expect(303);
    const cleared = (out.headers['set-cookie'] as unknown as string[]).filter((c) =>
      /^2fa(-challenge)?=;/.test(c),
    );
    expect(cleared).toHaveLength(2);
    await agent.get('/account').expect(401);
  });

  it('TypeScript: compiles under strict NodeNext (the SessionData augmentation), and runs', async () => {
    const code = recipe('TypeScript', 'ts');
    writeFileSync(`${dir}typescript.check.ts`, code);
    writeFileSync(
      `${dir}tsconfig.json`,
      JSON.stringify({
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2023',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          esModuleInterop: true,
          allowImportingTsExtensions: true,
          types: ['node'],
          paths: { 'express-sms-2fa': ['../../../src/index.ts'] },
        },
        files: ['typescript.check.ts'],
      }),
    );
    execFileSync(`${root}node_modules/.bin/tsc`, ['-p', `${dir}tsconfig.json`], { stdio: 'pipe' });
    const { app } = (await load('typescript', code)) as { app: Express };
    const agent = await throughTheFlow(fake, app, '/account');
    expect((await agent.get('/account').expect(200)).text).toMatch(/^Verified by sms at \d+$/);
  }, 90_000);

  it('htmx: a refused panel load carries HX-Redirect back to the page it was on', async () => {
    const { app } = (await load('htmx', recipe('htmx'))) as { app: Express };
    const agent = request.agent(app);
    await agent.post('/login').type('form').send({ username: 'alice', password: 'alice-pw' }).expect(303);
    const panel = await agent
      .get('/balance')
      .set({ 'HX-Request': 'true', 'HX-Current-URL': 'http://app.test/', Host: 'app.test' })
      .expect(401);
    expect(panel.headers['hx-redirect']).toBe('/2fa?returnTo=%2F');
    await throughTheFlow(fake, app, '/balance', '/');
  });

  it('an app under a router: everything answers under /admin', async () => {
    const { app } = (await load('router', recipe('An app under a router'))) as { app: Express };
    const agent = await throughTheFlow(fake, app, '/admin');
    expect((await agent.get('/admin').expect(200)).text).toBe('Admin home');
    await agent.get('/2fa').set('Accept', 'text/html').expect(404);
  });

  it('production checklist: the app starts with Redis and takes delivery reports before its JSON parser', async () => {
    if (!(await requireRedis())) return;
    vi.stubEnv('REDIS_URL', 'redis://127.0.0.1:6379');
    vi.stubEnv('NODE_ENV', 'production');
    const { app, redis } = (await load('production', recipe('Production checklist'), 'app, redis')) as {
      app: Express;
      redis: { quit(): Promise<unknown> };
    };
    try {
      // A report that is not signed is refused by the signature check (403), not as eaten by a parser (400).
      const report = await request(app)
        .post('/2fa/webhooks/smstools')
        .set('Content-Type', 'application/json')
        .send('{"webhook_type":"delivery_report"}');
      expect(report.status).toBe(403);
      expect(report.body.error.code).toBe('ERR_2FA_FORBIDDEN_ORIGIN');
    } finally {
      await redis.quit();
      vi.stubEnv('NODE_ENV', 'test');
    }
  });
});
