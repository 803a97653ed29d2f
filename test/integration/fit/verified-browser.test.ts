import { describe, expect, it } from 'vitest';
import {
  createApp,
  EXPRESS_VERSIONS,
  json,
  sendCode,
  signIn,
  type TestApp,
} from '../../helpers/create-app.js';

async function verifiedBrowser(t: TestApp) {
  const agent = await signIn(t);
  const code = await sendCode(t, agent);
  await json(agent, '/2fa/verify', { code }).expect(200);
  return agent;
}

describe.each(EXPRESS_VERSIONS)('a browser that is already verified, on %s', (_name, express) => {
  // Defect: the Back button, a bookmark or a second tab opened /2fa, which sent a new SMS on load.
  it('is sent from GET /2fa to returnTo (303), or to / without one', async () => {
    const t = createApp({ express });
    const agent = await verifiedBrowser(t);
    const back = await agent.get('/2fa?returnTo=%2Faccount').set('Accept', 'text/html').expect(303);
    expect(back.headers.location).toBe('/account');
    expect(back.headers['cache-control']).toBe('no-store');
    const bare = await agent.get('/2fa').set('Accept', 'text/html').expect(303);
    expect(bare.headers.location).toBe('/');
    const unsafe = await agent.get('/2fa?returnTo=%2F%2Fevil.com').set('Accept', 'text/html').expect(303);
    expect(unsafe.headers.location).toBe('/');
  });

  it('gets 200 { status: "verified", returnTo } from POST /2fa/send, and nothing is sent', async () => {
    const t = createApp({ express });
    const agent = await verifiedBrowser(t);
    const before = t.transport.messages.length;
    const res = await json(agent, '/2fa/send', { returnTo: '/account' }).expect(200);
    expect(res.body).toEqual({ status: 'verified', returnTo: '/account' });
    expect(t.transport.messages).toHaveLength(before);
    expect(t.events.filter((e) => e.type === 'code.sent')).toHaveLength(1);
  });

  it('is redirected to returnTo by a form POST /2fa/send (no JavaScript)', async () => {
    const t = createApp({ express });
    const agent = await verifiedBrowser(t);
    const res = await agent
      .post('/2fa/send')
      .type('form')
      .set('Accept', 'text/html')
      .set('Sec-Fetch-Site', 'same-origin')
      .send({ returnTo: '/account' })
      .expect(303);
    expect(res.headers.location).toBe('/account');
    expect(t.transport.messages).toHaveLength(1);
  });

  it('has no challenge for a code restored into a stale page: 409, and no failure is counted', async () => {
    const t = createApp({ express });
    const agent = await verifiedBrowser(t);
    // The page sent nothing on load, so there is no new challenge for the old code to be wrong for.
    await agent.get('/2fa').set('Accept', 'text/html').expect(303);
    const res = await json(agent, '/2fa/verify', { code: '000000' }).expect(409);
    expect(res.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
    expect(t.events.filter((e) => e.type === 'verify.failed')).toEqual([]);
  });

  it('is not taken for verified after tfa.clear (logout): the page renders again', async () => {
    const t = createApp({ express });
    const agent = await verifiedBrowser(t);
    await agent.post('/logout').expect(200);
    await agent.post('/login').type('form').send({ username: 'alice', password: 'alice-pw' }).expect(200);
    await agent.get('/2fa').set('Accept', 'text/html').expect(200);
  });
});
