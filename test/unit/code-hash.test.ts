import { createHmac, createSecretKey } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { HmacKey, hashCode } from '../../src/crypto.js';
import { jarOptions } from '../helpers/cookie-jar.js';
import { cryptoCalls as calls } from '../helpers/crypto-calls.js';

vi.mock('node:crypto', async (importOriginal) =>
  (await import('../helpers/crypto-calls.js')).countingCrypto(
    await importOriginal<typeof import('node:crypto')>(),
  ),
);

/** Node 20.12+ has `crypto.hash`; without it every HMAC takes `createHmac`. */
const hasOneShot = typeof (await import('node:crypto')).hash === 'function';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const ID = 'abcdefghijklmnopqrstuvwxABC';

describe('HmacKey (HMAC-SHA256 of short text by two one-shot hashes)', () => {
  it('equals createHmac for keys around a block and texts of any kind, UTF-8 as createHmac takes them', () => {
    const texts = [
      '',
      'a',
      'code\0abc:123456',
      'é€😀',
      'lone \uD800 surrogate',
      'x'.repeat(64),
      'y'.repeat(200),
    ];
    for (const length of [1, 32, 63, 64, 65, 100]) {
      const secret = Buffer.alloc(length, 7 + length);
      for (const oneShot of [true, false]) {
        const key = new HmacKey(createSecretKey(secret), { oneShot });
        for (const text of texts) {
          // Twice: the prepared buffers hold nothing of the text before.
          for (let i = 0; i < 2; i++) {
            expect(key.digest(text)).toBe(createHmac('sha256', secret).update(text).digest('base64url'));
          }
        }
      }
    }
  });

  it("hashes a verify's typed code without an Hmac object, equal to hashCode", async () => {
    // A fresh copy of the modules, loaded after the counting mock (the setup file may have loaded them first).
    vi.resetModules();
    const fresh = await import('../../src/challenge.js');
    const keys = fresh.createKeys(jarOptions([SECRET, 'an-older-secret-that-is-long-enough-987654321']));
    const expected = [
      hashCode(SECRET, ID, '123456'),
      hashCode('an-older-secret-that-is-long-enough-987654321', ID, '123456'),
    ];
    calls.createHmac = 0;
    expect(keys.codeHashes(ID, '123456')).toEqual(expected);
    expect(calls.createHmac).toBe(hasOneShot ? 0 : 2);
  });
});
