import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { json, signIn, USERS, wrongCode } from '../helpers/create-app.js';
import { createEnrollApp, enrollCode, TYPED, verifiedAgent } from '../helpers/enroll-app.js';

/** Distinct valid Belgian mobiles: +3247X12345N. */
const be = (i: number) => `+324751234${String(i).padStart(2, '0')}`;

describe('enrollment cannot pump SMS beyond the budgets', () => {
  it("one account trying number after number stops at the user's budget (limits.phonePerHour), send.blocked reason user", async () => {
    const t = createEnrollApp();
    for (let i = 0; i < 8; i++) t.phones.set(`pump:${i}`, be(i));
    const agent = await signIn(t, 'dave');
    for (let i = 0; i < 5; i++) await json(agent, '/2fa/enroll/send', { phone: be(i) }).expect(200);
    const refused = await json(agent, '/2fa/enroll/send', { phone: be(5) }).expect(429);
    expect(refused.body.error.code).toBe('ERR_2FA_RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(t.transport.messages).toHaveLength(5);
    expect(t.events.filter((e) => e.type === 'send.blocked').map((e) => e.reason)).toEqual(['user']);
    // A new session (log out, log in) does not reset it: the budget is the account's.
    const again = await signIn(t, 'dave');
    await json(again, '/2fa/enroll/send', { phone: be(6) }).expect(429);
    expect(t.transport.messages).toHaveLength(5);
  });

  it("many accounts from one client stop at the IP's budget", async () => {
    const t = createEnrollApp({
      noPhone: ['alice', 'bob', 'carol', 'dave'],
      options: { limits: { ipPerHour: 7 } },
    });
    for (let i = 0; i < 12; i++) t.phones.set(`pump:${i}`, be(i));
    let n = 0;
    const answers: number[] = [];
    for (const name of ['alice', 'bob', 'carol'] as const) {
      const agent = await signIn(t, name);
      for (let i = 0; i < 4; i++)
        answers.push((await json(agent, '/2fa/enroll/send', { phone: be(n++) })).status);
    }
    expect(answers.filter((s) => s === 200)).toHaveLength(7);
    expect(t.transport.messages).toHaveLength(7);
    expect(t.events.filter((e) => e.type === 'send.blocked').map((e) => e.reason)).toContain('ip');
  });

  it("a number's own budget counts sign-in and enrollment sends together", async () => {
    const t = createEnrollApp({ options: { limits: { phonePerHour: 2 } } });
    const alice = await signIn(t, 'alice');
    await json(alice, '/2fa/send').expect(200);
    t.clock.advance(30_000);
    await json(alice, '/2fa/resend').expect(200);
    const dave = await signIn(t, 'dave');
    const refused = await json(dave, '/2fa/enroll/send', { phone: USERS.alice.phone }).expect(429);
    expect(refused.body.error.code).toBe('ERR_2FA_RATE_LIMITED');
    expect(t.transport.messages).toHaveLength(2);
  });

  it('numbers of one prefix stop at the prefix budget, across accounts', async () => {
    const t = createEnrollApp({ noPhone: ['bob', 'dave'], options: { limits: { prefixPerHour: 3 } } });
    for (let i = 0; i < 6; i++) t.phones.set(`pump:${i}`, be(i));
    const bob = await signIn(t, 'bob');
    const dave = await signIn(t, 'dave');
    await json(bob, '/2fa/enroll/send', { phone: be(0) }).expect(200);
    await json(bob, '/2fa/enroll/send', { phone: be(1) }).expect(200);
    await json(dave, '/2fa/enroll/send', { phone: be(2) }).expect(200);
    await json(dave, '/2fa/enroll/send', { phone: be(3) }).expect(429);
    expect(t.transport.messages).toHaveLength(3);
  });

  it('beforeSend sees the typed number and can veto it (422, nothing sent)', async () => {
    const seen: string[] = [];
    const t = createEnrollApp({
      options: {
        beforeSend: (send) => {
          seen.push(send.phone);
          return send.phone !== TYPED.be2.e164;
        },
      },
    });
    const agent = await signIn(t, 'dave');
    const vetoed = await json(agent, '/2fa/enroll/send', { phone: TYPED.be2.national }).expect(422);
    expect(vetoed.body.error.code).toBe('ERR_2FA_DESTINATION_BLOCKED');
    expect(t.transport.messages).toEqual([]);
    await json(agent, '/2fa/enroll/send', { phone: TYPED.be.national }).expect(200);
    expect(seen).toEqual([TYPED.be2.e164, TYPED.be.e164]);
  });
});

describe('enrollment never reaches a country outside the allow-list', () => {
  it.each([
    ['an international number', TYPED.fr.e164, 'BE'],
    ['a 00-prefixed number', '0033612345678', 'BE'],
    ['a national number with a country not allowed', TYPED.fr.national, 'FR'],
    ['a +1 number', '+1 202 555 0123', 'NL'],
    ['an array', ['+32470123499'], 'BE'],
    ['an object', { e164: '+32470123499' }, 'BE'],
    ['junk', '+32 470 12 34 99 <script>', 'BE'],
  ])('refuses %s without calling the provider', async (_n, phone, country) => {
    const t = createEnrollApp();
    const agent = await signIn(t, 'dave');
    const res = await json(agent, '/2fa/enroll/send', { phone, country });
    expect([400, 422]).toContain(res.status);
    expect(['ERR_2FA_PHONE_INVALID', 'ERR_2FA_DESTINATION_BLOCKED']).toContain(res.body.error.code);
    expect(t.transport.messages).toEqual([]);
  });
});

describe('save is called only after the code verified, and only with the number it went to', () => {
  it('not after the send, a wrong code, an expired code, or a burnt challenge', async () => {
    const t = createEnrollApp();
    const agent = await signIn(t, 'dave');
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    for (let i = 0; i < 4; i++)
      await json(agent, '/2fa/enroll/verify', { code: wrongCode(code) }).expect(400);
    t.clock.advance(5 * 60_000);
    const expired = await json(agent, '/2fa/enroll/verify', { code }).expect(410);
    expect(expired.body.error.code).toBe('ERR_2FA_CODE_EXPIRED');
    expect(t.saves).toEqual([]);
    t.clock.advance(60 * 60_000);
    const fresh = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    for (let i = 0; i < 5; i++) await json(agent, '/2fa/enroll/verify', { code: wrongCode(fresh) });
    const burnt = await json(agent, '/2fa/enroll/verify', { code: fresh });
    expect(burnt.status).toBe(429);
    expect(t.saves).toEqual([]);
    await agent.get('/account').set('Accept', 'application/json').expect(401);
  });

  it('a second number replaces the first: the first code no longer counts, and a phone in the verify body is ignored', async () => {
    const t = createEnrollApp();
    const agent = await signIn(t, 'dave');
    const first = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    const second = await enrollCode(t, agent, TYPED.nl.national, TYPED.nl.e164, 'NL');
    if (first !== second) {
      const old = await json(agent, '/2fa/enroll/verify', { code: first }).expect(400);
      expect(old.body.error.code).toBe('ERR_2FA_CODE_INVALID');
    }
    await json(agent, '/2fa/enroll/verify', { code: second, phone: TYPED.be.e164, country: 'BE' }).expect(
      200,
    );
    expect(t.saves.map((s) => s.phone)).toEqual([TYPED.nl.e164]);
  });

  it('exactly once under 10 parallel right answers', async () => {
    const t = createEnrollApp();
    const agent = await signIn(t, 'dave');
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => json(agent, '/2fa/enroll/verify', { code })),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(t.saves).toHaveLength(1);
  });

  it('a sign-in code never saves a number, and an enrollment code never verifies a sign-in', async () => {
    const t = createEnrollApp();
    const alice = await signIn(t, 'alice');
    await json(alice, '/2fa/send').expect(200);
    const signInCode = t.transport.lastCode(USERS.alice.phone);
    const misuse = await json(alice, '/2fa/enroll/verify', { code: signInCode });
    expect(misuse.status).toBe(401); // a change needs a fresh verification first
    expect(t.saves).toEqual([]);

    const dave = await signIn(t, 'dave');
    const code = await enrollCode(t, dave, TYPED.be.national, TYPED.be.e164);
    const crossed = await json(dave, '/2fa/verify', { code }).expect(409);
    expect(crossed.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
    await dave.get('/account').set('Accept', 'application/json').expect(401);
    expect(t.saves).toEqual([]);
  });

  it('an enrollment code typed in another session of the same user is no code at all', async () => {
    const t = createEnrollApp();
    const first = await signIn(t, 'dave');
    const second = await signIn(t, 'dave');
    const code = await enrollCode(t, first, TYPED.be.national, TYPED.be.e164);
    const res = await json(second, '/2fa/enroll/verify', { code }).expect(409);
    expect(res.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
    expect(t.saves).toEqual([]);
  });

  it('wrong enrollment codes count toward the account lockout, shared with sign-in', async () => {
    const t = createEnrollApp({ noPhone: ['dave'] });
    const agent = await signIn(t, 'dave');
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    for (let i = 0; i < 5; i++) await json(agent, '/2fa/enroll/verify', { code: wrongCode(code) });
    const locked = await json(agent, '/2fa/enroll/send', { phone: TYPED.be2.national }).expect(429);
    expect(locked.body.error.code).toBe('ERR_2FA_LOCKED');
    expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(5);
  });
});

describe('a change of number needs a fresh second factor', () => {
  it('refuses the send, and the verify, once the verification is older than enroll.maxAgeMs', async () => {
    const t = createEnrollApp({ enroll: { maxAgeMs: 60_000 } });
    const agent = await signIn(t, 'alice');
    await verifiedAgent(t, agent);
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    t.clock.advance(60_000 + 5 * 60_000 + 1);
    const late = await json(agent, '/2fa/enroll/verify', { code }).expect(401);
    expect(late.body.error.code).toBe('ERR_2FA_REVERIFY_REQUIRED');
    await json(agent, '/2fa/enroll/send', { phone: TYPED.be2.national }).expect(401);
    expect(t.saves).toEqual([]);
  });

  it("another browser's fresh verification does not count, nor a verified cookie from before a version bump", async () => {
    const t = createEnrollApp();
    const verified = await signIn(t, 'alice');
    await verifiedAgent(t, verified);
    const other = await signIn(t, 'alice');
    await json(other, '/2fa/enroll/send', { phone: TYPED.be.national }).expect(401);
    (t.db.get(USERS.alice.id) as { version: number }).version += 1;
    await json(verified, '/2fa/enroll/send', { phone: TYPED.be.national }).expect(401);
    expect(t.transport.messages.filter((m) => m.to === TYPED.be.e164)).toEqual([]);
  });
});

describe("the old number's notice cannot be suppressed by the request", () => {
  it('whatever the body and the query say, and even with its budgets spent', async () => {
    const t = createEnrollApp({ options: { limits: { phonePerHour: 1 } } });
    const agent = await signIn(t, 'alice');
    await verifiedAgent(t, agent); // spends the old number's only hourly send
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    await json(agent, '/2fa/enroll/verify?notifyOld=false&notify=0', {
      code,
      notifyOld: false,
      notify: false,
      enroll: { notifyOld: false },
    }).expect(200);
    const toOld = t.transport.messages.filter((m) => m.to === USERS.alice.phone);
    expect(toOld).toHaveLength(2);
    expect(toOld[1]?.text).toContain('was changed to a number ending in 99');
  });
});

describe('every enrollment route keeps the HTTP rules of §5', () => {
  const routes = [
    ['GET', '/2fa/enroll'],
    ['POST', '/2fa/enroll/send'],
    ['POST', '/2fa/enroll/verify'],
  ] as const;

  it.each(routes)(
    '%s %s answers 401 ERR_2FA_UNAUTHENTICATED, no-store, without a first factor',
    async (method, path) => {
      const t = createEnrollApp();
      const req =
        method === 'GET'
          ? request(t.app).get(path)
          : request(t.app).post(path).send({ phone: TYPED.be.e164 });
      const res = await req.expect(401);
      expect(res.body.error.code).toBe('ERR_2FA_UNAUTHENTICATED');
      expect(res.headers['cache-control']).toBe('no-store');
      expect(t.transport.messages).toEqual([]);
    },
  );

  it.each([
    ['GET', '/2fa/enroll/send', 'POST'],
    ['GET', '/2fa/enroll/verify', 'POST'],
    ['PUT', '/2fa/enroll/send', 'POST'],
    ['POST', '/2fa/enroll', 'GET, HEAD'],
  ])('%s %s answers 405 with Allow: %s', async (method, path, allow) => {
    const t = createEnrollApp();
    const agent = await signIn(t, 'dave');
    const res = await agent[method.toLowerCase() as 'get' | 'put' | 'post'](path).expect(405);
    expect(res.headers.allow).toBe(allow);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(t.transport.messages).toEqual([]);
  });

  it.each([
    ['Sec-Fetch-Site: cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['a foreign Origin', { Origin: 'https://evil.example' }],
  ])('refuses a cross-site send and verify (%s): 403, nothing sent, nothing saved', async (_n, headers) => {
    const t = createEnrollApp();
    const agent = await signIn(t, 'dave');
    const send = await json(agent, '/2fa/enroll/send', { phone: TYPED.be.e164 }).set(headers).expect(403);
    expect(send.body.error.code).toBe('ERR_2FA_FORBIDDEN_ORIGIN');
    expect(send.headers['cache-control']).toBe('no-store');
    const code = await enrollCode(t, agent, TYPED.be.national, TYPED.be.e164);
    await json(agent, '/2fa/enroll/verify', { code }).set(headers).expect(403);
    expect(t.transport.messages).toHaveLength(1);
    expect(t.saves).toEqual([]);
  });

  it('refuses a form post without its token (a cross-site form from an old browser)', async () => {
    const t = createEnrollApp();
    const agent = await signIn(t, 'dave');
    const res = await agent.post('/2fa/enroll/send').type('form').send({ phone: TYPED.be.e164 }).expect(403);
    expect(res.body.error.code).toBe('ERR_2FA_FORBIDDEN_ORIGIN');
    expect(t.transport.messages).toEqual([]);
  });

  it('answers no-store on the page, every success and every error', async () => {
    const t = createEnrollApp();
    const agent = await signIn(t, 'dave');
    const answers = [
      await agent.get('/2fa/enroll').set('Accept', 'text/html'),
      await json(agent, '/2fa/enroll/send', { phone: 'nope' }),
      await json(agent, '/2fa/enroll/send', { phone: TYPED.be.e164 }),
      await json(agent, '/2fa/enroll/verify', { code: 'abc' }),
    ];
    for (const res of answers) expect(res.headers['cache-control']).toBe('no-store');
  });
});
