import request from 'supertest';
import { describe, expect, it } from 'vitest';
import {
  createApp,
  EXPRESS_VERSIONS,
  json,
  sendCode,
  signIn,
  USERS,
  wrongCode,
} from '../helpers/create-app.js';

describe.each(EXPRESS_VERSIONS)('the whole flow on %s', (_name, express) => {
  describe('with JSON requests', () => {
    it('login → guard 401 → send → code from the transport → verify → guard passes', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);

      const blocked = await agent.get('/api/data').set('Accept', 'application/json').expect(401);
      expect(blocked.body.error).toEqual({
        code: 'ERR_2FA_REQUIRED',
        message: expect.any(String),
        verifyUrl: '/2fa?returnTo=%2Fapi%2Fdata',
      });

      const sent = await json(agent, '/2fa/send', { returnTo: '/api/data' }).expect(200);
      expect(sent.body).toEqual({
        status: 'sent',
        channel: 'sms',
        phone: '+32 4•• •• •• 01',
        expiresIn: 300,
        resendIn: 30,
        voiceIn: 30,
        attemptsLeft: 5,
        fallback: null,
      });
      expect(sent.headers['cache-control']).toBe('no-store');
      const code = t.transport.lastCode(USERS.alice.phone);
      expect(code).toMatch(/^\d{6}$/);
      expect(t.transport.messages).toHaveLength(1);
      expect(t.transport.messages[0]?.to).toBe('+32470123401');

      const verified = await json(agent, '/2fa/verify', { code }).expect(200);
      expect(verified.body).toEqual({ verified: true, returnTo: '/api/data' });

      const data = await agent.get('/api/data').expect(200);
      expect(data.body).toEqual({ ok: true, verifiedAt: t.clock.now() });
      expect((await agent.get('/account').expect(200)).text).toBe('account of u-alice via sms');
    });

    it("reports the challenge on GET /2fa/status: none before, 'verified' after", async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      expect((await agent.get('/2fa/status').expect(200)).body).toEqual({ status: 'none' });
      const code = await sendCode(t, agent);
      t.clock.advance(10_000);
      const status = await agent.get('/2fa/status').expect(200);
      expect(status.body).toMatchObject({
        status: 'sent',
        channel: 'sms',
        expiresIn: 290,
        resendIn: 20,
        voiceIn: 20,
        attemptsLeft: 5,
      });
      expect(status.headers['cache-control']).toBe('no-store');
      await json(agent, '/2fa/verify', { code }).expect(200);
      expect((await agent.get('/2fa/status').expect(200)).body).toEqual({ status: 'verified' });
    });

    it('counts a wrong code, then accepts the right one', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      const wrong = await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
      expect(wrong.body.error).toMatchObject({ code: 'ERR_2FA_CODE_INVALID', attemptsLeft: 4 });
      await json(agent, '/2fa/verify', { code }).expect(200);
    });

    it('accepts the code with spaces or a dash, as people type it', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      await json(agent, '/2fa/verify', { code: ` ${code.slice(0, 3)}-${code.slice(3)} ` }).expect(200);
    });

    it('does not send again when the page is reloaded: /send answers with the live challenge', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      await sendCode(t, agent);
      t.clock.advance(5_000);
      const again = await json(agent, '/2fa/send').expect(200);
      expect(again.body).toMatchObject({ status: 'sent', resendIn: 25 });
      expect(t.transport.messages).toHaveLength(1);
    });

    it('resends the same code after the cooldown, then doubles the cooldown', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      const early = await json(agent, '/2fa/resend').expect(429);
      expect(early.body.error.code).toBe('ERR_2FA_COOLDOWN');
      expect(early.headers['retry-after']).toBe('30');
      t.clock.advance(30_000);
      const resent = await json(agent, '/2fa/resend').expect(200);
      expect(resent.body).toMatchObject({ status: 'sent', channel: 'sms', resendIn: 60 });
      expect(t.transport.messages).toHaveLength(2);
      expect(t.transport.lastCode(USERS.alice.phone)).toBe(code);
      t.clock.advance(59_000);
      expect((await json(agent, '/2fa/resend').expect(429)).headers['retry-after']).toBe('1');
      await json(agent, '/2fa/verify', { code }).expect(200);
    });

    it('places a voice call reading the same code, digit by digit, twice', async () => {
      const t = createApp({ express, options: { appName: 'Acme' } });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      t.clock.advance(30_000);
      const voice = await json(agent, '/2fa/voice').expect(200);
      expect(voice.body).toMatchObject({ status: 'sent', channel: 'voice' });
      const call = t.transport.messages.at(-1);
      expect(call?.channel).toBe('voice');
      expect(call?.language).toBe('en');
      const spoken = code.split('').join(', ');
      expect(call?.text).toBe(`Your verification code for Acme is: ${spoken}. Again: ${spoken}.`);
      expect((await agent.get('/2fa/status')).body.status).toBe('calling');
      await json(agent, '/2fa/verify', { code }).expect(200);
      expect((await agent.get('/account').expect(200)).text).toBe('account of u-alice via voice');
    });
  });

  describe('with HTML form posts (no JavaScript)', () => {
    it('login → guard redirects → page → send → verify → 303 back to the protected page', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      const redirect = await agent.get('/account').set('Accept', 'text/html').expect(303);
      expect(redirect.headers.location).toBe('/2fa?returnTo=%2Faccount');

      const page = await agent.get('/2fa?returnTo=%2Faccount').set('Accept', 'text/html').expect(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(t.transport.messages).toHaveLength(0); // GET never sends
      const token = page.text.match(/name="tfa_csrf" value="([^"]+)"/)?.[1];
      expect(token).toBeTruthy();
      expect(page.text).toContain('name="returnTo" value="/account"');

      const sent = await agent
        .post('/2fa/send')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token, returnTo: '/account' })
        .expect(303);
      expect(sent.headers.location).toBe('/2fa');
      const code = t.transport.lastCode(USERS.alice.phone);

      const withField = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
      expect(withField.text).toContain('autocomplete="one-time-code"');
      expect(withField.text).toContain('inputmode="numeric"');

      const wrong = await agent
        .post('/2fa/verify')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token, code: wrongCode(code ?? '') })
        .expect(303);
      // The error goes to the page in a one-time cookie, not in the address.
      expect(wrong.headers.location).toBe('/2fa?returnTo=%2F');
      const shown = await agent
        .get(wrong.headers.location ?? '')
        .set('Accept', 'text/html')
        .expect(200);
      expect(shown.text).toContain('That code is not right');
      expect(shown.text).toContain('4 attempts left.');

      const ok = await agent
        .post('/2fa/verify')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token, code })
        .expect(303);
      expect(ok.headers.location).toBe('/account');
      await agent.get('/account').set('Accept', 'text/html').expect(200);
    });

    it('refuses a form post without its token', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      const res = await agent.post('/2fa/send').type('form').send({ returnTo: '/' }).expect(403);
      expect(res.body.error.code).toBe('ERR_2FA_FORBIDDEN_ORIGIN');
      expect(t.transport.messages).toHaveLength(0);
    });
  });

  describe('without a first factor', () => {
    it('answers every route with the same 401', async () => {
      const t = createApp({ express });
      const anonymous = request(t.app);
      const answers = await Promise.all([
        anonymous.post('/2fa/send').set('Content-Type', 'application/json').send('{}'),
        anonymous.post('/2fa/resend').set('Content-Type', 'application/json').send('{}'),
        anonymous.post('/2fa/voice').set('Content-Type', 'application/json').send('{}'),
        anonymous.post('/2fa/verify').set('Content-Type', 'application/json').send('{"code":"123456"}'),
        anonymous.get('/2fa/status'),
        anonymous.get('/2fa'),
        anonymous.get('/account'),
      ]);
      for (const res of answers) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: { code: 'ERR_2FA_UNAUTHENTICATED', message: 'Sign in first.' } });
      }
      expect(t.transport.messages).toHaveLength(0);
    });

    it('answers 401 before looking at the request: cross-site, malformed or oversized alike', async () => {
      const t = createApp({ express });
      const anonymous = request(t.app);
      const answers = await Promise.all([
        anonymous
          .post('/2fa/send')
          .set('Sec-Fetch-Site', 'cross-site')
          .set('Content-Type', 'application/json')
          .send('{}'),
        anonymous.post('/2fa/verify').set('Content-Type', 'application/json').send('{"code":'),
        anonymous.post('/2fa/verify').set('Content-Type', 'text/xml').send('<x/>'),
      ]);
      for (const res of answers) expect(res.body.error.code).toBe('ERR_2FA_UNAUTHENTICATED');
    });

    it('sends HTML clients to loginPath when it is set', async () => {
      const t = createApp({ express, options: { loginPath: '/login' } });
      const res = await request(t.app).get('/account').set('Accept', 'text/html').expect(303);
      expect(res.headers.location).toBe('/login');
    });
  });

  describe('logout and session changes', () => {
    it('ends the verified state on logout, and a new login must verify again', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      await json(agent, '/2fa/verify', { code }).expect(200);
      await agent.post('/logout').expect(200);
      await agent
        .post('/login')
        .type('form')
        .send({ username: 'alice', password: USERS.alice.password })
        .expect(200);
      await agent.get('/api/data').expect(401);
    });

    it('ends the verified state when the user version changes (password or phone change)', async () => {
      const t = createApp({ express });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      await json(agent, '/2fa/verify', { code }).expect(200);
      await agent.get('/api/data').expect(200);
      t.versions.set(USERS.alice.id, 1);
      await agent.get('/api/data').expect(401);
    });

    it('expires the verified state after verifiedTtlMs, from the signed payload', async () => {
      const t = createApp({ express, options: { verifiedTtlMs: 60 * 60_000 } });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      await json(agent, '/2fa/verify', { code }).expect(200);
      t.clock.advance(60 * 60_000 - 1);
      await agent.get('/api/data').expect(200);
      t.clock.advance(1);
      await agent.get('/api/data').expect(401);
    });
  });
});
