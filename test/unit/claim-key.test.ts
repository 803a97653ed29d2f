import { createHmac, createSecretKey, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bindingOfParts, ClaimKey, openClaim, signClaim } from '../../src/verified-claim.js';

/** What `createHmac` gives for the same key and message: the reference. */
const reference = (secret: Buffer, binding: string, text: string) =>
  createHmac('sha256', secret).update(`2fa-verified\0${binding}${text}`).digest('base64url');

const TEXT = 'v2.sms.1764590400000.1764594000000';

describe('ClaimKey (HMAC-SHA256 by two one-shot hashes)', () => {
  it('equals createHmac for keys shorter than, as long as and longer than a block', () => {
    for (const length of [1, 16, 32, 44, 63, 64, 65, 100, 200]) {
      const secret = randomBytes(length);
      const key = new ClaimKey(createSecretKey(secret));
      const binding = bindingOfParts('u1', 'session-1', 7);
      expect(key.signature(binding, `${TEXT}.signature`, TEXT.length)).toBe(reference(secret, binding, TEXT));
    }
  });

  it('equals createHmac for a secret with multi-byte characters (as the jar prepares it)', () => {
    const secret = Buffer.from('ünïcödé-secret-that-is-long-enough-🔑-0123456789', 'utf8');
    const key = new ClaimKey(createSecretKey(secret));
    const binding = bindingOfParts('u1', 's', '');
    expect(key.signature(binding, TEXT, TEXT.length)).toBe(reference(secret, binding, TEXT));
  });

  it('equals createHmac for messages across every block edge, reusing its buffers', () => {
    const secret = randomBytes(32);
    const key = new ClaimKey(createSecretKey(secret));
    // From an empty binding to one past 3 blocks; longest first, so shorter ones follow leftovers.
    for (let length = 250; length >= 0; length--) {
      const binding = 'b'.repeat(length);
      expect(key.signature(binding, TEXT, TEXT.length)).toBe(reference(secret, binding, TEXT));
      expect(key.signature(binding, TEXT, 5)).toBe(reference(secret, binding, TEXT.slice(0, 5)));
    }
  });

  it('equals createHmac for bindings with non-ASCII text and JSON-escaped surrogates', () => {
    const secret = randomBytes(32);
    const key = new ClaimKey(createSecretKey(secret));
    for (const [id, session] of [
      ['ünï', 'çødé'],
      ['用户', '会话'],
      ['u🔑', 's'],
      ['u\uD800', 's'],
      ['u', '\uDC00x'],
    ] as const) {
      const binding = bindingOfParts(id, session, 3);
      expect(key.signature(binding, TEXT, TEXT.length)).toBe(reference(secret, binding, TEXT));
    }
  });

  it('equals createHmac for messages longer than its buffer (they go through createHmac)', () => {
    const secret = randomBytes(32);
    const key = new ClaimKey(createSecretKey(secret));
    for (const binding of [
      'x'.repeat(330),
      'x'.repeat(400),
      'é'.repeat(600),
      '用'.repeat(2000),
      'y'.repeat(5000),
    ]) {
      expect(key.signature(binding, TEXT, TEXT.length)).toBe(reference(secret, binding, TEXT));
      // And the buffer is still right for a short one after.
      expect(key.signature('b', TEXT, TEXT.length)).toBe(reference(secret, 'b', TEXT));
    }
  });

  it('differs under another key, and opens only what its own key signed', () => {
    const a = createSecretKey(randomBytes(32));
    const b = createSecretKey(randomBytes(32));
    const binding = bindingOfParts('u1', 's1', '');
    const claim = { method: 'sms' as const, verifiedAt: 1_764_590_400_000, expiresAt: 1_764_594_000_000 };
    const value = signClaim(claim, binding, a);
    expect(openClaim(value, binding, [new ClaimKey(a)])).toEqual(claim);
    expect(openClaim(value, binding, [new ClaimKey(b)])).toBeNull();
    expect(openClaim(value, binding, [new ClaimKey(b), new ClaimKey(a)])).toEqual(claim);
    expect(openClaim(value, bindingOfParts('u1', 's2', ''), [new ClaimKey(a)])).toBeNull();
    expect(new ClaimKey(a).signature(binding, TEXT, TEXT.length)).not.toBe(
      new ClaimKey(b).signature(binding, TEXT, TEXT.length),
    );
  });
});
