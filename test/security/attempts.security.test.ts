import { describe, expect, it } from 'vitest';
import type { TwoFactorOptions } from '../../src/options.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { createApp, createClock, json, sendCode, signIn, wrongCode } from '../helpers/create-app.js';
import { slowStore } from '../helpers/stores.js';

/** A store slow enough that 50 requests really are inside it together. */
function racyApp(options: Partial<TwoFactorOptions> = {}) {
  const clock = createClock();
  return createApp({ clock, store: slowStore(memoryStore({ now: clock.now }), 5), options });
}

describe('per-challenge attempt limit (R-11, R-14)', () => {
  it('evaluates at most maxAttempts of 50 parallel wrong codes', async () => {
    const t = racyApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => json(agent, '/2fa/verify', { code: wrongCode(code) })),
    );
    const invalid = answers.filter((r) => r.body.error?.code === 'ERR_2FA_CODE_INVALID');
    const refused = answers.filter((r) => r.status === 429);
    expect(invalid.length).toBeGreaterThanOrEqual(1);
    expect(invalid.length).toBeLessThanOrEqual(5);
    expect(invalid.length + refused.length).toBe(50);
    // Refused unevaluated: the challenge is burnt, the account is in its delay, or another check
    // of the account is running (one at a time per account).
    for (const r of refused) {
      expect(['ERR_2FA_TOO_MANY_ATTEMPTS', 'ERR_2FA_LOCKED', 'ERR_2FA_COOLDOWN']).toContain(
        r.body.error.code,
      );
    }
    const left = invalid.map((r) => r.body.error.attemptsLeft);
    expect(new Set(left).size).toBe(left.length);
    // The account counter saw exactly the evaluated attempts, no lost update.
    expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(invalid.length);
    expect(Math.max(...t.events.map((e) => e.failures ?? 0))).toBe(invalid.length);
  });

  it('keeps parallel guesses over several challenges within the account delay (R-13, R-14)', async () => {
    // Four sessions of one account, each with a live challenge: 20 wrong codes at once. Without
    // one check at a time per account, all 20 would read "4 failures so far" and be evaluated.
    const t = racyApp({ lockout: { threshold: 5, baseMs: 60_000 } });
    const agents = await Promise.all([signIn(t), signIn(t), signIn(t), signIn(t)]);
    const codes: string[] = [];
    for (const agent of agents) codes.push(await sendCode(t, agent));
    const answers = await Promise.all(
      agents.flatMap((agent, i) =>
        Array.from({ length: 5 }, () => json(agent, '/2fa/verify', { code: wrongCode(codes[i] ?? '') })),
      ),
    );
    const evaluated = t.events.filter((e) => e.type === 'verify.failed');
    expect(evaluated.length).toBeLessThanOrEqual(5);
    expect(answers.filter((r) => r.status === 400)).toHaveLength(evaluated.length);
    // Keep guessing, sequentially, until the delay stops it: never more than the threshold.
    for (const [i, agent] of agents.entries()) {
      await json(agent, '/2fa/verify', { code: wrongCode(codes[i] ?? '') });
    }
    expect(t.events.filter((e) => e.type === 'verify.failed').length).toBeLessThanOrEqual(5);
  });

  it('refuses even the right code once the challenge is burnt, until a new send', async () => {
    const t = createApp({ options: { lockout: { threshold: 50 } } });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    for (let i = 0; i < 5; i++) await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    const burnt = await json(agent, '/2fa/verify', { code }).expect(429);
    expect(burnt.body.error.code).toBe('ERR_2FA_TOO_MANY_ATTEMPTS');
    expect(burnt.headers['retry-after']).toBe('1'); // every 429 carries one; a new send may go at once
    expect(t.events.filter((e) => e.type === 'challenge.exhausted')).toHaveLength(1);
    const resend = await json(agent, '/2fa/resend').expect(429);
    expect(resend.body.error.code).toBe('ERR_2FA_TOO_MANY_ATTEMPTS');
    expect(resend.headers['retry-after']).toBe('1');
    const fresh = await sendCode(t, agent);
    expect(t.transport.messages).toHaveLength(2);
    await json(agent, '/2fa/verify', { code: fresh }).expect(200);
  });
});

describe('single use (R-03)', () => {
  it('verifies exactly once among 50 parallel right codes', async () => {
    const t = racyApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const answers = await Promise.all(Array.from({ length: 50 }, () => json(agent, '/2fa/verify', { code })));
    const ok = answers.filter((r) => r.status === 200);
    expect(ok).toHaveLength(1);
    const cookies = answers.flatMap(
      (r) => (r.headers['set-cookie'] as unknown as string[] | undefined) ?? [],
    );
    expect(cookies.filter((c) => /^2fa=[^;]+/.test(c))).toHaveLength(1);
    for (const r of answers.filter((a) => a.status !== 200)) {
      expect(['ERR_2FA_NO_CHALLENGE', 'ERR_2FA_TOO_MANY_ATTEMPTS', 'ERR_2FA_COOLDOWN']).toContain(
        r.body.error.code,
      );
    }
    expect(t.events.filter((e) => e.type === 'verify.succeeded')).toHaveLength(1);
  });

  it('refuses a replay of a code that already verified', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
    const replay = await json(agent, '/2fa/verify', { code }).expect(409);
    expect(replay.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
  });

  it('keeps one valid code per challenge across resends (R-05)', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    t.clock.advance(30_000);
    await json(agent, '/2fa/resend').expect(200);
    expect(t.transport.messages.map((m) => m.text.match(/\d{6}/)?.[0])).toEqual([code, code]);
  });
});

describe('code lifetime (R-02)', () => {
  it('accepts the code at TTL−1 s', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    t.clock.advance(300_000 - 1_000);
    await json(agent, '/2fa/verify', { code }).expect(200);
  });

  it('refuses the code at TTL+1 s with 410, without counting an attempt', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    t.clock.advance(300_000 + 1_000);
    const expired = await json(agent, '/2fa/verify', { code }).expect(410);
    expect(expired.body.error.code).toBe('ERR_2FA_CODE_EXPIRED');
    expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(0);
    await json(agent, '/2fa/resend').expect(410);
  });

  it('refuses a code that travels in the URL (R-07)', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const res = await agent
      .post(`/2fa/verify?code=${code}`)
      .set('Content-Type', 'application/json')
      .send('{}')
      .expect(400);
    expect(res.body.error.code).toBe('ERR_2FA_BAD_REQUEST');
    await agent.get(`/2fa/verify?code=${code}`).expect(405);
    await agent.get('/api/data').expect(401);
  });
});
