import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../src/errors.js';
import { parseOptions } from '../../src/options.js';
import { memoryTransport } from '../../src/transports/memory.js';

const base = () => ({
  secret: 'a-secret-that-is-at-least-32-characters!',
  getUser: () => null,
  transport: memoryTransport(),
  allowedCountries: ['BE'],
});
const save = () => {};

function configError(enroll: unknown): TwoFactorConfigError {
  try {
    parseOptions({ ...base(), enroll });
  } catch (error) {
    if (error instanceof TwoFactorConfigError) return error;
    throw error;
  }
  throw new Error('no TwoFactorConfigError');
}

describe('the enroll option', () => {
  it('is off unless set', () => {
    expect(parseOptions(base()).enroll).toBeUndefined();
    expect(parseOptions({ ...base(), enroll: undefined }).enroll).toBeUndefined();
  });

  it('defaults maxAgeMs to 5 minutes and notifyOld to true; undefined means the default', () => {
    expect(parseOptions({ ...base(), enroll: { save } }).enroll).toEqual({
      save,
      maxAgeMs: 300_000,
      notifyOld: true,
    });
    expect(
      parseOptions({ ...base(), enroll: { save, maxAgeMs: undefined, notifyOld: undefined } }).enroll,
    ).toEqual({ save, maxAgeMs: 300_000, notifyOld: true });
    expect(parseOptions({ ...base(), enroll: { save, maxAgeMs: 60_000, notifyOld: false } }).enroll).toEqual({
      save,
      maxAgeMs: 60_000,
      notifyOld: false,
    });
  });

  it.each([
    [{}, 'enroll.save', /is required: \(user, phone, req\) =>/],
    [{ save: 'yes' }, 'enroll.save', /must be a function/],
    [{ save, maxAgeMs: 0 }, 'enroll.maxAgeMs', /must be an integer from 10000 to 86400000, got 0/],
    [{ save, maxAgeMs: 1.5 }, 'enroll.maxAgeMs', /must be an integer/],
    [{ save, notifyOld: 'no' }, 'enroll.notifyOld', /must be a boolean/],
    [{ save, notifyold: false }, 'enroll.notifyold', /did you mean `notifyOld`\?/],
    ['yes', 'enroll', /must be an object/],
  ])('throws for %j, naming %s and the fix', (enroll, option, message) => {
    const error = configError(enroll);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
    expect(error.message).toContain(`\`${option}\``);
  });

  it('suggests `enroll` for a misspelt top-level key', () => {
    const error = (() => {
      try {
        parseOptions({ ...base(), enrol: { save } });
      } catch (e) {
        return e as TwoFactorConfigError;
      }
      return null;
    })();
    expect(error?.message).toMatch(/did you mean `enroll`\?/);
  });
});
