import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../src/errors.js';
import {
  findRecoveryCode,
  generateRecoveryCode,
  hashRecoveryCode,
  normalizeRecoveryCode,
} from '../../src/lifecycle/recovery/codes.js';
import { parseOptions } from '../../src/options.js';
import { memoryTransport } from '../../src/transports/memory.js';

const base = () => ({
  secret: 'a-secret-that-is-at-least-32-characters!',
  getUser: () => null,
  transport: memoryTransport(),
  allowedCountries: ['BE'],
});
const recovery = { load: () => [], save: () => {} };

function configError(options: object): TwoFactorConfigError {
  try {
    parseOptions({ ...base(), ...options });
  } catch (error) {
    expect(error).toBeInstanceOf(TwoFactorConfigError);
    return error as TwoFactorConfigError;
  }
  throw new Error('no TwoFactorConfigError');
}

describe('the recovery and rememberDevice options', () => {
  it('are off by default, and undefined means the default', () => {
    for (const options of [base(), { ...base(), recovery: undefined, rememberDevice: undefined }]) {
      const config = parseOptions(options);
      expect(config.recovery).toBeUndefined();
      expect(config.rememberDevice).toBe(false);
    }
  });

  it('resolve their defaults: 10 codes, 30 days', () => {
    const config = parseOptions({ ...base(), recovery, rememberDevice: {} });
    expect(config.recovery?.count).toBe(10);
    expect(config.rememberDevice).toEqual({ ttlMs: 30 * 86_400_000 });
    expect(parseOptions({ ...base(), rememberDevice: { ttlMs: undefined } }).rememberDevice).toEqual({
      ttlMs: 30 * 86_400_000,
    });
  });

  it('throw at startup, naming the option and the fix', () => {
    const cases: [object, string, RegExp][] = [
      [{ recovery: { save: () => {} } }, 'recovery.load', /is required: \{ load: \(userId\)/],
      [{ recovery: { load: () => [] } }, 'recovery.save', /is required/],
      [{ recovery: { load: 'db', save: () => {} } }, 'recovery.load', /must be a function/],
      [{ recovery: { ...recovery, count: 0 } }, 'recovery.count', /from 1 to 50/],
      [{ recovery: { ...recovery, count: 51 } }, 'recovery.count', /from 1 to 50/],
      [{ recovery: { ...recovery, cuont: 5 } }, 'recovery.cuont', /did you mean `count`/],
      [{ recovery: [] }, 'recovery', /must be an object/],
      [{ rememberDevice: true }, 'rememberDevice', /rememberDevice: \{\}/],
      [{ rememberDevice: { ttlMs: 60_000 } }, 'rememberDevice.ttlMs', /from 3600000 to/],
      [{ rememberDevice: { ttlMs: 401 * 86_400_000 } }, 'rememberDevice.ttlMs', /to 34560000000/],
      [{ rememberDevice: { ttl: 1 } }, 'rememberDevice.ttl', /did you mean `ttlMs`/],
      [{ remeberDevice: {} }, 'remeberDevice', /did you mean `rememberDevice`/],
    ];
    for (const [options, option, message] of cases) {
      const error = configError(options);
      expect(error.option, JSON.stringify(options)).toBe(option);
      expect(error.message).toMatch(message);
    }
  });
});

describe('recovery codes', () => {
  it('are 12 symbols of Crockford base 32 in groups of 4, all different in a large sample', () => {
    const codes = Array.from({ length: 2000 }, generateRecoveryCode);
    for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){2}$/);
    expect(new Set(codes).size).toBe(codes.length);
    // Every symbol shows up: the alphabet is used uniformly, not a subset of it.
    expect(new Set(codes.join('').replace(/-/g, '')).size).toBe(32);
  });

  it('read typed forms back to the issued one, and refuse anything else', () => {
    expect(normalizeRecoveryCode('AB0C-1DEF-GH2J')).toBe('ab0c1defgh2j');
    expect(normalizeRecoveryCode(' abOc 1dEf ghIj ')).toBe('ab0c1defgh1j');
    expect(normalizeRecoveryCode('abLc1defgh2j')).toBe('ab1c1defgh2j');
    for (const bad of [
      '',
      'abc',
      'abcd-efgh-ijk',
      'abcd-efgh-uuuu',
      'abcd-efgh-2345-6',
      42,
      null,
      'a'.repeat(100),
    ]) {
      expect(normalizeRecoveryCode(bad), String(bad)).toBeNull();
    }
  });

  it('are matched by keyed hash under any of the secrets (rotation), bound to the user', () => {
    const [oldSecret, newSecret] = [
      'old-secret-that-is-long-enough-0123456789',
      'new-secret-that-is-long-enough-0123456789',
    ];
    const hashes = ['x', hashRecoveryCode(oldSecret, 'u1', 'ab0c1defgh2j')];
    expect(findRecoveryCode([newSecret, oldSecret], 'u1', 'ab0c1defgh2j', hashes)).toBe(1);
    expect(findRecoveryCode([newSecret], 'u1', 'ab0c1defgh2j', hashes)).toBe(-1);
    expect(findRecoveryCode([oldSecret], 'u2', 'ab0c1defgh2j', hashes)).toBe(-1);
    expect(hashRecoveryCode(oldSecret, 'u1', 'ab0c1defgh2j')).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});
