import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TwoFactorConfigError } from '../../src/errors.js';
import { DEFAULTS, parseOptions } from '../../src/options.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { memoryTransport } from '../../src/transports/memory.js';
import { twoFactor } from '../../src/two-factor.js';

const base = () => ({
  secret: 'a-secret-that-is-at-least-32-characters!',
  getUser: () => null,
  transport: memoryTransport(),
  allowedCountries: ['BE'],
});

function expectConfigError(options: unknown, option: string, message: RegExp) {
  let thrown: unknown;
  try {
    parseOptions(options);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(TwoFactorConfigError);
  expect(thrown).toBeInstanceOf(TypeError);
  expect((thrown as TwoFactorConfigError).option).toBe(option);
  expect((thrown as Error).message).toMatch(message);
  expect((thrown as Error).message).toContain(`\`${option}\``);
}

describe('parseOptions()', () => {
  it('applies the documented defaults', () => {
    const config = parseOptions(base());
    expect(config).toMatchObject({
      path: '/2fa',
      codeLength: 6,
      codeTtlMs: 300_000,
      maxAttempts: 5,
      resendCooldownMs: 30_000,
      maxSendsPerChallenge: 5,
      voice: { afterMs: 30_000, auto: true },
      verifiedTtlMs: 43_200_000,
      lockout: { threshold: 5, baseMs: 60_000, hardLimit: 100 },
      limits: { phonePerHour: 5, phonePerDay: 10, ipPerHour: 20, prefixPerHour: 10 },
      locale: 'en',
      cookie: { name: '2fa', sameSite: 'lax', secure: 'auto', domain: undefined },
      storeTimeoutMs: 2000,
      usesMemoryStore: true,
    });
    expect(config.allowedCountries).toEqual(new Set(['BE']));
  });

  it('treats undefined like a missing key, from a plain or a null-prototype object', () => {
    const plain = parseOptions({ ...base(), codeTtlMs: undefined, lockout: { threshold: undefined } });
    const bare = parseOptions(Object.assign(Object.create(null), base()));
    for (const config of [plain, bare]) {
      expect(config.codeTtlMs).toBe(DEFAULTS.codeTtlMs);
      expect(config.lockout.threshold).toBe(DEFAULTS.lockout.threshold);
    }
  });

  it('keeps 0 where 0 is allowed (?? not ||)', () => {
    expect(parseOptions({ ...base(), voice: { afterMs: 0 }, lockout: { baseMs: 0 } })).toMatchObject({
      voice: { afterMs: 0, auto: true },
      lockout: { baseMs: 0 },
    });
  });

  it("defaults cookie.secure to 'auto' whatever NODE_ENV says, and keeps an explicit boolean", () => {
    for (const env of ['production', 'development', '']) {
      vi.stubEnv('NODE_ENV', env);
      expect(parseOptions(base()).cookie.secure).toBe('auto');
    }
    vi.unstubAllEnvs();
    expect(parseOptions({ ...base(), cookie: { secure: true } }).cookie.secure).toBe(true);
    expect(parseOptions({ ...base(), cookie: { secure: false } }).cookie.secure).toBe(false);
  });

  it('takes the locale from the transport when it speaks one', () => {
    expect(parseOptions({ ...base(), transport: { ...memoryTransport(), language: 'nl' } }).locale).toBe(
      'nl',
    );
  });

  const invalid: [string, unknown, string, RegExp][] = [
    ['no options', undefined, 'options', /must be an object/],
    ['no secret', { ...base(), secret: undefined }, 'secret', /is required.*randomBytes\(32\)/],
    ['an empty secret', { ...base(), secret: '' }, 'secret', /at least 32 characters/],
    ['a short secret', { ...base(), secret: 'abc' }, 'secret', /at least 32 characters/],
    ['an empty secret list', { ...base(), secret: [] }, 'secret', /is required/],
    [
      'a short secret in the list',
      { ...base(), secret: ['a-secret-that-is-at-least-32-characters!', 'short'] },
      'secret',
      /at least 32/,
    ],
    ['no getUser', { ...base(), getUser: undefined }, 'getUser', /must be a function/],
    ['no transport', { ...base(), transport: undefined }, 'transport', /smstools\(/],
    ['a transport without sendSms', { ...base(), transport: {} }, 'transport', /is required/],
    [
      'a store lacking methods',
      { ...base(), store: { get() {} } },
      'store',
      /lacks set, delete, consume, increment/,
    ],
    ['a TTL over 10 minutes', { ...base(), codeTtlMs: 600_001 }, 'codeTtlMs', /from 10000 to 600000/],
    ['a non-integer TTL', { ...base(), codeTtlMs: '300000' }, 'codeTtlMs', /must be an integer/],
    ['a 5-digit code', { ...base(), codeLength: 5 }, 'codeLength', /from 6 to 10/],
    ['maxAttempts 0', { ...base(), maxAttempts: 0 }, 'maxAttempts', /from 1 to 10/],
    ['maxAttempts 11', { ...base(), maxAttempts: 11 }, 'maxAttempts', /from 1 to 10/],
    ['a verified state over 24 h', { ...base(), verifiedTtlMs: 86_400_001 }, 'verifiedTtlMs', /to 86400000/],
    ['a hard limit over 100', { ...base(), lockout: { hardLimit: 101 } }, 'lockout.hardLimit', /to 100/],
    [
      'a hard limit under the threshold',
      { ...base(), lockout: { threshold: 10, hardLimit: 5 } },
      'lockout.hardLimit',
      /from 10/,
    ],
    [
      'an unknown lockout key',
      { ...base(), lockout: { treshold: 3 } },
      'lockout.treshold',
      /did you mean `threshold`/,
    ],
    ['a negative limit', { ...base(), limits: { ipPerHour: -1 } }, 'limits.ipPerHour', /from 1/],
    [
      'no allowedCountries',
      { ...base(), allowedCountries: undefined },
      'allowedCountries',
      /allowAllCountries: true/,
    ],
    ['an empty allowedCountries', { ...base(), allowedCountries: [] }, 'allowedCountries', /is required/],
    ['a lowercase country', { ...base(), allowedCountries: ['be'] }, 'allowedCountries', /ISO 3166/],
    ['an unknown country', { ...base(), allowedCountries: ['XX'] }, 'allowedCountries', /ISO 3166/],
    [
      'both country options',
      { ...base(), allowAllCountries: true },
      'allowedCountries',
      /cannot be combined/,
    ],
    ['a path without /', { ...base(), path: '2fa' }, 'path', /starting with one/],
    ['a protocol-relative path', { ...base(), path: '//2fa' }, 'path', /starting with one/],
    ['the root path', { ...base(), path: '/' }, 'path', /must not be '\/'/],
    ['a voice option typo', { ...base(), voice: { afterMS: 1 } }, 'voice.afterMS', /did you mean `afterMs`/],
    ['sameSite none', { ...base(), cookie: { sameSite: 'none' } }, 'cookie.sameSite', /'lax' or 'strict'/],
    ['secure: "yes"', { ...base(), cookie: { secure: 'yes' } }, 'cookie.secure', /'auto'.*true or false/],
    ['a bad cookie name', { ...base(), cookie: { name: 'a b' } }, 'cookie.name', /cookie token/],
    ['an unknown locale', { ...base(), locale: 'es' }, 'locale', /en, nl, fr, de/],
    [
      'a WebOTP domain with a scheme',
      { ...base(), webOtpDomain: 'https://x.com' },
      'webOtpDomain',
      /without a scheme/,
    ],
    ['a bad logger', { ...base(), logger: { warn() {} } }, 'logger', /warn\(message\) and error\(message\)/],
    ['a misspelt option', { ...base(), maxAttempt: 3 }, 'maxAttempt', /did you mean `maxAttempts`/],
    ['a far-off unknown option', { ...base(), banana: 1 }, 'banana', /is not an option$/],
    ['a non-function message', { ...base(), messages: { sms: 'hi' } }, 'messages.sms', /must be a function/],
  ];
  for (const [name, options, option, message] of invalid) {
    it(`throws for ${name}, naming \`${option}\``, () => expectConfigError(options, option, message));
  }
});

describe('twoFactor()', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('explains `app.use(twoFactor)` written without the call', async () => {
    const app = express();
    app.use(twoFactor as unknown as express.RequestHandler);
    app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).send(err.message);
    });
    const res = await request(app).get('/');
    expect(res.text).toMatch(/write `app\.use\(twoFactor\(\{ \.\.\. \}\)\)`, not `app\.use\(twoFactor\)`/);
  });

  it('warns once when the memory store is used in production', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    vi.resetModules();
    const { twoFactor: fresh } = await import('../../src/two-factor.js');
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m), error: () => {} };
    fresh({ ...base(), logger });
    fresh({ ...base(), logger, store: memoryStore() });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/redisStore\(\)/);
  });

  it('does not warn when told not to, or outside production', async () => {
    vi.resetModules();
    const { twoFactor: fresh } = await import('../../src/two-factor.js');
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m), error: () => {} };
    fresh({ ...base(), logger });
    vi.stubEnv('NODE_ENV', 'production');
    fresh({ ...base(), logger, warnings: { memoryStore: false } });
    expect(warnings).toEqual([]);
  });
});
