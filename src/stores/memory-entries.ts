/*
 * How the memory store keeps an entry: one flat, one-byte string per value with its expiry in
 * front, in one Map per kind of key. No per-entry object, no number box, no slot arrays sized for
 * `max` in advance (lru-cache preallocated about 44 bytes per slot of `max`).
 */

/** Characters of the expiry prefix: 7 × 6 bits = 42 bits of milliseconds (past the year 2100). */
export const EXPIRY_CHARS = 7;
const BASE = 48; // '0': 64 consecutive printable ASCII characters from here, '0'..'o'

/** `expiresAt` (ms, rounded up, clamped to what 42 bits hold) as 7 printable ASCII characters. */
export function encodeExpiry(expiresAt: number): string {
  let n = Math.min(Math.max(0, Math.ceil(expiresAt)), 2 ** 42 - 1);
  let text = '';
  for (let i = 0; i < EXPIRY_CHARS; i++) {
    text = String.fromCharCode(BASE + (n % 64)) + text;
    n = Math.floor(n / 64);
  }
  return text;
}

export function decodeExpiry(entry: string): number {
  let n = 0;
  for (let i = 0; i < EXPIRY_CHARS; i++) n = n * 64 + (entry.charCodeAt(i) - BASE);
  return n;
}

/**
 * A flat copy, one byte per character when the text allows it: keys and values built by
 * concatenation are otherwise kept as trees of pieces (a rope per `+`), and ASCII that passed
 * through two-byte strings stays two-byte. Text that is not Latin-1 is kept as it is.
 */
export function flat(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** The entry for `value` expiring at `expiresAt`. */
export const entryOf = (value: string, expiresAt: number): string => encodeExpiry(expiresAt) + value;

/** The value of an entry. */
export const entryValue = (entry: string): string => entry.slice(EXPIRY_CHARS);

/*
 * A challenge's record, send state and attempt counter (`c:`, `s:` and `a:` + its id) share one Map
 * entry, under the record's key: one key string and one Map slot instead of three. The shared entry
 * is the three entries' lengths (0: absent), then the entries: `226,65,0;` + the two.
 */
const PARTS = 'csa';

/** Where `key` lives when it is a challenge's: the shared entry's key and its part, else undefined. */
export function partOf(key: string): { home: string; part: number } | undefined {
  const part = key.charCodeAt(1) === 58 /* ':' */ ? PARTS.indexOf(key.charAt(0)) : -1;
  return part < 0 ? undefined : { home: part === 0 ? key : `c${key.slice(1)}`, part };
}

/** The entry of `part` in a shared entry, or undefined. */
export function memberOf(shared: string, part: number): string | undefined {
  let at = shared.indexOf(';') + 1; // the entries start after the header
  let length = 0;
  for (let i = 0, index = 0; index <= part; i++) {
    const code = shared.charCodeAt(i);
    if (code >= 48 && code <= 57) length = length * 10 + code - 48;
    else if (index++ < part) {
      at += length;
      length = 0;
    }
  }
  return length > 0 ? shared.slice(at, at + length) : undefined;
}

/** The shared entry with `part` replaced (undefined: removed), or undefined once it holds nothing. */
export function withMember(shared: string | undefined, part: number, entry: string | undefined) {
  const members = [0, 1, 2].map((i) =>
    i === part ? entry : shared === undefined ? undefined : memberOf(shared, i),
  );
  if (members.every((member) => member === undefined)) return undefined;
  return `${members.map((member) => member?.length ?? 0).join(',')};${members.join('')}`;
}
