import { describe, expect, it } from 'vitest';
import { createApp, json, sendCode, signIn, type TestApp, USERS } from '../helpers/create-app.js';

// createApp allows BE and NL only; dave's number is American.
const US_MASKED = '+1 2•• ••• ••23';

/**
 * The suite-wide leak scan looks for every number in `t.phones` in all its forms; for junk like
 * '+3212' or 'not a number' those forms are '12' or '', found everywhere. Put the real number back.
 */
const forgetJunk = (t: TestApp) => t.phones.set(USERS.alice.id, USERS.alice.phone);

const blocked = (t: TestApp) => t.events.filter((e) => e.type === 'send.blocked');

const missing = (t: TestApp) => t.events.filter((e) => e.type === 'destination.missing');

function expectNoPhone(res: { status: number; body: unknown; headers: Record<string, string> }) {
  expect(res.status).toBe(422);
  expect(res.body).toEqual({ error: { code: 'ERR_2FA_NO_PHONE', message: expect.any(String) } });
  expect(res.headers['cache-control']).toBe('no-store');
}

function expectDestinationBlocked(res: { status: number; body: unknown; headers: Record<string, string> }) {
  expect(res.status).toBe(422);
  expect(res.body).toEqual({ error: { code: 'ERR_2FA_DESTINATION_BLOCKED', message: expect.any(String) } });
  expect(res.headers['cache-control']).toBe('no-store');
}

describe('POST /2fa/send', () => {
  describe('when the number on file is in a country outside allowedCountries', () => {
    it('answers 422 ERR_2FA_DESTINATION_BLOCKED, fires send.blocked reason country, and never calls the transport', async () => {
      const t = createApp();
      const agent = await signIn(t, 'dave');
      expectDestinationBlocked(await json(agent, '/2fa/send'));
      expect(t.transport.messages).toEqual([]);
      expect(blocked(t)).toEqual([
        {
          type: 'send.blocked',
          at: t.clock.now(),
          userId: USERS.dave.id,
          phone: US_MASKED,
          country: 'US',
          ip: '127.0.0.1',
          reason: 'country',
        },
      ]);
      // No challenge came out of it: nothing to verify, resend or call.
      expect((await json(agent, '/2fa/verify', { code: '123456' })).status).toBe(409);
      expect((await agent.get('/2fa/status')).body).toEqual({ status: 'none' });
    });

    it('stays blocked however often it is asked (no budget is spent on it)', async () => {
      const t = createApp({ options: { limits: { ipPerHour: 1 } } });
      const agent = await signIn(t, 'dave');
      for (let i = 0; i < 5; i++) expectDestinationBlocked(await json(agent, '/2fa/send'));
      expect(blocked(t).map((e) => e.reason)).toEqual(Array(5).fill('country'));
      // The IP budget of 1 is still whole for a legitimate user on the same address.
      await sendCode(t, await signIn(t, 'alice'));
    });
  });

  describe('when the number on file does not parse or is not a valid number', () => {
    for (const phone of [
      'not a number',
      '+3212',
      '+32 470 12',
      '0470123401',
      '',
      '+999123456789',
      'x'.repeat(40),
    ]) {
      it(`answers 422 ERR_2FA_NO_PHONE and fires destination.missing for ${JSON.stringify(phone.slice(0, 14))}`, async () => {
        const t = createApp();
        t.phones.set(USERS.alice.id, phone);
        const agent = await signIn(t);
        expectNoPhone(await json(agent, '/2fa/send'));
        expect(t.transport.messages).toEqual([]);
        expect(blocked(t)).toEqual([]);
        const [event] = missing(t);
        expect(event).toMatchObject({ userId: USERS.alice.id, ip: '127.0.0.1' });
        expect(event?.reason).toBe(phone === '' ? 'none' : 'invalid-number');
        // Nothing of the number goes into the event.
        expect(event?.phone).toBeUndefined();
        expect(event?.country).toBeUndefined();
        forgetJunk(t);
      });
    }
  });

  describe('with allowAllCountries: true', () => {
    it('sends to any valid number and reports its country in code.sent', async () => {
      const t = createApp({ options: { allowedCountries: undefined, allowAllCountries: true } });
      const agent = await signIn(t, 'dave');
      await sendCode(t, agent, 'dave');
      expect(t.transport.messages.map((m) => m.to)).toEqual([USERS.dave.phone]);
      expect(t.events.find((e) => e.type === 'code.sent')).toMatchObject({
        userId: USERS.dave.id,
        phone: US_MASKED,
        country: 'US',
        ip: '127.0.0.1',
      });
    });

    it('still refuses a number that does not parse', async () => {
      const t = createApp({ options: { allowedCountries: undefined, allowAllCountries: true } });
      t.phones.set(USERS.alice.id, '12345');
      expectNoPhone(await json(await signIn(t), '/2fa/send'));
      expect(missing(t)[0]?.reason).toBe('invalid-number');
      expect(t.transport.messages).toEqual([]);
      forgetJunk(t);
    });
  });

  it('reports the destination country on every event (NL here)', async () => {
    const t = createApp();
    const agent = await signIn(t, 'carol');
    const code = await sendCode(t, agent, 'carol');
    await json(agent, '/2fa/verify', { code }).expect(200);
    expect(t.events.map((e) => [e.type, e.country, e.phone])).toEqual([
      ['code.sent', 'NL', '+31 6 ••••••78'],
      ['verify.succeeded', 'NL', '+31 6 ••••••78'],
    ]);
  });
});

describe('POST /2fa/resend and /2fa/voice', () => {
  describe('when the number on file changed to one in a blocked country', () => {
    it('answer 422 ERR_2FA_DESTINATION_BLOCKED and never reach the transport', async () => {
      const t = createApp();
      const agent = await signIn(t);
      await sendCode(t, agent);
      t.phones.set(USERS.alice.id, USERS.dave.phone);
      t.clock.advance(60_000); // past the resend cooldown and voice.afterMs
      for (const route of ['/2fa/resend', '/2fa/voice']) expectDestinationBlocked(await json(agent, route));
      expect(t.transport.messages.map((m) => [m.channel, m.to])).toEqual([['sms', USERS.alice.phone]]);
      expect(blocked(t).map((e) => [e.reason, e.country, e.phone])).toEqual([
        ['country', 'US', US_MASKED],
        ['country', 'US', US_MASKED],
      ]);
    });
  });

  describe('when the number on file changed to one that does not parse', () => {
    it('answer 422 ERR_2FA_NO_PHONE with destination.missing reason invalid-number', async () => {
      const t = createApp();
      const agent = await signIn(t);
      await sendCode(t, agent);
      t.phones.set(USERS.alice.id, '+32 12');
      t.clock.advance(60_000);
      for (const route of ['/2fa/resend', '/2fa/voice']) expectNoPhone(await json(agent, route));
      expect(t.transport.messages).toHaveLength(1);
      expect(missing(t).map((e) => e.reason)).toEqual(['invalid-number', 'invalid-number']);
      forgetJunk(t);
    });
  });

  describe('when the number on file changed to another allowed number', () => {
    it('never sends the pending code to the new number', async () => {
      const t = createApp();
      const agent = await signIn(t);
      await sendCode(t, agent);
      t.phones.set(USERS.alice.id, USERS.carol.phone);
      t.clock.advance(60_000);
      for (const route of ['/2fa/resend', '/2fa/voice'])
        expect((await json(agent, route)).body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
      expect(t.transport.messages.map((m) => m.to)).toEqual([USERS.alice.phone]);
    });

    // Regression test for a fixed bug (src/routes/send.ts startChallenge + src/routes/load.ts): the live challenge is found by
    // cookie, user and session only, not by the number it went to. After a number change /send keeps
    // answering the old challenge ("•• 01", no SMS) while /resend and /voice say "request a new code":
    // the user cannot get a code to the new number until the old one expires.
    it('lets /send start a new challenge to the new number', async () => {
      const t = createApp();
      const agent = await signIn(t);
      await sendCode(t, agent);
      t.phones.set(USERS.alice.id, USERS.carol.phone);
      const res = await json(agent, '/2fa/send').expect(200);
      expect(res.body.phone).toBe('+31 6 ••••••78');
      expect(t.transport.messages.map((m) => m.to)).toEqual([USERS.alice.phone, USERS.carol.phone]);
    });

    // Regression test for a fixed bug (same cause, src/routes/verify.ts): the code that went to the number no longer on file still
    // verifies, although sendAgain already treats that challenge as over (R-42: a new number is a new
    // authenticator).
    it('refuses the code that went to the old number', async () => {
      const t = createApp();
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      t.phones.set(USERS.alice.id, USERS.carol.phone);
      const res = await json(agent, '/2fa/verify', { code });
      expect(res.status).toBe(409);
      await agent.get('/api/data').expect(401);
    });
  });
});
