import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { bindingOfParts, ClaimKey, openClaim, signClaim } from '../../src/verified-claim.js';

/** Calls of `createHmac` and `crypto.hash` through node:crypto, counted by pass-through wrappers. */
const calls = vi.hoisted(() => ({ createHmac: 0, hash: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    createHmac: (...args: Parameters<typeof real.createHmac>) => {
      calls.createHmac++;
      return real.createHmac(...args);
    },
    // Only where Node has it (20.12+): without it, ClaimKey takes its createHmac fallback.
    ...(typeof real.hash === 'function'
      ? {
          hash: (...args: Parameters<typeof real.hash>) => {
            calls.hash++;
            return real.hash(...args);
          },
        }
      : {}),
  };
});

/** Node 20.12+ has `crypto.hash`; on older Node the default path is the fallback too. */
const hasOneShot = typeof (await import('node:crypto')).hash === 'function';

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

  it('differs under another key', () => {
    const a = new ClaimKey(createSecretKey(randomBytes(32)));
    const b = new ClaimKey(createSecretKey(randomBytes(32)));
    const binding = bindingOfParts('u1', 's1', '');
    expect(a.signature(binding, TEXT, TEXT.length)).not.toBe(b.signature(binding, TEXT, TEXT.length));
  });
});

describe('ClaimKey without crypto.hash (as on Node < 20.12: { oneShot: false })', () => {
  /** Both paths of one key. */
  const both = (key: KeyObject) => ({
    fast: new ClaimKey(key),
    fallback: new ClaimKey(key, { oneShot: false }),
  });

  it('signs through createHmac alone, where the default takes two crypto.hash one-shots', async () => {
    // A fresh copy of the module, loaded after the counting mock (the setup file may have loaded it first).
    vi.resetModules();
    const fresh = await import('../../src/verified-claim.js');
    const key = createSecretKey(randomBytes(32));
    const binding = bindingOfParts('u1', 'session-1', 7);
    const count = (claimKey: ClaimKey) => {
      const before = { ...calls };
      const signature = claimKey.signature(binding, TEXT, TEXT.length);
      return { signature, createHmac: calls.createHmac - before.createHmac, hash: calls.hash - before.hash };
    };
    const fast = count(new fresh.ClaimKey(key));
    const fallback = count(new fresh.ClaimKey(key, { oneShot: false }));
    expect(fast).toMatchObject(hasOneShot ? { createHmac: 0, hash: 2 } : { createHmac: 1, hash: 0 });
    expect(fallback).toMatchObject({ createHmac: 1, hash: 0 });
    expect(fallback.signature).toBe(fast.signature);
  });

  it('equals the fast path for every key of 1 to 200 bytes, messages across the block edges', () => {
    for (let length = 1; length <= 200; length++) {
      const secret = randomBytes(length);
      const { fast, fallback } = both(createSecretKey(secret));
      // After the padded key, `2fa-verified\0` (13 bytes), the binding and the text (34): the
      // bindings put the inner message on each side of SHA-256's 55/56-byte padding edge and of
      // its 64-byte block edges, up to three blocks.
      for (const bindingLength of [
        0, 1, 7, 8, 9, 16, 17, 18, 71, 72, 73, 80, 81, 82, 135, 136, 137, 144, 145, 146,
      ]) {
        const binding = 'b'.repeat(bindingLength);
        const expected = reference(secret, binding, TEXT);
        expect(fallback.signature(binding, TEXT, TEXT.length)).toBe(expected);
        expect(fast.signature(binding, TEXT, TEXT.length)).toBe(expected);
      }
    }
  });

  it('equals the fast path for every binding length up to past 3 blocks, and beyond the buffer', () => {
    const secret = randomBytes(32);
    const { fast, fallback } = both(createSecretKey(secret));
    const bindings = [
      ...Array.from({ length: 251 }, (_, n) => 'b'.repeat(n)),
      bindingOfParts('ünï', 'çødé', 3),
      bindingOfParts('u\uD800', 's', 3),
      'x'.repeat(400),
      '用'.repeat(2000),
    ];
    for (const binding of bindings) {
      expect(fallback.signature(binding, TEXT, TEXT.length)).toBe(fast.signature(binding, TEXT, TEXT.length));
      expect(fallback.signature(binding, TEXT, 5)).toBe(fast.signature(binding, TEXT, 5));
    }
  });
});

// Both paths fail closed: the fast one, and the fallback Node < 20.12 takes.
describe('openClaim', () => {
  it.each([true, false])(
    "oneShot: %s: opens only its own key's claim for its binding, refuses any altered signature",
    (oneShot) => {
      const a = createSecretKey(randomBytes(32));
      const b = createSecretKey(randomBytes(32));
      const binding = bindingOfParts('u1', 's1', '');
      const claim = { method: 'sms' as const, verifiedAt: 1_764_590_400_000, expiresAt: 1_764_594_000_000 };
      const value = signClaim(claim, binding, a);
      const keyA = new ClaimKey(a, { oneShot });
      const keyB = new ClaimKey(b, { oneShot });
      expect(openClaim(value, binding, [keyA])).toEqual(claim);
      expect(openClaim(value, binding, [keyB])).toBeNull();
      expect(openClaim(value, binding, [keyB, keyA])).toEqual(claim);
      expect(openClaim(value, bindingOfParts('u1', 's2', ''), [keyA])).toBeNull();
      // Every character of the signature changed in turn, to another base64url one and to one outside it.
      const at = value.length - 43;
      for (let i = at; i < value.length; i++) {
        for (const other of [value[i] === 'A' ? 'B' : 'A', '.']) {
          const altered = value.slice(0, i) + other + value.slice(i + 1);
          expect(openClaim(altered, binding, [keyA])).toBeNull();
        }
      }
      expect(openClaim(value.slice(0, -1), binding, [keyA])).toBeNull();
      expect(openClaim(`${value}A`, binding, [keyA])).toBeNull();
      // The claim's text changed under the same signature.
      expect(openClaim(value.replace('.sms.', '.voice.'), binding, [keyA])).toBeNull();
      expect(openClaim(value.replace('1764594000000', '1764594000001'), binding, [keyA])).toBeNull();
    },
  );
});
