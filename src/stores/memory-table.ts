import { randomBytes } from 'node:crypto';
import { flat } from './memory-entries.js';

/*
 * The memory store's table for the keys it keeps (everything but the evictable ones): an
 * open-addressing hash table whose slots hold one flat string per entry, the key, a NUL, then the
 * entry. A Map keeps a key string and a value string (two string headers) and 28 bytes of table per
 * slot of its power-of-two capacity (a pointer each for key, value and chain, half a bucket); here
 * there is one string and one 8-byte slot (plus a one-byte tag outside the V8 heap, `tagOf`).
 * Measured with 100 000 pending challenges (3 entries each): about 90 B less per challenge
 * (BENCHMARKS.md, "heap").
 *
 * Keys holding a NUL could be read as another key's prefix, so they stay in a Map of their own
 * (none of the package's keys has one). The hash is FNV-1a with a random seed per table: the keys
 * are mostly keyed hashes or random ids anyway, and a seed the client cannot see keeps anyone from
 * lining keys up into one long probe sequence.
 */

const EMPTY = 0;
const GONE = 1; // a deleted slot: probing goes on past it
const SEPARATOR = '\u0000';
const MIN_CAPACITY = 16;

type Slot = string | typeof EMPTY | typeof GONE;

/**
 * A slot's tag: 0 empty, 1 deleted, else 2–255 from the key's hash. A probe reads the tag first and
 * only a slot whose tag matches has its string read: with a million challenges the table and its
 * strings are far larger than the CPU's caches, and a string read there is a cache miss (a lookup of
 * an absent key, four per verify, otherwise read every string on its probe sequence).
 */
const tagOf = (hash: number) => 2 + ((hash >>> 24) % 254);

export class EntryTable {
  #slots: Slot[] = new Array(MIN_CAPACITY).fill(EMPTY);
  #tags = new Uint8Array(MIN_CAPACITY);
  #mask = MIN_CAPACITY - 1;
  /** Live entries. */
  #count = 0;
  /** Deleted slots not yet reused. */
  #gone = 0;
  readonly #seed = randomBytes(4).readUInt32LE(0);
  /** Keys with a NUL in them. */
  readonly #odd = new Map<string, string>();

  get size(): number {
    return this.#count + this.#odd.size;
  }

  /** The hash of `text`'s first `length` characters (a key, or a slot's key before its NUL). */
  #hash(text: string, length = text.length): number {
    let h = this.#seed ^ 0x811c9dc5;
    for (let i = 0; i < length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** The slot holding `key`, or -1. */
  #find(key: string): number {
    const tags = this.#tags;
    const mask = this.#mask;
    const length = key.length;
    const hash = this.#hash(key);
    const tag = tagOf(hash);
    let at = hash & mask;
    for (let step = 1; ; step++) {
      const seen = tags[at] as number;
      if (seen === EMPTY) return -1;
      if (seen === tag) {
        const slot = this.#slots[at] as string;
        if (slot.length > length && slot.charCodeAt(length) === 0 && slot.startsWith(key)) return at;
      }
      at = (at + step) & mask; // triangular steps: every slot of a power-of-two table is visited
    }
  }

  get(key: string): string | undefined {
    if (key.includes(SEPARATOR)) return this.#odd.get(key);
    const at = this.#find(key);
    return at < 0 ? undefined : (this.#slots[at] as string).slice(key.length + 1);
  }

  has(key: string): boolean {
    return key.includes(SEPARATOR) ? this.#odd.has(key) : this.#find(key) >= 0;
  }

  /**
   * Keeps `entry` for `key`. `narrow`: the entry is made only of pieces already stored or of digits
   * (a counter written from the entry read, an expiry): on a key already held it is joined to the
   * slot's own key in one native copy instead of the UTF-8 round trip of `flat` (3–5× cheaper on a
   * challenge's ~300 characters), and comes out one-byte whenever its pieces are.
   */
  set(key: string, entry: string, narrow = false): void {
    if (key.includes(SEPARATOR)) {
      this.#odd.set(key, entry);
      return;
    }
    const at = this.#find(key);
    if (at >= 0) {
      const slot = this.#slots[at] as string;
      // A join writes its pieces into one flat string (a `+` would make a rope to flatten later).
      this.#slots[at] = narrow
        ? [slot.slice(0, key.length + 1), entry].join('')
        : flat(key + SEPARATOR + entry);
      return;
    }
    const text = flat(key + SEPARATOR + entry); // one-byte when possible (memory-entries.ts)
    this.#insert(text, key.length);
    if ((this.#count + this.#gone) * 4 > this.#slots.length * 3) this.#resize();
  }

  /** Puts `text` (`key` NUL entry, `key` its first `length` characters) in a free slot. */
  #insert(text: string, length: number): void {
    const tags = this.#tags;
    const mask = this.#mask;
    const hash = this.#hash(text, length);
    let at = hash & mask;
    for (let step = 1; (tags[at] as number) > GONE; step++) at = (at + step) & mask;
    if (tags[at] === GONE) this.#gone--;
    this.#slots[at] = text;
    tags[at] = tagOf(hash);
    this.#count++;
  }

  delete(key: string): boolean {
    if (key.includes(SEPARATOR)) return this.#odd.delete(key);
    const at = this.#find(key);
    if (at < 0) return false;
    this.#slots[at] = GONE;
    this.#tags[at] = GONE;
    this.#count--;
    this.#gone++;
    if (this.#slots.length > MIN_CAPACITY && this.#count * 8 < this.#slots.length) this.#resize();
    return true;
  }

  clear(): void {
    this.#slots = new Array(MIN_CAPACITY).fill(EMPTY);
    this.#tags = new Uint8Array(MIN_CAPACITY);
    this.#mask = MIN_CAPACITY - 1;
    this.#count = 0;
    this.#gone = 0;
    this.#odd.clear();
  }

  /** Rebuilds the slots for the live entries at a load of at most one half (and no deleted slots). */
  #resize(): void {
    let capacity = MIN_CAPACITY;
    while (capacity < this.#count * 2) capacity *= 2;
    const old = this.#slots;
    this.#slots = new Array(capacity).fill(EMPTY);
    this.#tags = new Uint8Array(capacity);
    this.#mask = capacity - 1;
    this.#count = 0;
    this.#gone = 0;
    for (const slot of old) {
      // Hashed in place up to its NUL: no key copied per entry (a million entries rehash in one go).
      if (slot !== EMPTY && slot !== GONE) this.#insert(slot, slot.indexOf(SEPARATOR));
    }
  }

  /** `[key, entry]` for every entry; the table may be changed while iterating (what was seen stays seen). */
  *entries(): IterableIterator<[string, string]> {
    const slots = this.#slots;
    for (let at = 0; at < slots.length; at++) {
      const slot = slots[at] as Slot;
      if (slot === EMPTY || slot === GONE) continue;
      const end = slot.indexOf(SEPARATOR);
      yield [slot.slice(0, end), slot.slice(end + 1)];
    }
    yield* [...this.#odd];
  }

  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }
}
