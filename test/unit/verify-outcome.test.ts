import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import type { Challenge, SendState } from '../../src/challenge.js';
import type { Runtime } from '../../src/context.js';
import type { TwoFactorEvent } from '../../src/events.js';
import { type VerifyWho, verified, verifiedFor, wrongCode } from '../../src/routes/verify-outcome.js';

/** The events a verify outcome emits, with the fields and their order as `{ type, ...who, … }` gives them. */
function runtime(events: Omit<TwoFactorEvent, 'at'>[]) {
  return {
    config: { maxAttempts: 3, lockout: { hardLimit: 5 }, now: () => 1_000, verifiedTtlMs: 60_000 },
    emit: (event: Omit<TwoFactorEvent, 'at'>) => events.push(event),
    cookies: { writeVerified: () => {}, isSecure: () => false },
  } as unknown as Runtime;
}

const WHOS: VerifyWho[] = [
  { userId: 'u1', phone: '+32 4•• •• •• 01', country: 'BE' },
  { userId: 'u1', phone: '+32 4•• •• •• 01', country: 'BE', ip: '192.0.2.1' },
  { userId: 'u1', phone: '+32 4•• •• •• 01', country: 'BE', ip: '192.0.2.1', userAgent: 'Firefox' },
  { userId: 'u1', phone: '+32 4•• •• •• 01', country: 'BE', userAgent: 'Firefox' },
];

const entries = (event: object) => Object.entries(event);

describe('verify outcomes: the events, field for field and in order', () => {
  it('a wrong code: verify.failed, challenge.exhausted and user.locked as `{ type, ...who, … }`', () => {
    for (const who of WHOS) {
      const events: Omit<TwoFactorEvent, 'at'>[] = [];
      wrongCode(runtime(events), who, 3, 5);
      expect(events.map(entries)).toEqual([
        entries({ type: 'verify.failed', ...who, attemptsLeft: 0, failures: 5 }),
        entries({ type: 'challenge.exhausted', ...who, failures: 5 }),
        entries({ type: 'user.locked', ...who, failures: 5 }),
      ]);
    }
  });

  it('the right code: verify.succeeded as `{ type, ...who, channel, sentAt }`', async () => {
    const consumed = { returnTo: '/next' } as Challenge;
    const clear = () => {};
    for (const who of WHOS) {
      for (const state of [null, { lastChannel: 'voice', firstSmsAt: 0, lastSentAt: 900 } as SendState]) {
        const events: Omit<TwoFactorEvent, 'at'>[] = [];
        const result = await verified(runtime(events), {} as Response, { id: 'u1' }, state, who, consumed, {
          clear,
        });
        expect(result).toEqual({ verified: true, returnTo: '/next' });
        const expected = state
          ? { type: 'verify.succeeded', ...who, channel: 'voice', sentAt: 900 }
          : { type: 'verify.succeeded', ...who, channel: 'sms' };
        expect(events.map(entries)).toEqual([entries(expected)]);
      }
    }
  });

  it('the right code of a flow without a confirmation: the same answer and event, without a promise', async () => {
    const consumed = { returnTo: '/next' } as Challenge;
    const state = { lastChannel: 'sms', firstSmsAt: 800, lastSentAt: 900 } as SendState;
    const who = WHOS[0] as VerifyWho;
    const viaPromise: Omit<TwoFactorEvent, 'at'>[] = [];
    const direct: Omit<TwoFactorEvent, 'at'>[] = [];
    const clear = () => {};
    const awaited = await verified(runtime(viaPromise), {} as Response, { id: 'u1' }, state, who, consumed, {
      clear,
    });
    const result = verifiedFor(
      runtime(direct),
      {} as Response,
      { id: 'u1' },
      state,
      who,
      consumed,
      { clear },
      false,
    );
    expect(result).not.toBeInstanceOf(Promise);
    expect(result).toEqual(awaited);
    expect(direct.map(entries)).toEqual(viaPromise.map(entries));
  });
});
