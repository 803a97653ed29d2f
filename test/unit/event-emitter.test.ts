import type { Request } from 'express';
import { describe, expect, it } from 'vitest';
import type { Challenge } from '../../src/challenge.js';
import type { Runtime } from '../../src/context.js';
import { createEmitter, type TwoFactorEvent } from '../../src/events.js';
import type { Config } from '../../src/options.js';
import { verifyWho } from '../../src/routes/verify-outcome.js';

// The emitter copies the event without a spread literal and verifyWho sets its fields one by one
// (a speed change): the events must be exactly what `{ ...event, at }` and `{ ...who, ip, ...agent }` gave.

const config = (onEvent?: (event: TwoFactorEvent) => void) =>
  ({ onEvent, now: () => 1234, logger: { warn() {}, error() {} } }) as unknown as Config;

describe('createEmitter', () => {
  it('hands listen and onEvent the same copy, with `at` last and the caller’s event untouched', () => {
    const heard: TwoFactorEvent[] = [];
    const emit = createEmitter(
      config((event) => heard.push(event)),
      (event) => heard.push(event),
    );
    const event = {
      type: 'verify.failed',
      userId: 'u1',
      phone: '+32 4•• •• •• 01',
      attemptsLeft: 2,
    } as const;
    emit(event);
    const old = { ...event, at: 1234 };
    expect(heard).toHaveLength(2);
    expect(heard[0]).toBe(heard[1]);
    expect(heard[0]).toEqual(old);
    expect(Object.keys(heard[0] as object)).toEqual(Object.keys(old));
    expect(event).not.toHaveProperty('at');
  });
});

describe('verifyWho', () => {
  const challenge = { masked: '+32 4•• •• •• 01', country: 'BE' } as Challenge;
  const user = { id: 'u1', phone: '+32470000001' } as never;
  const request = (agent?: string) =>
    ({
      ip: '::ffff:10.0.0.7',
      get: (name: string) => (name === 'user-agent' ? agent : undefined),
    }) as unknown as Request;
  const rt = (onEvent?: () => void) => ({ config: { onEvent } }) as unknown as Runtime;

  it('without onEvent: the user, masked number and country only', () => {
    const who = verifyWho(rt(), request('Firefox'), user, challenge);
    expect(who).toEqual({ userId: 'u1', phone: '+32 4•• •• •• 01', country: 'BE' });
  });

  it('with onEvent: the same fields, in the same order, as the spread it replaced', () => {
    for (const agent of ['Firefox', 'x'.repeat(300), '', undefined]) {
      const who = verifyWho(
        rt(() => {}),
        request(agent),
        user,
        challenge,
      );
      const old = {
        ...{ userId: 'u1', phone: '+32 4•• •• •• 01', country: 'BE' },
        ip: '10.0.0.7',
        ...(agent ? { userAgent: agent.slice(0, 256) } : {}),
      };
      expect(who).toEqual(old);
      expect(Object.keys(who)).toEqual(Object.keys(old));
    }
  });
});
