import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../../src/errors.js';
import { createApp, EXPRESS_VERSIONS, json, sendCode, signIn, USERS } from '../../helpers/create-app.js';

const html = { Accept: 'text/html' };

/** The test app with a sensitive route behind `within(60 s)`. */
function stepUpApp(express: (typeof EXPRESS_VERSIONS)[number][1]) {
  const t = createApp({ express });
  t.app.get('/sensitive', t.tfa.requireSecondFactor.within(60_000), (req, res) => {
    res.json({ ok: true, verifiedAt: req.secondFactor?.verifiedAt });
  });
  t.app.post('/sensitive', t.tfa.requireSecondFactor.within(60_000), (_req, res) => {
    res.json({ done: true });
  });
  return t;
}

async function verify(
  t: ReturnType<typeof createApp>,
  agent: Awaited<ReturnType<typeof signIn>>,
  path = '/2fa',
) {
  const code = await sendCode(t, agent);
  await json(agent, `${path}/verify`, { code }).expect(200);
}

describe.each(EXPRESS_VERSIONS)('step-up with requireSecondFactor.within(ms) on %s', (_name, express) => {
  it('passes a verification at most ms old, and sets req.secondFactor', async () => {
    const t = stepUpApp(express);
    const agent = await signIn(t);
    await verify(t, agent);
    t.clock.advance(60_000);
    const res = await agent.get('/sensitive').expect(200);
    expect(res.body).toEqual({ ok: true, verifiedAt: t.clock.now() - 60_000 });
  });

  it('refuses an older one like the guard (303 for pages, 401 with verifyUrl for APIs), while the plain guard still passes', async () => {
    const t = stepUpApp(express);
    const agent = await signIn(t);
    await verify(t, agent);
    t.clock.advance(60_001);
    await agent.get('/account').expect(200);
    const page = await agent.get('/sensitive').set(html).expect(303);
    expect(page.headers.location).toBe('/2fa?returnTo=%2Fsensitive&within=60000');
    expect(page.headers['cache-control']).toBe('no-store');
    const api = await agent.get('/sensitive').set('Accept', 'application/json').expect(401);
    expect(api.body.error).toEqual({
      code: 'ERR_2FA_REQUIRED',
      message: expect.any(String),
      verifyUrl: '/2fa?returnTo=%2Fsensitive&within=60000',
    });
    const post = await json(agent, '/sensitive').expect(401);
    expect(post.body.error.verifyUrl).toBe('/2fa?within=60000');
  });

  it('refuses a browser that never verified, and one with no first factor', async () => {
    const t = stepUpApp(express);
    const agent = await signIn(t);
    await agent.get('/sensitive').set('Accept', 'application/json').expect(401);
    const { default: request } = await import('supertest');
    const anonymous = await request(t.app).get('/sensitive').set('Accept', 'application/json').expect(401);
    expect(anonymous.body.error.code).toBe('ERR_2FA_UNAUTHENTICATED');
  });

  it('/2fa asks a verified-but-stale browser again, and the new code passes the step-up', async () => {
    const t = stepUpApp(express);
    const agent = await signIn(t);
    await verify(t, agent);
    t.clock.advance(5 * 60_000);
    const redirect = await agent.get('/sensitive').set(html).expect(303);
    const page = await agent
      .get(redirect.headers.location as string)
      .set(html)
      .expect(200);
    expect(page.text).toContain('To keep your account safe, we will text a code to');
    expect(page.text).toContain('formaction="/2fa/send?within=60000"');
    expect(page.text).not.toContain('"status":"verified"');
    // The page's script sends with the hint, so it is not told "verified" and sent back in a loop.
    const sent = await json(agent, '/2fa/send?within=60000', { returnTo: '/sensitive' }).expect(200);
    expect(sent.body.status).toBe('sent');
    expect((await agent.get('/2fa/status?within=60000').expect(200)).body.status).toBe('sent');
    const verified = await json(agent, '/2fa/verify', {
      code: t.transport.lastCode(USERS.alice.phone),
    }).expect(200);
    expect(verified.body).toEqual({ verified: true, returnTo: '/sensitive' });
    await agent.get('/sensitive').expect(200);
    // Without the hint, a verified browser is sent on as before.
    expect((await json(agent, '/2fa/send', { returnTo: '/x' }).expect(200)).body).toEqual({
      status: 'verified',
      returnTo: '/x',
    });
  });

  it('throws TwoFactorConfigError for a within that is not a whole number of ms up to verifiedTtlMs', () => {
    const t = createApp({ express });
    for (const bad of [0, -1, 1.5, Number.NaN, 43_200_001, '60000' as unknown as number]) {
      expect(() => t.tfa.requireSecondFactor.within(bad)).toThrow(TwoFactorConfigError);
    }
    expect(() => t.tfa.requireSecondFactor.within(0)).toThrow(/requireSecondFactor\.within/);
  });
});
