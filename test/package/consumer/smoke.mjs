// Package smoke test (ESM): import() the built entry points as an installed package would be.
import assert from 'node:assert/strict';
import * as pkg from 'express-sms-2fa';
import * as testing from 'express-sms-2fa/testing';

const names = [
  'twoFactor',
  'memoryStore',
  'redisStore',
  'postgresStore',
  'smstools',
  'memoryTransport',
  'TwoFactorError',
  'TwoFactorConfigError',
  'ERROR_CODES',
  'METRICS',
];
const exported = new Set(Object.keys(pkg));
for (const name of names) assert.ok(exported.has(name), `missing export ${name}`);
assert.equal('default' in pkg, false, 'no default export');
assert.equal(typeof testing.fakeSmstools, 'function');
assert.equal(typeof testing.checkStore, 'function');
assert.match(pkg.postgresStore.schema(), /CREATE TABLE IF NOT EXISTS "tfa_store"/);
await testing.checkStore(() => pkg.memoryStore());

const store = pkg.memoryStore();
await store.set('k', 'v', 1000);
assert.equal(await store.consume('k'), 'v');
const err = new pkg.TwoFactorError('ERR_2FA_SEND_FAILED');
assert.equal(err.status, 503);
const tfa = pkg.twoFactor({
  secret: 'x'.repeat(32),
  getUser: () => null,
  transport: pkg.memoryTransport(),
  allowedCountries: ['BE'],
});
assert.equal((await tfa.health()).ok, true);
assert.equal(pkg.METRICS.verifyDuration.unit, 's');
console.log('ESM entry OK');
