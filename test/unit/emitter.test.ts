// createEmitter (src/events.ts) adds `at` to the event it is handed instead of copying it: the
// listener (the metrics) and onEvent must still see every field, `at` last, as the copy had it.
import { describe, expect, it } from 'vitest';
import { createEmitter, type TwoFactorEvent } from '../../src/events.js';
import { memoryStore, memoryTransport } from '../../src/index.js';
import { parseOptions, type TwoFactorOptions } from '../../src/options.js';

const AT = Date.UTC(2026, 11, 1, 3, 0, 0);

function configWith(extra: Partial<TwoFactorOptions> = {}) {
  return parseOptions({
    secret: 'a-test-secret-that-is-long-enough-0123456789',
    getUser: () => null,
    transport: memoryTransport(),
    store: memoryStore(),
    allowedCountries: ['BE'],
    warnings: { memoryStore: false },
    now: () => AT,
    ...extra,
  });
}

describe('createEmitter', () => {
  it('hands the listener and onEvent the fields in their order, then at', () => {
    const heard: TwoFactorEvent[] = [];
    const told: TwoFactorEvent[] = [];
    const emit = createEmitter(configWith({ onEvent: (event) => void told.push(event) }), (event) =>
      heard.push(event),
    );
    const who = { userId: 'u1', phone: '+32 4•• •• •• 01', country: 'BE' };
    emit({ type: 'verify.succeeded', ...who, channel: 'sms', sentAt: AT - 30_000 });
    emit({ type: 'verify.failed', ...who, attemptsLeft: 2, failures: 3 });
    const expected = [
      { type: 'verify.succeeded', ...who, channel: 'sms', sentAt: AT - 30_000, at: AT },
      { type: 'verify.failed', ...who, attemptsLeft: 2, failures: 3, at: AT },
    ];
    expect(heard).toEqual(expected);
    expect(told).toEqual(expected);
    expect(told.map((event) => Object.keys(event))).toEqual(expected.map((event) => Object.keys(event)));
  });

  it('goes on to onEvent when the listener throws, and past an onEvent that throws or rejects', async () => {
    const errors: string[] = [];
    const told: string[] = [];
    const logger = { warn: () => {}, error: (message: string) => void errors.push(message) };
    const emit = createEmitter(
      configWith({
        logger,
        onEvent: (event) => {
          told.push(event.type);
          if (event.type === 'verify.failed') throw new Error('listener bug');
          return event.type === 'user.locked' ? Promise.reject(new Error('later')) : undefined;
        },
      }),
      () => {
        throw new Error('metrics bug');
      },
    );
    emit({ type: 'verify.succeeded', userId: 'u1' });
    emit({ type: 'verify.failed', userId: 'u1' });
    emit({ type: 'user.locked', userId: 'u1' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(told).toEqual(['verify.succeeded', 'verify.failed', 'user.locked']);
    expect(errors).toEqual([
      'express-sms-2fa: recording metrics failed for verify.succeeded',
      'express-sms-2fa: recording metrics failed for verify.failed',
      'express-sms-2fa: onEvent threw for verify.failed',
      'express-sms-2fa: recording metrics failed for user.locked',
      'express-sms-2fa: onEvent rejected for user.locked',
    ]);
  });
});
