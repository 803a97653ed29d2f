import { describe, expect, it } from 'vitest';
import { createLifecycleApp, signInAgain, verifiedAgent } from '../helpers/lifecycle.js';

const DAY = 24 * 3600_000;

/**
 * `req.secondFactor.verifiedAt` is when the code was typed (README, guard.ts). A remembered
 * device types no code: its sessions must not look freshly verified to an app that checks the
 * age itself (`Date.now() - req.secondFactor.verifiedAt < 5 min` before a payment).
 */
describe("a remembered device's verifiedAt", () => {
  it('is when the code that remembered the device was typed, not when the device let a session in', async () => {
    const t = createLifecycleApp();
    const typedAt = t.clock.now();
    const agent = await verifiedAgent(t, 'alice', { remember: true });
    t.clock.advance(2 * DAY);
    await signInAgain(agent);
    const first = await agent.get('/api/data').set('Accept', 'application/json').expect(200);
    expect(first.body.verifiedAt).toBe(typedAt);
    // The next request passes on the session's verified cookie alone, still with the old time.
    t.clock.advance(60_000);
    const next = await agent.get('/api/data').set('Accept', 'application/json').expect(200);
    expect(next.body.verifiedAt).toBe(typedAt);
    const page = await agent.get('/account').expect(200);
    expect(page.text).toBe('account of u-alice via device');
  });

  it('the session it lets in still ends at verifiedTtlMs after the admission, or with the device', async () => {
    const t = createLifecycleApp({ options: { rememberDevice: { ttlMs: 3 * DAY } } });
    const agent = await verifiedAgent(t, 'alice', { remember: true });
    t.clock.advance(DAY);
    await signInAgain(agent);
    await agent.get('/api/data').set('Accept', 'application/json').expect(200);
    // 12 h later (verifiedTtlMs) the session's state has ended; the device lets it in again.
    t.clock.advance(12 * 3600_000);
    const again = await agent.get('/api/data').set('Accept', 'application/json').expect(200);
    const cookies = ([] as string[]).concat(again.headers['set-cookie'] ?? []);
    expect(cookies.some((c) => /^2fa=[^;]+/.test(c))).toBe(true);
    // Past the device's ttlMs nobody is let in.
    t.clock.advance(2 * DAY);
    await agent.get('/api/data').set('Accept', 'application/json').expect(401);
  });
});
