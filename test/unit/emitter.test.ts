// createEmitter (src/events.ts): a failing listener (the metrics) or onEvent never stops the other,
// nor the request. (The fields and their order: test/unit/event-emitter.test.ts.)
import { describe, expect, it } from 'vitest';
import { createEmitter } from '../../src/events.js';
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
