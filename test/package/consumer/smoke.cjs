// Package smoke test (CommonJS): require() the built entry points as an installed package would be.
const assert = require('node:assert/strict');
const pkg = require('express-sms-2fa');
const testing = require('express-sms-2fa/testing');

const names = [
  'twoFactor',
  'memoryStore',
  'redisStore',
  'smstools',
  'memoryTransport',
  'TwoFactorError',
  'TwoFactorConfigError',
  'ERROR_CODES',
  'METRICS',
];
for (const name of names) assert.ok(pkg[name], `missing export ${name}`);
assert.equal(pkg.default, undefined, 'no default export');
assert.equal(typeof testing.fakeSmstools, 'function');
assert.equal(typeof testing.checkStore, 'function');

const tfa = pkg.twoFactor({
  secret: 'x'.repeat(32),
  getUser: () => null,
  transport: pkg.memoryTransport(),
  allowedCountries: ['BE'],
});
assert.equal(typeof tfa, 'function');
assert.equal(typeof tfa.requireSecondFactor, 'function');
assert.throws(() => pkg.twoFactor({}), pkg.TwoFactorConfigError);
assert.equal(pkg.METRICS.sends.name, 'sms2fa.sends');
tfa.health().then((report) => {
  assert.equal(report.ok, true); // @opentelemetry/api resolves from dist, the store and transport answer
  console.log('CommonJS entry OK');
});
