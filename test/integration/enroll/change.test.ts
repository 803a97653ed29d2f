import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { memoryTransport } from '../../../src/transports/memory.js';
import type { SmsMessage, VoiceMessage } from '../../../src/transports/transport.js';
import { EXPRESS_VERSIONS, json, signIn, USERS } from '../../helpers/create-app.js';
import { createEnrollApp, enrollCode, TYPED, verifiedAgent } from '../../helpers/enroll-app.js';
import { signInAgain } from '../../helpers/lifecycle.js';

const html = { Accept: 'text/html' };
const hidden = (text: string, name: string) =>
  text.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1] ?? '';

describe.each(EXPRESS_VERSIONS)('changing the number on %s', (_name, express) => {
  it('with a fresh verification: code to the new number, save, notice to the old one, phone.changed, other browsers end', async () => {
    const t = createEnrollApp({ express });
    const other = await signIn(t, 'alice');
    await verifiedAgent(t, other);
    await other.get('/account').expect(200);
    const agent = await signIn(t, 'alice');
    await verifiedAgent(t, agent);

    const page = await agent.get('/2fa/enroll').set(html).expect(200);
    expect(page.text).toContain('Change your mobile number');
    expect(page.text).toContain('We will text your current number that it was replaced.');
    expect(page.text).toContain('id="tfa-phone"');

    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    expect(t.saves).toEqual([]);
    const done = await json(agent, '/2fa/enroll/verify', { code }).expect(200);
    expect(done.body).toEqual({ verified: true, returnTo: '/' });
    expect(t.saves).toEqual([{ userId: USERS.alice.id, phone: TYPED.be.e164, path: '/2fa/enroll/verify' }]);

    // The old number is told, with no code and only the new number's last digits.
    const notice = t.transport.messages.at(-1);
    expect(notice?.to).toBe(USERS.alice.phone);
    expect(notice?.text).toBe(
      'The phone number for your account was changed to a number ending in 99. If this was not you, contact support now.',
    );
    const changed = t.events.filter((e) => e.type === 'phone.changed');
    expect(changed).toEqual([
      expect.objectContaining({
        userId: USERS.alice.id,
        phone: TYPED.be.masked,
        previousPhone: '+32 4•• •• •• 01',
        reason: 'changed',
        notified: true,
      }),
    ]);

    // This browser stays verified, re-issued for the new version; the other one is signed out of 2FA.
    expect((await agent.get('/account').expect(200)).text).toBe('account of u-alice via sms');
    expect((await other.get('/account').set(html).expect(303)).headers.location).toBe(
      '/2fa?returnTo=%2Faccount',
    );
    // Sign-in codes now go to the new number.
    await json(other, '/2fa/send').expect(200);
    expect(t.transport.messages.at(-1)?.to).toBe(TYPED.be.e164);
  });

  it('texts the notice in the locale, naming appName', async () => {
    const t = createEnrollApp({ express, options: { locale: 'fr', appName: 'MonApp' } });
    const agent = await signIn(t, 'alice');
    await verifiedAgent(t, agent);
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    await json(agent, '/2fa/enroll/verify', { code }).expect(200);
    expect(t.transport.messages.at(-1)?.text).toBe(
      "Le numéro de téléphone de MonApp a été remplacé par un numéro se terminant par 99. Si ce n'était pas vous, contactez le support sans attendre.",
    );
  });

  it('answers the change even when the provider never answers the notice (bounded like every provider call)', async () => {
    // The app's transport records into t.transport until `hang`, then never answers the old number.
    let hang = false;
    const recorder = memoryTransport();
    const transport = {
      timeoutMs: 50,
      sendSms: (msg: SmsMessage) =>
        hang && msg.to === USERS.alice.phone ? new Promise<never>(() => {}) : t.transport.sendSms(msg),
      sendVoice: (msg: VoiceMessage) => t.transport.sendVoice(msg),
      health: () => recorder.health(),
    };
    const t = createEnrollApp({ express, transport });
    const agent = await signIn(t, 'alice');
    await verifiedAgent(t, agent);
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    hang = true;
    await json(agent, '/2fa/enroll/verify', { code }).expect(200);
    expect(t.saves).toHaveLength(1);
    expect(t.events.find((e) => e.type === 'phone.changed')).toMatchObject({ notified: false });
    expect(t.logs.join('\n')).toContain('could not be sent');
  });

  it('with notifyOld: false, no notice goes to the old number', async () => {
    const t = createEnrollApp({ express, enroll: { notifyOld: false } });
    const agent = await signIn(t, 'alice');
    await verifiedAgent(t, agent);
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    await json(agent, '/2fa/enroll/verify', { code }).expect(200);
    expect(t.transport.messages.filter((m) => m.to === USERS.alice.phone)).toHaveLength(1); // the sign-in code only
    expect(t.events.find((e) => e.type === 'phone.changed')).not.toHaveProperty('notified');
  });

  it('with a stale verification: 401 ERR_2FA_REVERIFY_REQUIRED, the page leads to /2fa, which asks again, then the change goes through', async () => {
    const t = createEnrollApp({ express });
    const agent = await signIn(t, 'alice');
    await verifiedAgent(t, agent);
    t.clock.advance(5 * 60_000 + 1);
    const refused = await json(agent, '/2fa/enroll/send', { phone: TYPED.be.national }).expect(401);
    expect(refused.body.error).toEqual({
      code: 'ERR_2FA_REVERIFY_REQUIRED',
      message: 'Confirm it is you with a code to your current number first.',
      verifyUrl: '/2fa?returnTo=%2F2fa%2Fenroll&within=300000',
    });
    expect(t.transport.messages).toHaveLength(1);

    const page = await agent.get('/2fa/enroll').set(html).expect(200);
    expect(page.text).toContain('To change your number, first confirm it is you with a code sent to');
    expect(page.text).toContain('<strong>+32 4•• •• •• 01</strong>');
    expect(page.text).not.toContain('id="tfa-phone"');
    expect(page.text).toContain('href="/2fa?returnTo=%2F2fa%2Fenroll&amp;within=300000"');

    // The challenge page does not wave a verified-but-stale browser through: it asks again.
    const challenge = await agent.get('/2fa?returnTo=%2F2fa%2Fenroll&within=300000').set(html).expect(200);
    expect(challenge.text).toContain('formaction="/2fa/send?within=300000"');
    expect((await agent.get('/2fa/status?within=300000').expect(200)).body).toEqual({ status: 'none' });
    // Without the hint it is verified as before.
    await agent.get('/2fa').set(html).expect(303);
    const sent = await json(agent, '/2fa/send?within=300000', { returnTo: '/2fa/enroll' }).expect(200);
    expect(sent.body.status).toBe('sent');
    const again = await json(agent, '/2fa/verify', { code: t.transport.lastCode(USERS.alice.phone) }).expect(
      200,
    );
    expect(again.body.returnTo).toBe('/2fa/enroll');

    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    await json(agent, '/2fa/enroll/verify', { code }).expect(200);
    expect(t.saves.map((s) => s.phone)).toEqual([TYPED.be.e164]);
  });

  it('re-verifies a stale browser with plain forms (no JavaScript), keeping the hint across the posts', async () => {
    const t = createEnrollApp({ express });
    const agent = await signIn(t, 'alice');
    await verifiedAgent(t, agent);
    t.clock.advance(10 * 60_000);
    const page = await agent.get('/2fa?returnTo=%2F2fa%2Fenroll&within=300000').set(html).expect(200);
    const token = hidden(page.text, 'tfa_csrf');
    const sent = await agent
      .post('/2fa/send?within=300000')
      .set(html)
      .type('form')
      .send({ tfa_csrf: token, returnTo: '/2fa/enroll' })
      .expect(303);
    expect(sent.headers.location).toBe('/2fa?within=300000');
    const codePage = await agent.get('/2fa?within=300000').set(html).expect(200);
    expect(codePage.text).toContain('We sent a code by SMS to');
    const verified = await agent
      .post('/2fa/verify?within=300000')
      .set(html)
      .type('form')
      .send({ tfa_csrf: token, returnTo: '/2fa/enroll', code: t.transport.lastCode(USERS.alice.phone) })
      .expect(303);
    expect(verified.headers.location).toBe('/2fa/enroll');
    const enroll = await agent.get('/2fa/enroll').set(html).expect(200);
    expect(enroll.text).toContain('id="tfa-phone"');
  });

  it('a remembered device is not a fresh factor for a change, and the change ends it', async () => {
    const t = createEnrollApp({ express, options: { rememberDevice: {} } });
    const device = await signIn(t, 'alice');
    await json(device, '/2fa/send').expect(200);
    await json(device, '/2fa/verify', {
      code: t.transport.lastCode(USERS.alice.phone),
      remember: true,
    }).expect(200);
    await signInAgain(device);
    expect((await device.get('/account').expect(200)).text).toBe('account of u-alice via device');
    const refused = await json(device, '/2fa/enroll/send', { phone: TYPED.be.national }).expect(401);
    expect(refused.body.error.code).toBe('ERR_2FA_REVERIFY_REQUIRED');

    const other = await signIn(t, 'alice');
    await verifiedAgent(t, other);
    const code = await enrollCode(t, other, TYPED.be.national, TYPED.be.e164);
    await json(other, '/2fa/enroll/verify', { code }).expect(200);
    await signInAgain(device);
    await device.get('/account').set('Accept', 'application/json').expect(401);
  });

  it('a first-factor-only browser (never verified) must verify first too', async () => {
    const t = createEnrollApp({ express });
    const agent = await signIn(t, 'alice');
    const refused = await json(agent, '/2fa/enroll/send', { phone: TYPED.be.national }).expect(401);
    expect(refused.body.error.code).toBe('ERR_2FA_REVERIFY_REQUIRED');
    expect(t.transport.messages).toEqual([]);
  });

  it('a user with no first factor gets the same 401 as every route', async () => {
    const t = createEnrollApp({ express });
    const res = await request(t.app).get('/2fa/enroll').set(html).expect(401);
    expect(res.body.error.code).toBe('ERR_2FA_UNAUTHENTICATED');
  });
});
