import { describe, expect, it } from 'vitest';
import { json, signIn } from '../helpers/create-app.js';
import { createEnrollApp, enrollCode, TYPED } from '../helpers/enroll-app.js';
import {
  createLifecycleApp,
  createVault,
  formTokenOf,
  generateCodes,
  verifiedAgent,
} from '../helpers/lifecycle.js';

const html = { Accept: 'text/html' };

/**
 * A stale browser asked to step up (`within`) must be able to answer with a recovery code (the
 * phone may be the very thing that was lost): the recovery form must not send it straight back
 * to the route that asked, as if it were verified enough.
 */
describe('step-up answered with a recovery code', () => {
  it("the challenge page's recovery link keeps `within`, and the form shows for a stale verified browser", async () => {
    const t = createLifecycleApp();
    t.app.get('/sensitive', t.tfa.requireSecondFactor.within(60_000), (_req, res) => {
      res.json({ ok: true });
    });
    const agent = await verifiedAgent(t);
    const codes = await generateCodes(agent);
    t.clock.advance(60_001);

    const asked = await agent.get('/sensitive').set(html).expect(303);
    expect(asked.headers.location).toBe('/2fa?returnTo=%2Fsensitive&within=60000');
    const page = await agent
      .get(asked.headers.location as string)
      .set(html)
      .expect(200);
    const href = page.text.match(/href="([^"]+)" id="tfa-use-recovery"/)?.[1]?.replace(/&amp;/g, '&');
    expect(href).toBe('/2fa/recovery?returnTo=%2Fsensitive&within=60000');

    // Not a 303 back to /sensitive (which would send the browser round in a loop): the form.
    const form = await agent
      .get(href as string)
      .set(html)
      .expect(200);
    expect(form.text).toContain('id="tfa-recovery-form"');
    expect(form.text).toContain('action="/2fa/recovery/verify?within=60000"');

    // A wrong code in the plain form comes back to the form, still asked with `within`.
    const wrong = await agent
      .post('/2fa/recovery/verify?within=60000')
      .type('form')
      .set(html)
      .send({ tfa_csrf: formTokenOf(form.text), returnTo: '/sensitive', code: 'aaaa-bbbb-cccc' })
      .expect(303);
    expect(wrong.headers.location).toBe('/2fa/recovery?returnTo=%2Fsensitive&within=60000');
    await agent
      .get(wrong.headers.location as string)
      .set(html)
      .expect(200);

    await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(200);
    await agent.get('/sensitive').set('Accept', 'application/json').expect(200);
  });

  it('GET /2fa/recovery?within=ms: a browser verified recently enough goes back, a stale one gets the form', async () => {
    const t = createLifecycleApp();
    const agent = await verifiedAgent(t);
    await agent.get('/2fa/recovery?returnTo=%2Fsensitive&within=60000').set(html).expect(303);
    t.clock.advance(60_001);
    await agent.get('/2fa/recovery?returnTo=%2Fsensitive&within=60000').set(html).expect(200);
    // Without a step-up, a verified browser has nothing to do there.
    await agent.get('/2fa/recovery?returnTo=%2Fsensitive').set(html).expect(303);
  });

  it('a lost phone: signed in with a recovery code a while ago, the user can still change the number with another one', async () => {
    const vault = createVault();
    const t = createEnrollApp({ options: { recovery: vault.options } });
    const codes = await t.tfa.recovery.generate('u-alice');
    const agent = await signIn(t, 'alice');
    await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(200);
    t.clock.advance(10 * 60_000); // past enroll.maxAgeMs: a change needs a fresh factor

    const enroll = await agent.get('/2fa/enroll').set(html).expect(200);
    const reverify = enroll.text.match(/id="tfa-reverify-link" href="([^"]+)"/)?.[1]?.replace(/&amp;/g, '&');
    const page = await agent
      .get(reverify as string)
      .set(html)
      .expect(200);
    const href = page.text.match(/href="([^"]+)" id="tfa-use-recovery"/)?.[1]?.replace(/&amp;/g, '&');
    // The recovery form, not a 303 back to the enrollment page that asked for a fresh factor.
    await agent
      .get(href as string)
      .set(html)
      .expect(200);
    await json(agent, '/2fa/recovery/verify', { code: codes[1] }).expect(200);
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    await json(agent, '/2fa/enroll/verify', { code }).expect(200);
    expect(t.saves.map((s) => s.phone)).toEqual([TYPED.be.e164]);
  });
});
