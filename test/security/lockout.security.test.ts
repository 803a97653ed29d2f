import { describe, expect, it } from 'vitest';
import {
  type Agent,
  createApp,
  json,
  SECRET,
  sendCode,
  signIn,
  type TestApp,
  USERS,
  wrongCode,
} from '../helpers/create-app.js';

/** Sends a fresh challenge (waiting out cooldowns on the injected clock) and types one wrong code. */
async function failOnce(t: TestApp, agent: Agent): Promise<number> {
  let res = await json(agent, '/2fa/send');
  if (res.status === 200 && res.body.attemptsLeft === 0) throw new Error('unexpected dead challenge');
  const code = t.transport.lastCode(USERS.alice.phone) ?? '000000';
  res = await json(agent, '/2fa/verify', { code: wrongCode(code) });
  return res.status;
}

describe('account-level lockout (R-10, R-12, R-13)', () => {
  it('delays attempts exponentially from the threshold and refuses them unevaluated', async () => {
    const t = createApp({ options: { maxAttempts: 10, lockout: { threshold: 3, baseMs: 60_000 } } });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    for (let i = 0; i < 3; i++) await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);

    // 3 consecutive failures: the next attempt waits 60 s, even with the right code.
    const locked = await json(agent, '/2fa/verify', { code }).expect(429);
    expect(locked.body.error.code).toBe('ERR_2FA_LOCKED');
    expect(locked.headers['retry-after']).toBe('60');
    expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(3);

    t.clock.advance(60_000);
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    // 4 failures: the delay doubles.
    expect((await json(agent, '/2fa/verify', { code }).expect(429)).headers['retry-after']).toBe('120');
    t.clock.advance(120_000);
    await json(agent, '/2fa/verify', { code }).expect(200);
  });

  it('is reset only by a success: not by a resend, a new challenge or a new login', async () => {
    const t = createApp({
      options: { lockout: { threshold: 5, baseMs: 1_000 }, limits: { phonePerHour: 100, phonePerDay: 100 } },
    });
    let agent = await signIn(t);
    let code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    t.clock.advance(30_000);
    await json(agent, '/2fa/resend').expect(200); // a resend
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    agent = await signIn(t); // a new login, a new session, a new challenge
    code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    const failures = t.events.filter((e) => e.type === 'verify.failed').map((e) => e.failures);
    expect(failures).toEqual([1, 2, 3, 4, 5]);
    expect((await json(agent, '/2fa/verify', { code }).expect(429)).body.error.code).toBe('ERR_2FA_LOCKED');
    t.clock.advance(1_000);
    await json(agent, '/2fa/verify', { code }).expect(200);

    // After the success the count starts again from zero.
    const other = await signIn(t);
    const next = await sendCode(t, other);
    await json(other, '/2fa/verify', { code: wrongCode(next) }).expect(400);
    expect(t.events.filter((e) => e.type === 'verify.failed').at(-1)?.failures).toBe(1);
  });

  it('locks hard at hardLimit: even the right code from a fresh challenge is refused until unlock()', async () => {
    const t = createApp({
      options: {
        maxAttempts: 1,
        lockout: { threshold: 5, baseMs: 0, hardLimit: 8 },
        limits: { phonePerHour: 1000, phonePerDay: 1000, prefixPerHour: 1000, ipPerHour: 1000 },
      },
    });
    const agent = await signIn(t);
    for (let i = 0; i < 8; i++) {
      expect(await failOnce(t, agent)).toBe(400);
    }
    expect(t.events.filter((e) => e.type === 'user.locked')).toHaveLength(1);
    const send = await json(agent, '/2fa/send').expect(429);
    expect(send.body.error.code).toBe('ERR_2FA_LOCKED');
    expect(t.transport.messages).toHaveLength(8); // a locked account costs no more SMS
    t.clock.advance(7 * 24 * 3600_000);
    expect((await json(agent, '/2fa/send').expect(429)).body.error.code).toBe('ERR_2FA_LOCKED');

    await t.tfa.unlock(USERS.alice.id);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
  });

  it('survives a secret rotation: a locked account stays locked under [new, old]', async () => {
    const options = {
      maxAttempts: 1,
      lockout: { threshold: 2, baseMs: 0, hardLimit: 3 },
      limits: { phonePerHour: 1000, phonePerDay: 1000, prefixPerHour: 1000, ipPerHour: 1000 },
    };
    const t = createApp({ options });
    const agent = await signIn(t);
    for (let i = 0; i < 3; i++) expect(await failOnce(t, agent)).toBe(400);
    expect((await json(agent, '/2fa/send').expect(429)).body.error.code).toBe('ERR_2FA_LOCKED');

    const rotated = createApp({
      clock: t.clock,
      store: t.store,
      options: { ...options, secret: ['the-new-secret-after-rotation-0123456789', SECRET] },
    });
    const again = await signIn(rotated);
    expect((await json(again, '/2fa/send').expect(429)).body.error.code).toBe('ERR_2FA_LOCKED');
    expect(rotated.transport.messages).toHaveLength(0);
  });
});
