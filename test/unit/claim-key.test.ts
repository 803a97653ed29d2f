import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { bindingOfParts, ClaimKey, openClaim, signClaim } from '../../src/verified-claim.js';
import { cryptoCalls as calls } from '../helpers/crypto-calls.js';

vi.mock('node:crypto', async (importOriginal) =>
  (await import('../helpers/crypto-calls.js')).countingCrypto(
    await importOriginal<typeof import('node:crypto')>(),
  ),
);

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
    // By parts: ASCII parts written in place, others through the binding string: two hashes each.
    for (const id of ['u1', 'ünï', 'u\uD800']) {
      const byParts = (claimKey: ClaimKey) => {
        const before = { ...calls };
        const signature = claimKey.signatureOfParts(id, 'session-1', '7', TEXT, TEXT.length);
        return {
          signature,
          createHmac: calls.createHmac - before.createHmac,
          hash: calls.hash - before.hash,
        };
      };
      const fastParts = byParts(new fresh.ClaimKey(key));
      const fallbackParts = byParts(new fresh.ClaimKey(key, { oneShot: false }));
      expect(fastParts).toMatchObject(hasOneShot ? { createHmac: 0, hash: 2 } : { createHmac: 1, hash: 0 });
      expect(fallbackParts).toMatchObject({ createHmac: 1, hash: 0 });
      expect(fallbackParts.signature).toBe(fastParts.signature);
      expect(fastParts.signature).toBe(
        new fresh.ClaimKey(key).signature(bindingOfParts(id, 'session-1', '7'), TEXT, TEXT.length),
      );
    }
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

/** `length` random ASCII characters, U+0000 to U+007F (colons, digits and control characters included). */
const ascii = (length: number) => String.fromCharCode(...[...randomBytes(length)].map((b) => b & 127));

describe('ClaimKey.signatureOfParts (the binding written into the buffer part by part)', () => {
  const secret = randomBytes(32);
  const fast = new ClaimKey(createSecretKey(secret));
  const fallback = new ClaimKey(createSecretKey(secret), { oneShot: false });
  const value = `${TEXT}.signature`;
  /** Every way of computing it must give what createHmac gives over `bindingOfParts`. */
  const check = (id: string, session: string, version: string, textLength = TEXT.length) => {
    const binding = bindingOfParts(id, session, version);
    const expected = reference(secret, binding, value.slice(0, textLength));
    const label = JSON.stringify([id.length, session.length, version.length, textLength]);
    expect(fast.signatureOfParts(id, session, version, value, textLength), label).toBe(expected);
    expect(fallback.signatureOfParts(id, session, version, value, textLength), label).toBe(expected);
    expect(fast.signature(binding, value, textLength), label).toBe(expected);
  };

  it('equals createHmac over bindingOfParts for ASCII parts whose lengths take 1 to 4 digits, and past the buffer', () => {
    // Each side of every change in a length's digit count, and parts too long for the buffer
    // (ROOM, 1,024 bytes: those go through `signature`, then createHmac); ascending, then descending,
    // so that every message length follows longer and shorter ones (the views are kept by length).
    const lengths = [0, 1, 9, 10, 11, 99, 100, 101, 500, 999, 1000, 1001];
    for (const order of [lengths, [...lengths].reverse()]) {
      for (const a of order) {
        for (const b of order) {
          for (const c of [0, 1, 10, 13, 100]) check(ascii(a), ascii(b), ascii(c));
        }
      }
    }
  });

  it('equals createHmac over bindingOfParts for any part with a character above U+007F, surrogates too', () => {
    const others = [
      '\u0080',
      '\u00e9',
      '\u00ff',
      '\u0100',
      '\u7528',
      '\u{1F511}',
      '\uD800',
      '\uDC00x',
      'a\uDBFF\uDFFFb',
    ];
    for (const other of others) {
      for (const [id, session, version] of [
        [other, 'session-1', '7'],
        ['u1', other, '7'],
        ['u1', 'session-1', other],
        [`u1${other}`, `${other}s`, ''],
        [ascii(40), ascii(40), `7${other}`],
      ] as const) {
        check(id, session, version);
        check(id, session, version, 5);
      }
    }
  });

  it('equals signature for text shorter than asked or with a character above U+007F (as openClaim never passes)', () => {
    const binding = bindingOfParts('u1', 's1', '3');
    for (const [text, length] of [
      ['v2.sms.1', 20],
      ['v2.sms.\u00e9.1', 12],
      ['v2.sms.\u7528.1', 12],
    ] as const) {
      expect(fast.signatureOfParts('u1', 's1', '3', text, length)).toBe(
        fast.signature(binding, text, length),
      );
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
      const parts = ['u1', 's1', ''] as const;
      const binding = bindingOfParts(...parts);
      const claim = { method: 'sms' as const, verifiedAt: 1_764_590_400_000, expiresAt: 1_764_594_000_000 };
      const value = signClaim(claim, binding, a);
      const keyA = new ClaimKey(a, { oneShot });
      const keyB = new ClaimKey(b, { oneShot });
      expect(openClaim(value, ...parts, [keyA])).toEqual(claim);
      expect(openClaim(value, ...parts, [keyB])).toBeNull();
      expect(openClaim(value, ...parts, [keyB, keyA])).toEqual(claim);
      expect(openClaim(value, 'u1', 's2', '', [keyA])).toBeNull();
      // Every character of the signature changed in turn, to another base64url one and to one outside it.
      const at = value.length - 43;
      for (let i = at; i < value.length; i++) {
        for (const other of [value[i] === 'A' ? 'B' : 'A', '.']) {
          const altered = value.slice(0, i) + other + value.slice(i + 1);
          expect(openClaim(altered, ...parts, [keyA])).toBeNull();
        }
      }
      expect(openClaim(value.slice(0, -1), ...parts, [keyA])).toBeNull();
      expect(openClaim(`${value}A`, ...parts, [keyA])).toBeNull();
      // The claim's text changed under the same signature.
      expect(openClaim(value.replace('.sms.', '.voice.'), ...parts, [keyA])).toBeNull();
      expect(openClaim(value.replace('1764594000000', '1764594000001'), ...parts, [keyA])).toBeNull();
      // A number version binds as its text; parts with characters above U+007F (written through
      // the binding string) and with lone surrogates (bound as JSON) are told apart.
      const versioned = signClaim(claim, bindingOfParts('u1', 's1', '7'), a);
      expect(openClaim(versioned, 'u1', 's1', 7, [keyA])).toEqual(claim);
      expect(openClaim(versioned, 'u1', 's1', '7', [keyA])).toEqual(claim);
      expect(openClaim(versioned, 'u1', 's1', 8, [keyA])).toBeNull();
      expect(openClaim(versioned, 'u1', 's17', '', [keyA])).toBeNull();
      for (const [id, other] of [
        ['ünï', 'uni'],
        ['u\uD800', 'u\uFFFD'],
        ['u\u00ff', 'u\u00c3\u00bf'],
      ] as const) {
        const signed = signClaim(claim, bindingOfParts(id, 's1', ''), a);
        expect(openClaim(signed, id, 's1', '', [keyA])).toEqual(claim);
        expect(openClaim(signed, other, 's1', '', [keyA])).toBeNull();
      }
    },
  );
});

describe('ClaimKey at the edge of its buffer (ROOM bytes of binding and text)', () => {
  /** What one call costs through the counting mock, and what it answers. */
  const counted = (sign: () => string) => {
    const before = { ...calls };
    const signature = sign();
    return { signature, createHmac: calls.createHmac - before.createHmac, hash: calls.hash - before.hash };
  };
  /** In the buffer: two crypto.hash one-shots; past it: one createHmac (also without crypto.hash). */
  const inBuffer = hasOneShot ? { createHmac: 0, hash: 2 } : { createHmac: 1, hash: 0 };
  const pastIt = { createHmac: 1, hash: 0 };
  const VALUE = `${TEXT}.${'A'.repeat(43)}`;

  it('signs by parts in the buffer up to exactly ROOM (length bound with 15 for framing), by createHmac past it', async () => {
    vi.resetModules();
    const fresh = await import('../../src/verified-claim.js');
    const secret = randomBytes(32);
    const key = new fresh.ClaimKey(createSecretKey(secret));
    const [session, version] = ['session-1', '7'];
    // The bound counts each part's length, 15 for the three `<length>:` framings, and the text.
    for (const [total, expected] of [
      [fresh.ROOM - 1, inBuffer],
      [fresh.ROOM, inBuffer],
      [fresh.ROOM + 1, pastIt],
    ] as const) {
      const id = 'u'.repeat(total - 15 - session.length - version.length - TEXT.length);
      const plain = reference(secret, bindingOfParts(id, session, version), TEXT);
      const got = counted(() => key.signatureOfParts(id, session, version, VALUE, TEXT.length));
      expect(got, `total ${total}`).toEqual({ signature: plain, ...expected });
    }
  });

  it('signs a binding in the buffer up to exactly ROOM bytes (3 per UTF-16 unit), by createHmac past it', async () => {
    vi.resetModules();
    const fresh = await import('../../src/verified-claim.js');
    const secret = randomBytes(32);
    const key = new fresh.ClaimKey(createSecretKey(secret));
    // 330 units of 3 bytes each ('用') fill the buffer to the byte at ROOM: one byte more would
    // not fit. ASCII ('b') counts 3 a unit too, as the bound cannot tell before writing.
    for (const unit of ['用', 'b']) {
      const binding = unit.repeat(330);
      for (const [total, expected] of [
        [fresh.ROOM - 1, inBuffer],
        [fresh.ROOM, inBuffer],
        [fresh.ROOM + 1, pastIt],
      ] as const) {
        const textLength = total - binding.length * 3;
        const plain = reference(secret, binding, VALUE.slice(0, textLength));
        const got = counted(() => key.signature(binding, VALUE, textLength));
        expect(got, `${unit} total ${total}`).toEqual({ signature: plain, ...expected });
      }
    }
    // And the buffer holds nothing over for the next, shorter message.
    expect(key.signature('b', VALUE, TEXT.length)).toBe(reference(secret, 'b', TEXT));
  });
});
