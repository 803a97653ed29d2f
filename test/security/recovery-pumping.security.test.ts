import { describe, expect, it } from 'vitest';
import { json, USERS } from '../helpers/create-app.js';
import { createLifecycleApp, generateCodes, verifiedAgent } from '../helpers/lifecycle.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

/**
 * SMS pumping through the recovery-code notice: a used recovery code makes the browser fresh,
 * a fresh browser may make a new set, and each use texts the number on file. Without a bound,
 * one account (whose number is a premium-rate one it enrolled) makes the app send SMS without end.
 */
describe('recovery-code notices are bounded', () => {
  it('generate, use, generate, use… sends no more notices to one number than its daily budget', async () => {
    const t = createLifecycleApp({ remember: false });
    const agent = await verifiedAgent(t);
    const toAlice = () => t.transport.messages.filter((m) => m.to === USERS.alice.phone);
    expect(toAlice()).toHaveLength(1); // the sign-in code
    for (let i = 0; i < 25; i++) {
      const codes = await generateCodes(agent);
      // The sign-in with a recovery code is never held back by the notice's budget.
      await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(200);
      await tick();
    }
    const notices = toAlice().length - 1;
    // The first ones go out (nobody can spend the budget first without texting the number).
    expect(notices).toBeGreaterThanOrEqual(1);
    expect(notices).toBeLessThanOrEqual(10); // limits.phonePerDay
    expect(t.logs.some((line) => line.includes('recovery-code notice') && line.includes('+32 4'))).toBe(true);
  });
});
