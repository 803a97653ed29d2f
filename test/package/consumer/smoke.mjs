// Package smoke test (ESM): import() the built entry points as an installed package would be.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import express from 'express';
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

// The challenge page from the built package: its script inlined, minified, without esbuild.
const entry = fileURLToPath(import.meta.resolve('express-sms-2fa'));
for (const file of [entry, entry.replace(/\.js$/, '.cjs')]) {
  assert.doesNotMatch(readFileSync(file, 'utf8'), /from ["']esbuild["']|require\(["']esbuild["']\)/, file);
}
const app = express();
app.use(
  pkg.twoFactor({
    secret: 'a-secret-for-the-smoke-test-only-0123456789',
    getUser: () => ({ id: 'u1', phone: '+32470123401' }),
    transport: pkg.memoryTransport(),
    allowedCountries: ['BE'],
    cookie: { secure: false },
  }),
);
const server = app.listen(0, '127.0.0.1');
await once(server, 'listening');
const page = await fetch(`http://127.0.0.1:${server.address().port}/2fa`, {
  headers: { accept: 'text/html' },
});
const html = await page.text();
server.close();
assert.match(html, /<script nonce="[^"]+">"use strict";\(\(\)=>\{/, 'the page script is minified');
assert.ok(Buffer.byteLength(html) < 16 * 1024, `the page is ${Buffer.byteLength(html)} bytes`);
console.log('ESM entry OK');
