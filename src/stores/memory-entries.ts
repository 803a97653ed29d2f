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
 * through two-byte strings stays two-byte. Text that is not Latin-1 is kept as it is. Text with a
 * lone surrogate is returned unchanged: UTF-8 cannot hold one, so the copy would hold U+FFFD
 * instead, a key that no later lookup of the same key finds (the table would add it again on
 * every write) and a value that reads back changed.
 */
export function flat(text: string): string {
  return (text as unknown as { isWellFormed(): boolean }).isWellFormed()
    ? Buffer.from(text, 'utf8').toString('utf8')
    : text;
}

/** The entry for `value` expiring at `expiresAt`. */
export const entryOf = (value: string, expiresAt: number): string => encodeExpiry(expiresAt) + value;

/** The value of an entry. */
export const entryValue = (entry: string): string => entry.slice(EXPIRY_CHARS);

/*
 * A challenge's record and send state (`c:` and `s:` + its id) share one entry, under the record's
 * key: one key string and one slot instead of two. The attempt counter (`a:` + the id) is kept
 * apart, in its own small entry made by the first wrong code: in the shared entry, each wrong code
 * rewrote the whole record (a few hundred characters that survive in the table, copied by every
 * scavenge); apart, it rewrites about 40. The shared entry is a header, the two parts' stored
 * lengths (empty: absent; `=` after a length: the part expires with the record and its expiry is not
 * repeated), then the parts: `214,38=;` + the two. Each part is kept packed (`pack`): the JSON
 * records lose most of their quotes.
 */

/** The parts of a shared entry: the record (0) and the send state (1). */
export const PARTS = 2;

/** The part `key` is in a challenge's shared entry (0 record, 1 state), or -1 (attempts: apart). */
export function partIndex(key: string): number {
  if (key.charCodeAt(1) !== 58 /* ':' */) return -1;
  const kind = key.charCodeAt(0);
  return kind === 99 /* c */ ? 0 : kind === 115 /* s */ ? 1 : -1;
}

/** The shared entry's key for `key`, in part `part` (from `partIndex`). */
export const homeKey = (key: string, part: number): string => (part === 0 ? key : `c${key.slice(1)}`);

/** True when `a` and `b` are parts of the same challenge's shared entry (`c:X`, `s:X`). */
export const sameHome = (a: string, b: string): boolean =>
  a.length === b.length && partIndex(a) >= 0 && partIndex(b) >= 0 && a.startsWith(b.slice(1), 1);

/*
 * `pack`: the punctuation JSON repeats between strings as one control character each (JSON.stringify
 * writes none of these raw). A value that already holds one of them is kept as it is behind \x06.
 */
const PACKED: Record<string, string> = {
  '","': '\x01',
  '",': '\x02',
  ',"': '\x03',
  '["': '\x04',
  '"]': '\x05',
};
const UNPACKED = ['', '","', '",', ',"', '["', '"]'];
const PACKABLE = /","|",|,"|\["|"\]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the packing codes are control characters on purpose
const CODES = /[\x01-\x06]/;
const VERBATIM = '\x06';

/** `value` with JSON's quote-and-comma runs as single characters; `unpack` gives it back exactly. */
export function pack(value: string): string {
  if (CODES.test(value)) return VERBATIM + value;
  return value.replace(PACKABLE, (run) => PACKED[run] as string);
}

export function unpack(text: string): string {
  if (text.charCodeAt(0) === 6) return text.slice(1);
  // One pass, each code written back as its run: no regular expression and no call per run (a
  // record has a dozen of them, read on every verify).
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 1 && code <= 5) {
      out += text.slice(from, i) + (UNPACKED[code] as string);
      from = i + 1;
    }
  }
  return from === 0 ? text : out + text.slice(from);
}

/** The entry of `part` in a shared entry (expiry + value), or undefined. */
export function memberOf(shared: string, part: number): string | undefined {
  let at = shared.indexOf(';') + 1; // the parts start after the header
  let index = 0;
  let length = 0;
  let same = false;
  for (let i = 0; ; i++) {
    const code = shared.charCodeAt(i);
    if (code >= 48 && code <= 57) length = length * 10 + code - 48;
    else if (code === 61 /* = */) same = true;
    else {
      if (index === part) break;
      if (code === 59 /* ; */) return undefined; // fewer parts than `part`
      at += length;
      length = 0;
      same = false;
      index++;
    }
  }
  if (length === 0) return undefined;
  const stored = shared.slice(at, at + length);
  if (!same) return stored.slice(0, EXPIRY_CHARS) + unpack(stored.slice(EXPIRY_CHARS));
  return shared.slice(shared.indexOf(';') + 1, shared.indexOf(';') + 1 + EXPIRY_CHARS) + unpack(stored);
}

/** A part as stored: its text, and whether its expiry is the record's (left out of the text). */
type Stored = { text: string; same: boolean } | undefined;

/** The parts of a shared entry as stored (no unpacking). */
function storedParts(shared: string): Stored[] {
  const header = shared.indexOf(';');
  const parts: Stored[] = new Array(PARTS).fill(undefined);
  let at = header + 1;
  let index = 0;
  let length = 0;
  let same = false;
  for (let i = 0; i <= header; i++) {
    const code = shared.charCodeAt(i);
    if (code >= 48 && code <= 57) length = length * 10 + code - 48;
    else if (code === 61 /* = */) same = true;
    else {
      if (length > 0) parts[index] = { text: shared.slice(at, at + length), same };
      at += length;
      length = 0;
      same = false;
      index++;
    }
  }
  return parts;
}

/**
 * The shared entry with `part` replaced (undefined: removed), or undefined once it holds nothing.
 * Only the part written is packed: the others are kept as they are stored.
 */
export function withMember(shared: string | undefined, part: number, entry: string | undefined) {
  if (shared !== undefined && entry !== undefined && part > 0) {
    const swapped = swappedMember(shared, part, entry);
    if (swapped !== undefined) return swapped;
  }
  return rebuiltWithMember(shared, part, entry);
}

/**
 * `withMember` for the common write, the send state replaced by one of the same stored length and
 * the same expiry sharing (a resend's state, its count going from 1 to 2): the header stays, and
 * only that part's characters change. Undefined when the write needs the header rebuilt. Gives
 * what `rebuiltWithMember` gives (a shared entry it wrote is canonical: a part after the record
 * that starts with the record's expiry is always stored without it).
 */
function swappedMember(shared: string, part: number, entry: string): string | undefined {
  const header = shared.indexOf(';');
  let at = header + 1;
  let index = 0;
  let length = 0;
  let same = false;
  let recordLength = -1;
  for (let i = 0; i <= header; i++) {
    const code = shared.charCodeAt(i);
    if (code >= 48 && code <= 57) length = length * 10 + code - 48;
    else if (code === 61 /* = */) same = true;
    else {
      if (index === 0) recordLength = length;
      if (index === part) break;
      at += length;
      length = 0;
      same = false;
      index++;
    }
  }
  if (index !== part || length === 0 || entry.length <= EXPIRY_CHARS) return undefined;
  // The record's expiry, when there is a record: a part with the same one is stored without it.
  const shares = recordLength > 0 && shared.startsWith(entry.slice(0, EXPIRY_CHARS), header + 1);
  if (shares !== same) return undefined;
  const value = pack(entry.slice(EXPIRY_CHARS));
  const text = same ? value : entry.slice(0, EXPIRY_CHARS) + value;
  if (text.length !== length) return undefined;
  return shared.slice(0, at) + text + shared.slice(at + length);
}

/** `withMember` by taking the entry apart and writing it again (any change of the header). */
function rebuiltWithMember(shared: string | undefined, part: number, entry: string | undefined) {
  const parts: Stored[] = shared === undefined ? new Array(PARTS).fill(undefined) : storedParts(shared);
  const oldExpiry = parts[0]?.text.slice(0, EXPIRY_CHARS);
  parts[part] =
    entry === undefined
      ? undefined
      : { text: entry.slice(0, EXPIRY_CHARS) + pack(entry.slice(EXPIRY_CHARS)), same: false };
  const expiry = parts[0]?.text.slice(0, EXPIRY_CHARS);
  let last = PARTS - 1;
  while (last >= 0 && parts[last] === undefined) last--;
  if (last < 0) return undefined;
  let header = '';
  let body = '';
  for (let i = 0; i <= last; i++) {
    let stored = parts[i];
    if (i > 0) header += ',';
    if (stored === undefined) continue;
    // The record's expiry changed or it is gone: a part that shared it gets it back in full.
    if (stored.same && expiry !== oldExpiry) stored = { text: oldExpiry + stored.text, same: false };
    if (
      i > 0 &&
      !stored.same &&
      stored.text.length > EXPIRY_CHARS &&
      stored.text.startsWith(expiry ?? '\0', 0)
    ) {
      stored = { text: stored.text.slice(EXPIRY_CHARS), same: true };
    }
    header += stored.same ? `${stored.text.length}=` : String(stored.text.length);
    body += stored.text;
  }
  return `${header};${body}`;
}
