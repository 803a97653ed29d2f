import { describe, expect, it } from 'vitest';
import { EXPRESS_MATRIX, matrixApp, type Parts, scriptFlow, signInAs } from './kit.js';

/** The README's htmx recipe: a page whose panels load with hx-get, behind the guard. */
function htmxApp(parts: Parts) {
  const { app, tfa } = parts;
  app.use(parts.session);
  parts.login(app);
  app.use(tfa);
  app.get('/account', tfa.requireSecondFactor, (_req, res) => {
    res.send('<div hx-get="/account/balance" hx-trigger="load"></div>');
  });
  app.get('/account/balance', tfa.requireSecondFactor, (_req, res) => {
    res.send('<p>€ 12.00</p>');
  });
  app.post('/account/transfer', tfa.requireSecondFactor, (_req, res) => {
    res.send('<p>done</p>');
  });
}

/** What htmx sends with every request it makes. */
const htmx = (host: string, page: string) => ({
  'HX-Request': 'true',
  'HX-Current-URL': `http://${host}${page}`,
  Accept: '*/*',
});

describe.each(EXPRESS_MATRIX)('htmx requests on %s', (_version, express) => {
  // Defect: a guard refusal was a JSON 401 that htmx ignores: the panel stayed empty, silently.
  it('answers a refused hx-get 401 with HX-Redirect to the challenge, returning to the current page', async () => {
    const t = matrixApp(express, htmxApp);
    const agent = await signInAs(t);
    const host = '127.0.0.1:3000';
    const res = await agent
      .get('/account/balance')
      .set('Host', host)
      .set(htmx(host, '/account?tab=2'))
      .expect(401);
    expect(res.headers['hx-redirect']).toBe('/2fa?returnTo=%2Faccount%3Ftab%3D2');
    expect(res.body.error).toMatchObject({ code: 'ERR_2FA_REQUIRED', verifyUrl: res.headers['hx-redirect'] });
  });

  it('does the same for an hx-post, and never follows HX-Current-URL to another host', async () => {
    const t = matrixApp(express, htmxApp);
    const agent = await signInAs(t);
    const post = await agent
      .post('/account/transfer')
      .set('Host', 'app.test')
      .set(htmx('app.test', '/account'))
      .expect(401);
    expect(post.headers['hx-redirect']).toBe('/2fa?returnTo=%2Faccount');
    const foreign = await agent
      .get('/account/balance')
      .set('Host', 'app.test')
      .set(htmx('evil.test', '/phish'))
      .expect(401);
    expect(foreign.headers['hx-redirect']).toBe('/2fa?returnTo=%2Faccount%2Fbalance');
  });

  it('sends a signed-out htmx request to loginPath with HX-Redirect', async () => {
    const t = matrixApp(express, htmxApp, { loginPath: '/login' });
    const res = await (await import('supertest'))
      .default(t.app)
      .get('/account/balance')
      .set(htmx('app.test', '/account'))
      .set('Host', 'app.test')
      .expect(401);
    expect(res.headers['hx-redirect']).toBe('/login');
  });

  it('lets the same requests through once verified', async () => {
    const t = matrixApp(express, htmxApp);
    const agent = await signInAs(t);
    await scriptFlow(t, agent);
    const res = await agent.get('/account/balance').set(htmx('127.0.0.1', '/account')).expect(200);
    expect(res.text).toContain('12.00');
    expect(res.headers['hx-redirect']).toBeUndefined();
  });
});

describe('every 401 of the guard carries verifyUrl', () => {
  it.each([
    ['GET, JSON', 'get', {}],
    ['GET, HTML', 'get', { Accept: 'text/html' }],
    ['POST, HTML', 'post', { Accept: 'text/html' }],
    ['POST, JSON', 'post', { 'Content-Type': 'application/json' }],
  ])('%s', async (_n, method, headers) => {
    const t = matrixApp(EXPRESS_MATRIX[2][1], htmxApp);
    const agent = await signInAs(t);
    const path = method === 'get' ? '/account/balance' : '/account/transfer';
    const res = await (method === 'get' ? agent.get(path) : agent.post(path)).set(headers);
    if (res.status === 303) return expect(res.headers.location).toMatch(/^\/2fa\?returnTo=/);
    expect(res.status).toBe(401);
    expect(res.body.error.verifyUrl).toMatch(/^\/2fa/);
  });
});
