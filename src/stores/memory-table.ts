import { randomBytes } from 'node:crypto';
import { flat } from './memory-entries.js';

/*
 * The memory store's table for the keys it keeps (everything but the evictable ones): an
 * open-addressing hash table whose slots hold one flat string per entry, the key, a NUL, then the
 * entry. A Map keeps a key string and a value string (two string headers) and 28 bytes of table per
 * slot of its power-of-two capacity (a pointer each for key, value and chain, half a bucket); here
 * there is one string and one 8-byte slot. Measured with 100 000 pending challenges (3 entries each):
 * about 90 B less per challenge (BENCHMARKS.md, "heap").
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

export class EntryTable {
  #slots: Slot[] = new Array(MIN_CAPACITY).fill(EMPTY);
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

  #hash(key: string): number {
    let h = this.#seed ^ 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /** The slot holding `key`, or -1. */
  #find(key: string): number {
    const slots = this.#slots;
    const mask = this.#mask;
    const length = key.length;
    let at = this.#hash(key) & mask;
    for (let step = 1; ; step++) {
      const slot = slots[at] as Slot;
      if (slot === EMPTY) return -1;
      if (slot !== GONE && slot.length > length && slot.charCodeAt(length) === 0 && slot.startsWith(key)) {
        return at;
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
    this.#insert(key, text);
    if ((this.#count + this.#gone) * 4 > this.#slots.length * 3) this.#resize();
  }

  #insert(key: string, text: string): void {
    const slots = this.#slots;
    const mask = this.#mask;
    let at = this.#hash(key) & mask;
    for (let step = 1; slots[at] !== EMPTY && slots[at] !== GONE; step++) at = (at + step) & mask;
    if (slots[at] === GONE) this.#gone--;
    slots[at] = text;
    this.#count++;
  }

  delete(key: string): boolean {
    if (key.includes(SEPARATOR)) return this.#odd.delete(key);
    const at = this.#find(key);
    if (at < 0) return false;
    this.#slots[at] = GONE;
    this.#count--;
    this.#gone++;
    if (this.#slots.length > MIN_CAPACITY && this.#count * 8 < this.#slots.length) this.#resize();
    return true;
  }

  clear(): void {
    this.#slots = new Array(MIN_CAPACITY).fill(EMPTY);
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
    this.#mask = capacity - 1;
    this.#count = 0;
    this.#gone = 0;
    for (const slot of old) {
      if (slot !== EMPTY && slot !== GONE) this.#insert(slot.slice(0, slot.indexOf(SEPARATOR)), slot);
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
