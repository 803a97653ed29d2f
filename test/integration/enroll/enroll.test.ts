import { describe, expect, it } from 'vitest';
import { extractCode } from '../../../src/transports/memory.js';
import { EXPRESS_VERSIONS, json, signIn, USERS, wrongCode } from '../../helpers/create-app.js';
import { createEnrollApp, enrollCode, TYPED } from '../../helpers/enroll-app.js';

const hidden = (html: string, name: string) =>
  html.match(new RegExp(`name="${name}" value="([^"]*)"`))?.[1] ?? '';
const html = { Accept: 'text/html' };

describe.each(EXPRESS_VERSIONS)('enrollment on %s', (_name, express) => {
  describe('a user without a number', () => {
    it('is sent to the enrollment page by the guard (HTML and JSON) and by /2fa, with destination.missing', async () => {
      const t = createEnrollApp({ express });
      const agent = await signIn(t, 'dave');
      const page = await agent.get('/account').set(html).expect(303);
      expect(page.headers.location).toBe('/2fa/enroll?returnTo=%2Faccount');
      const api = await agent.get('/api/data').set('Accept', 'application/json').expect(401);
      expect(api.body.error).toMatchObject({
        code: 'ERR_2FA_REQUIRED',
        verifyUrl: '/2fa/enroll?returnTo=%2Fapi%2Fdata',
      });
      const challenge = await agent.get('/2fa?returnTo=%2Faccount').set(html).expect(303);
      expect(challenge.headers.location).toBe('/2fa/enroll?returnTo=%2Faccount');
      expect(t.events.filter((e) => e.type === 'destination.missing')).toEqual([
        expect.objectContaining({ userId: USERS.dave.id, reason: 'none' }),
      ]);
      const enroll = await agent.get('/2fa/enroll?returnTo=%2Faccount').set(html).expect(200);
      expect(enroll.headers['cache-control']).toBe('no-store');
      expect(enroll.text).toContain('Add your mobile number');
      expect(enroll.text).toContain('<select class="tfa-select" id="tfa-country" name="country"');
      expect(enroll.text).toContain('<option value="BE" selected>Belgium</option>');
      expect(enroll.text).toContain('<option value="NL">Netherlands</option>');
      expect(enroll.text).toContain('type="tel"');
      expect(enroll.text).toContain('autocomplete="tel"');
      expect(t.transport.messages).toEqual([]);
    });

    it('enrolls with JSON: a national number is normalised, the code goes to it, save runs only after the right code', async () => {
      const t = createEnrollApp({ express });
      const agent = await signIn(t, 'dave');
      const sent = await json(agent, '/2fa/enroll/send', {
        phone: TYPED.be.national,
        country: 'BE',
        returnTo: '/account',
      }).expect(200);
      expect(sent.headers['cache-control']).toBe('no-store');
      expect(sent.body).toEqual({
        status: 'sent',
        channel: 'sms',
        phone: TYPED.be.masked,
        expiresIn: 300,
        resendIn: 30,
        voiceIn: null,
        attemptsLeft: 5,
        fallback: null,
      });
      expect(t.transport.messages.map((m) => m.to)).toEqual([TYPED.be.e164]);
      expect(t.events.filter((e) => e.type === 'enroll.code_sent')).toEqual([
        expect.objectContaining({
          userId: USERS.dave.id,
          phone: TYPED.be.masked,
          country: 'BE',
          channel: 'sms',
        }),
      ]);
      expect(t.events.some((e) => e.type === 'code.sent')).toBe(false);
      const code = t.transport.lastCode(TYPED.be.e164) as string;
      expect(t.saves).toEqual([]);

      const wrong = await json(agent, '/2fa/enroll/verify', { code: wrongCode(code) }).expect(400);
      expect(wrong.body.error).toMatchObject({ code: 'ERR_2FA_CODE_INVALID', attemptsLeft: 4 });
      expect(t.saves).toEqual([]);

      const ok = await json(agent, '/2fa/enroll/verify', { code }).expect(200);
      expect(ok.body).toEqual({ verified: true, returnTo: '/account' });
      expect(t.saves).toEqual([{ userId: USERS.dave.id, phone: TYPED.be.e164, path: '/2fa/enroll/verify' }]);
      expect(t.db.get(USERS.dave.id)).toEqual({ phone: TYPED.be.e164, version: 2 });
      // Verified by the code, for the version save left: the guard passes at once.
      expect((await agent.get('/account').expect(200)).text).toBe('account of u-dave via sms');
      expect(t.events.find((e) => e.type === 'phone.changed')).toMatchObject({
        userId: USERS.dave.id,
        phone: TYPED.be.masked,
        reason: 'enrolled',
      });
      expect(t.events.find((e) => e.type === 'phone.changed')).not.toHaveProperty('previousPhone');
      // A first number has no old number to tell.
      expect(t.transport.messages).toHaveLength(1);
    });

    it('enrolls with plain forms (no JavaScript), national format of the chosen country', async () => {
      const t = createEnrollApp({ express });
      const agent = await signIn(t, 'dave');
      const page = await agent.get('/2fa/enroll?returnTo=%2Faccount').set(html).expect(200);
      const token = hidden(page.text, 'tfa_csrf');
      expect(token).not.toBe('');
      const sent = await agent
        .post('/2fa/enroll/send')
        .set(html)
        .type('form')
        .send({ tfa_csrf: token, returnTo: '/account', country: 'NL', phone: TYPED.nl.national })
        .expect(303);
      expect(sent.headers.location).toBe('/2fa/enroll?returnTo=%2Faccount');
      expect(t.transport.messages.map((m) => m.to)).toEqual([TYPED.nl.e164]);

      const codePage = await agent
        .get(sent.headers.location as string)
        .set(html)
        .expect(200);
      expect(codePage.text).toContain('id="tfa-code"');
      expect(codePage.text).toContain('autocomplete="one-time-code"');
      expect(codePage.text).toContain(`<strong>${TYPED.nl.masked}</strong>`);
      expect(codePage.text).toContain('action="/2fa/enroll/verify"');
      const code = t.transport.lastCode(TYPED.nl.e164) as string;

      const wrong = await agent
        .post('/2fa/enroll/verify')
        .set(html)
        .type('form')
        .send({ tfa_csrf: token, returnTo: '/account', code: wrongCode(code) })
        .expect(303);
      expect(wrong.headers.location).toBe('/2fa/enroll?returnTo=%2Faccount');
      const again = await agent
        .get(wrong.headers.location as string)
        .set(html)
        .expect(200);
      expect(again.text).toContain('That code is not right.');
      expect(t.saves).toEqual([]);

      const done = await agent
        .post('/2fa/enroll/verify')
        .set(html)
        .type('form')
        .send({ tfa_csrf: token, returnTo: '/account', code })
        .expect(303);
      expect(done.headers.location).toBe('/account');
      expect(t.saves.map((s) => s.phone)).toEqual([TYPED.nl.e164]);
      await agent.get('/account').set(html).expect(200);
    });

    it('reads international formats too, and refuses what is not a valid number (400) or not allowed (422)', async () => {
      const t = createEnrollApp({ express });
      const agent = await signIn(t, 'dave');
      const invalid = await json(agent, '/2fa/enroll/send', { phone: '0470 12', country: 'BE' }).expect(400);
      expect(invalid.body.error.code).toBe('ERR_2FA_PHONE_INVALID');
      const notString = await json(agent, '/2fa/enroll/send', { phone: ['+32470123499'] }).expect(400);
      expect(notString.body.error.code).toBe('ERR_2FA_PHONE_INVALID');
      const foreign = await json(agent, '/2fa/enroll/send', { phone: TYPED.fr.e164, country: 'BE' }).expect(
        422,
      );
      expect(foreign.body.error.code).toBe('ERR_2FA_DESTINATION_BLOCKED');
      expect(t.transport.messages).toEqual([]);
      await json(agent, '/2fa/enroll/send', { phone: '+32 470 12 34 99', country: 'NL' }).expect(200);
      expect(t.transport.messages.map((m) => m.to)).toEqual([TYPED.be.e164]);
    });

    it('sends the same code again after the cooldown (no phone in the body), and answers a double click without a second SMS', async () => {
      const t = createEnrollApp({ express });
      const agent = await signIn(t, 'dave');
      await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
      const twice = await json(agent, '/2fa/enroll/send', { phone: TYPED.be.national }).expect(200);
      expect(twice.body.resendIn).toBe(30);
      expect(t.transport.messages).toHaveLength(1);
      const early = await json(agent, '/2fa/enroll/send', {}).expect(429);
      expect(early.body.error.code).toBe('ERR_2FA_COOLDOWN');
      expect(early.headers['retry-after']).toBe('30');
      t.clock.advance(30_000);
      const again = await json(agent, '/2fa/enroll/send', {}).expect(200);
      expect(again.body.resendIn).toBe(60);
      expect(t.transport.messages.map((m) => m.to)).toEqual([TYPED.be.e164, TYPED.be.e164]);
      // The same code again (one challenge, one attempt budget).
      const [first, second] = t.transport.messages.map((m) => extractCode(m.text));
      expect(second).toBe(first);
      await json(agent, '/2fa/enroll/verify', { code: t.transport.lastCode(TYPED.be.e164) }).expect(200);
    });

    it('answers 409 to a resend or a verify with no enrollment code pending', async () => {
      const t = createEnrollApp({ express });
      const agent = await signIn(t, 'dave');
      expect((await json(agent, '/2fa/enroll/send', {}).expect(409)).body.error.code).toBe(
        'ERR_2FA_NO_CHALLENGE',
      );
      expect((await json(agent, '/2fa/enroll/verify', { code: '123456' }).expect(409)).body.error.code).toBe(
        'ERR_2FA_NO_CHALLENGE',
      );
    });
  });

  it('speaks the locale: page, country names and the API message', async () => {
    const t = createEnrollApp({ express, options: { locale: 'nl' } });
    const agent = await signIn(t, 'dave');
    const page = await agent.get('/2fa/enroll').set(html).expect(200);
    expect(page.text).toContain('<html lang="nl">');
    expect(page.text).toContain('Voeg uw mobiele nummer toe');
    expect(page.text).toContain('<option value="BE" selected>België</option>');
    expect(page.text).toMatch(/Bijvoorbeeld 04\d\d \d\d \d\d \d\d</);
    const invalid = await json(agent, '/2fa/enroll/send', { phone: '12' }).expect(400);
    expect(invalid.body.error.message).toBe('Voer een geldig mobiel nummer in.');
  });

  it("takes the app's own texts for the enrollment page (page.texts)", async () => {
    const t = createEnrollApp({
      express,
      options: { page: { texts: { enrollTitle: 'Your phone, please' } } },
    });
    const agent = await signIn(t, 'dave');
    const page = await agent.get('/2fa/enroll').set(html).expect(200);
    expect(page.text).toContain('<h1 class="tfa-title" id="tfa-title">Your phone, please</h1>');
  });

  it("takes the app's page.css like the challenge page, under the same headers", async () => {
    const t = createEnrollApp({
      express,
      options: {
        page: { css: '.tfa-card{border:3px solid rebeccapurple}</style><script>alert(1)</script>' },
      },
    });
    const agent = await signIn(t, 'dave');
    const page = await agent.get('/2fa/enroll').set(html).expect(200);
    expect(page.text).toContain(
      '.tfa-card{border:3px solid rebeccapurple}<\\/style><script>alert(1)<\\/script>',
    );
    expect(page.text).not.toContain('</style><script>alert(1)');
    expect(page.headers['content-security-policy']).toMatch(
      /^default-src 'none'; script-src 'nonce-[^']+'; style-src/,
    );
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['referrer-policy']).toBe('same-origin');
  });

  it("passes an error of the app's save to its error handler: no cookie, no event, nothing saved", async () => {
    const t = createEnrollApp({
      express,
      enroll: {
        save: () => {
          throw new Error('database down');
        },
      },
    });
    t.app.use(
      (
        _error: unknown,
        _req: unknown,
        res: { status(n: number): { send(b: string): void } },
        _next: unknown,
      ) => res.status(500).send('app error'),
    );
    const agent = await signIn(t, 'dave');
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    const res = await json(agent, '/2fa/enroll/verify', { code }).expect(500);
    expect(res.text).toBe('app error');
    expect(res.headers['set-cookie'] ?? []).not.toEqual(
      expect.arrayContaining([expect.stringMatching(/^2fa=/)]),
    );
    expect(t.events.some((e) => e.type === 'phone.changed')).toBe(false);
    expect(t.db.get(USERS.dave.id)?.phone).toBeNull();
    await agent.get('/api/data').set('Accept', 'application/json').expect(401);
  });

  it('is not there without the enroll option', async () => {
    const { createApp } = await import('../../helpers/create-app.js');
    const t = createApp({ express });
    const agent = await signIn(t);
    await agent.get('/2fa/enroll').expect(404);
    await json(agent, '/2fa/enroll/send', { phone: TYPED.be.e164 }).expect(404);
    expect(t.transport.messages).toEqual([]);
  });
});
