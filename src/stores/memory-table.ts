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
 *
 * The table grows (and shrinks) without stopping: a resize starts a new slot array and leaves the
 * entries in the old one, and every write after it moves the next few old slots over (`#advance`),
 * so no write moves more than a handful of entries (a full rehash of three million entries held one
 * request for about a second). Until the old slots are empty a lookup probes the new slots, then the
 * old ones (tags only, as ever, for a key that is in neither). A table at most 1/8 full shrinks the
 * same way, by halves (any write after the last halving, or the store's purge, starts the next), and
 * an emptied one goes back to 16 slots at once. The store's purge of stale entries (`sweepSome`)
 * drops and rewrites entries where they are, old slots and new, and moves none, a slice at a time:
 * each call goes on from where the last one ended, over the old slots (while a resize is under way),
 * then the new ones, then the keys holding a NUL, and starts over (one lap). Nothing walks the table
 * while it changes: `entries` is for the tests, and reads the slots as they stand.
 */

const EMPTY = 0;
const GONE = 1; // a deleted slot (or, in an old table, one moved on): probing goes on past it
const SEPARATOR = '\u0000';
const MIN_CAPACITY = 16;
/** Old slots a write moves on, at least, while the table resizes (more when the new table is tight). */
const MIN_STEP = 4;
const NO_TAGS = new Uint8Array(0);
/** `sweepSome`'s phases of a lap, in order. */
const OLD_SLOTS = 0;
const NEW_SLOTS = 1;
const NUL_KEYS = 2;
/**
 * The slots are kept in pages of 4,096 (32 KiB), each made when a string is first put in it: an
 * array of eight million slots made at once (64 MiB, zeroed page by page by the OS) took 250–460 ms
 * on this machine, inside the write that started the resize. A page takes ~20 µs.
 */
const PAGE_BITS = 12;
const PAGE_SIZE = 1 << PAGE_BITS;
const PAGE_MASK = PAGE_SIZE - 1;

type Slot = string | typeof EMPTY | typeof GONE;
/** A table's slots, by page; a page not made yet holds nothing (its tags are all EMPTY). */
type Pages = (Slot[] | undefined)[];

const pagesFor = (capacity: number): Pages => new Array(Math.ceil(capacity / PAGE_SIZE)).fill(undefined);
/** The string in slot `at`, whose tag says it holds one. */
const stringAt = (pages: Pages, at: number) => (pages[at >>> PAGE_BITS] as Slot[])[at & PAGE_MASK] as string;

/**
 * A slot's tag: 0 empty, 1 deleted, else 2–255 from the key's hash. A probe reads the tag first and
 * only a slot whose tag matches has its string read: with a million challenges the table and its
 * strings are far larger than the CPU's caches, and a string read there is a cache miss (a lookup of
 * an absent key, four per verify, otherwise read every string on its probe sequence).
 */
const tagOf = (hash: number) => 2 + ((hash >>> 24) % 254);

/** The slot of `pages` holding `key` (whose hash is `hash`), or -1. */
function probe(pages: Pages, tags: Uint8Array, key: string, hash: number): number {
  const mask = tags.length - 1;
  const length = key.length;
  const tag = tagOf(hash);
  let at = hash & mask;
  for (let step = 1; ; step++) {
    const seen = tags[at] as number;
    if (seen === EMPTY) return -1;
    if (seen === tag) {
      const slot = stringAt(pages, at);
      if (slot.length > length && slot.charCodeAt(length) === 0 && slot.startsWith(key)) return at;
    }
    at = (at + step) & mask; // triangular steps: every slot of a power-of-two table is visited
  }
}

/** `#find`'s answer for slot `at` of the old table (-1 is "absent", 0 and up the new table's slots). */
const inOld = (at: number) => -2 - at;

export class EntryTable {
  #slots: Pages = pagesFor(MIN_CAPACITY);
  #tags = new Uint8Array(MIN_CAPACITY);
  /** Live entries in `#slots`. */
  #count = 0;
  /** Deleted slots in `#slots` not yet reused. */
  #gone = 0;
  /**
   * While resizing, the slots being emptied into `#slots` (else empty). Nothing is added to them; an
   * entry held there is replaced or deleted in place. A slot moved on is GONE, its string dropped.
   */
  #oldSlots: Pages = [];
  #oldTags = NO_TAGS;
  /** Live entries in `#oldSlots`. */
  #oldCount = 0;
  /** The next old slot to move. */
  #cursor = 0;
  /** Old slots each write moves on (see `#resize`). */
  #step = MIN_STEP;
  /** Entries moved from old slots to new ones, ever (read by the tests around each call). */
  #moved = 0;
  /**
   * Where `sweepSome` goes on: in the old slots (OLD_SLOTS, only while a resize is under way), the new
   * ones (NEW_SLOTS) or the keys holding a NUL (NUL_KEYS), at slot `#sweepAt`. A resize that starts
   * turns the new slots into the old ones (the place stays where it is); one that ends while the
   * sweep is in its old slots sends it to the start of the new ones, which hold every entry left.
   */
  #sweepPhase = NEW_SLOTS;
  #sweepAt = 0;
  /** Laps of `sweepSome` ended, and slots (and NUL keys) it read, ever. */
  #laps = 0;
  #swept = 0;
  /** The last two keys `#hashOf` hashed, and their hashes (at first a key no lookup hashes: a NUL). */
  #lastKey = SEPARATOR;
  #lastHash = 0;
  #lastKey2 = SEPARATOR;
  #lastHash2 = 0;
  readonly #seed = randomBytes(4).readUInt32LE(0);
  /** Keys with a NUL in them. */
  readonly #odd = new Map<string, string>();

  get size(): number {
    return this.#count + this.#oldCount + this.#odd.size;
  }

  /** Slots of the current table. For tests, with `moved`. */
  get capacity(): number {
    return this.#tags.length;
  }

  /** Entries moved from an old table to a new one so far: no write moves more than a few. For tests. */
  get moved(): number {
    return this.#moved;
  }

  /** Laps `sweepSome` has ended (each read every entry the table held throughout it). */
  get laps(): number {
    return this.#laps;
  }

  /** Slots and NUL keys `sweepSome` has read so far (its units). For tests. */
  get swept(): number {
    return this.#swept;
  }

  /** `sweepSome`'s units in one lap: every slot, old and new, and every key holding a NUL. */
  get sweepUnits(): number {
    return this.#oldTags.length + this.#tags.length + this.#odd.size;
  }

  /** The hash of `text`'s first `length` characters (a key, or a slot's key before its NUL). */
  #hash(text: string, length = text.length): number {
    let h = this.#seed ^ 0x811c9dc5;
    for (let i = 0; i < length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  /**
   * `#hash(key)`, remembered for the last two keys looked up: a verify reads a challenge's entry,
   * its send state's (the same key, written again) and deletes it, with one other key between.
   */
  #hashOf(key: string): number {
    if (key === this.#lastKey) return this.#lastHash;
    if (key === this.#lastKey2) return this.#lastHash2;
    const hash = this.#hash(key);
    this.#lastKey2 = this.#lastKey;
    this.#lastHash2 = this.#lastHash;
    this.#lastKey = key;
    this.#lastHash = hash;
    return hash;
  }

  /** The new table's slot holding `key` (0 and up), the old table's (`inOld`), or -1. */
  #find(key: string): number {
    const hash = this.#hashOf(key);
    const at = probe(this.#slots, this.#tags, key, hash);
    if (at >= 0 || this.#oldCount === 0) return at;
    const old = probe(this.#oldSlots, this.#oldTags, key, hash);
    return old < 0 ? -1 : inOld(old);
  }

  /** The string held at `found` (an answer of `#find` other than -1). */
  #at(found: number): string {
    return found >= 0 ? stringAt(this.#slots, found) : stringAt(this.#oldSlots, inOld(found));
  }

  /** Puts `slot` at `found` (an answer of `#find` other than -1), whose page is made. */
  #put(found: number, slot: Slot): void {
    const pages = found >= 0 ? this.#slots : this.#oldSlots;
    const at = found >= 0 ? found : inOld(found);
    (pages[at >>> PAGE_BITS] as Slot[])[at & PAGE_MASK] = slot;
  }

  get(key: string): string | undefined {
    if (key.includes(SEPARATOR)) return this.#odd.get(key);
    const found = this.#find(key);
    return found === -1 ? undefined : this.#at(found).slice(key.length + 1);
  }

  has(key: string): boolean {
    return key.includes(SEPARATOR) ? this.#odd.has(key) : this.#find(key) !== -1;
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
    const found = this.#find(key);
    if (found !== -1) {
      const slot = this.#at(found);
      // A join writes its pieces into one flat string (a `+` would make a rope to flatten later).
      const text = narrow ? [slot.slice(0, key.length + 1), entry].join('') : flat(key + SEPARATOR + entry);
      this.#put(found, text);
    } else {
      // One-byte when possible (memory-entries.ts); the key's hash as `#find` just took it.
      this.#insert(flat(key + SEPARATOR + entry), key.length, this.#hashOf(key));
      if ((this.#count + this.#gone) * 4 > this.#tags.length * 3) this.#resize();
    }
    this.#advance();
    this.#shrinkIfSparse(); // a shrink that just ended may leave the table sparse still (a purge's)
  }

  /**
   * Puts `text` (`key` NUL entry, `key` its first `length` characters, whose hash is `hash`) in a free
   * slot of `#slots`.
   */
  #insert(text: string, length: number, hash = this.#hash(text, length)): void {
    const tags = this.#tags;
    const mask = tags.length - 1;
    let at = hash & mask;
    for (let step = 1; (tags[at] as number) > GONE; step++) at = (at + step) & mask;
    if (tags[at] === GONE) this.#gone--;
    const index = at >>> PAGE_BITS;
    const page = this.#slots[index] ?? this.#newPage(index);
    page[at & PAGE_MASK] = text;
    tags[at] = tagOf(hash);
    this.#count++;
  }

  /** Page `index` of `#slots`, made (all EMPTY). */
  #newPage(index: number): Slot[] {
    const page: Slot[] = new Array(Math.min(PAGE_SIZE, this.#tags.length)).fill(EMPTY);
    this.#slots[index] = page;
    return page;
  }

  delete(key: string): boolean {
    if (key.includes(SEPARATOR)) return this.#odd.delete(key);
    const found = this.#find(key);
    if (found === -1) return false;
    this.#put(found, GONE);
    if (found >= 0) {
      this.#tags[found] = GONE;
      this.#count--;
      this.#gone++;
    } else {
      this.#oldTags[inOld(found)] = GONE;
      if (--this.#oldCount === 0) this.#endResize();
    }
    this.#advance();
    this.#shrinkIfSparse();
    return true;
  }

  /**
   * Keeps, rewrites or drops every entry: one whole lap of `sweepSome`, then a resize emptied by it
   * ended and a table left at most 1/8 full shrunk, as after a delete. For tests (the store sweeps
   * a slice at a time).
   */
  sweep(update: (key: string, entry: string) => string | undefined): void {
    for (let left = this.sweepUnits; left > 0; ) left -= this.sweepSome(update, left);
    this.settle();
  }

  /**
   * The store's purge, a slice at a time: reads `units` more slots (a key holding a NUL counts as
   * one, and those are read all together: no slice bounds them, which is fine while only keys from
   * outside the package can hold a NUL) from where the last call ended, and keeps, rewrites or
   * drops each entry there: `update(key, entry)` gives the entry to keep (the same string: left as it
   * is) or undefined to drop it, and must not change the table. Returns the units read: fewer than
   * asked when the lap ended in this call (`laps` counts them); the next call starts the next lap.
   *
   * Nothing is moved and nothing starts or ends a resize: a resize under way is swept where it
   * stands, its old slots and the new ones, and goes on with the writes that follow (`settle`, or
   * any write, ends one this emptied and shrinks a table left sparse). So calls with no write
   * between them see one layout, and calls adding up to `sweepUnits` read every slot exactly once.
   * A lap reads every entry the table held throughout it: entries only move from the old slots,
   * read first, to the new ones, read after.
   */
  sweepSome(update: (key: string, entry: string) => string | undefined, units: number): number {
    let used = 0;
    while (used < units) {
      const phase = this.#sweepPhase;
      if (phase === NUL_KEYS) {
        for (const [key, entry] of this.#odd) {
          const next = update(key, entry);
          if (next === undefined) this.#odd.delete(key);
          else if (next !== entry) this.#odd.set(key, next);
          used++;
        }
        this.#sweepPhase = this.#oldTags.length > 0 ? OLD_SLOTS : NEW_SLOTS;
        this.#sweepAt = 0;
        this.#laps++;
        break;
      }
      const old = phase === OLD_SLOTS;
      const tags = old ? this.#oldTags : this.#tags;
      const start = Math.min(this.#sweepAt, tags.length);
      const to = Math.min(tags.length, start + Math.ceil(units - used)); // whole slots
      // The old slots a resize has moved on are empty: counted as read, not read one by one (at a
      // million entries they were most of the first slices of a purge, ~15 ms of empty tags).
      const from = old ? Math.max(start, Math.min(this.#cursor, to)) : start;
      const dropped = this.#sweepSlots(old ? this.#oldSlots : this.#slots, tags, update, from, to);
      if (old) this.#oldCount -= dropped;
      else {
        this.#count -= dropped;
        this.#gone += dropped;
      }
      used += to - start;
      if (to === tags.length) {
        this.#sweepPhase = phase + 1;
        this.#sweepAt = 0;
      } else this.#sweepAt = to;
    }
    this.#swept += used;
    return used;
  }

  /** Ends a resize whose old slots a sweep emptied, and starts a shrink when the table is sparse. */
  settle(): void {
    if (this.#oldCount === 0 && this.#oldTags.length > 0) this.#endResize();
    this.#shrinkIfSparse();
  }

  /** `sweepSome` over slots `from` to `to` (excluded) of one table; how many entries it dropped. */
  #sweepSlots(
    pages: Pages,
    tags: Uint8Array,
    update: (key: string, entry: string) => string | undefined,
    from: number,
    to: number,
  ): number {
    let dropped = 0;
    for (let at = from; at < to; at++) {
      if ((tags[at] as number) <= GONE) continue;
      const page = pages[at >>> PAGE_BITS] as Slot[];
      const slot = page[at & PAGE_MASK] as string;
      const end = slot.indexOf(SEPARATOR);
      const entry = slot.slice(end + 1);
      const next = update(slot.slice(0, end), entry);
      if (next === entry) continue;
      if (next === undefined) {
        tags[at] = GONE;
        page[at & PAGE_MASK] = GONE;
        dropped++;
      } else page[at & PAGE_MASK] = flat(slot.slice(0, end + 1) + next);
    }
    return dropped;
  }

  /** Starts a shrink when no resize is under way and at most 1/8 of the slots hold an entry. */
  #shrinkIfSparse(): void {
    const length = this.#tags.length;
    if (this.#oldCount === 0 && length > MIN_CAPACITY && this.#count * 8 < length) this.#resize();
  }

  clear(): void {
    this.#slots = pagesFor(MIN_CAPACITY);
    this.#tags = new Uint8Array(MIN_CAPACITY);
    this.#count = 0;
    this.#gone = 0;
    this.#oldCount = 0;
    this.#endResize();
    this.#odd.clear();
    this.#sweepPhase = NEW_SLOTS;
    this.#sweepAt = 0;
  }

  /**
   * Starts moving the live entries to new slots, at a load of at most one half (and no deleted
   * slots), at least half as many as now (a shrink halves the table at most, but an empty table
   * goes back to 16 slots at once; a table still sparse when a shrink ends starts the next with
   * the write that ended it). The writes that follow
   * move the entries over (`#advance`), `#step` old slots each: enough that the old slots are empty
   * before the new table passes its own limit of 3/4 full, as only a write that adds a key fills it
   * (the entries moved plus one per write: live + capacity / step ≤ 3/4 of the new capacity). As
   * the new capacity is at least twice the live entries and half the old capacity, `#step` is at most 8.
   */
  #resize(): void {
    this.#drain(); // nothing to move: a resize starts only after the last one ended (checked by the tests)
    const from = this.#tags.length;
    const live = this.#count;
    let capacity = live === 0 ? MIN_CAPACITY : Math.max(MIN_CAPACITY, from / 2); // emptied: nothing to move
    while (capacity < live * 2) capacity *= 2;
    if (live > 0) {
      this.#step = Math.max(MIN_STEP, Math.ceil(from / ((capacity * 3) / 4 - live)));
      this.#oldSlots = this.#slots;
      this.#oldTags = this.#tags;
      this.#oldCount = live;
      this.#cursor = 0;
      if (this.#sweepPhase === NEW_SLOTS) this.#sweepPhase = OLD_SLOTS; // the same slots, now the old ones
    }
    this.#slots = pagesFor(capacity);
    this.#tags = new Uint8Array(capacity);
    this.#count = 0;
    this.#gone = 0;
  }

  /** Moves the live entries of the next `#step` old slots to the new ones (a write's share of a resize). */
  #advance(step = this.#step): void {
    const tags = this.#oldTags;
    if (tags.length === 0) return;
    const pages = this.#oldSlots;
    let at = this.#cursor;
    for (const end = Math.min(at + step, tags.length); at < end; at++) {
      if ((tags[at] as number) > GONE) {
        const text = stringAt(pages, at);
        // Hashed in place up to its NUL: no key copied per entry.
        this.#insert(text, text.indexOf(SEPARATOR));
        tags[at] = GONE;
        // Its string goes now, not when the resize ends: an entry moved and then rewritten is not
        // held twice meanwhile.
        (pages[at >>> PAGE_BITS] as Slot[])[at & PAGE_MASK] = GONE;
        this.#oldCount--;
        this.#moved++;
      }
    }
    this.#cursor = at;
    if (this.#oldCount === 0) this.#endResize();
  }

  /** Drops the old slots, once no live entry is left in them. */
  #endResize(): void {
    this.#oldSlots = [];
    this.#oldTags = NO_TAGS;
    if (this.#sweepPhase === OLD_SLOTS) {
      this.#sweepPhase = NEW_SLOTS; // every entry left is in the new slots now
      this.#sweepAt = 0;
    }
  }

  /** Ends a resize at once: every entry left in the old slots moved. */
  #drain(): void {
    this.#advance(Number.POSITIVE_INFINITY);
  }

  /**
   * For tests: `[key, entry]` for every entry, in no order, read from the slots as they stand (old
   * and new while a resize is under way): nothing is moved, no resize finished. The store never
   * walks the table; its purge sweeps it in place (`sweep`).
   */
  entries(): [string, string][] {
    const pairs: [string, string][] = [];
    for (const [pages, tags] of [
      [this.#oldSlots, this.#oldTags],
      [this.#slots, this.#tags],
    ] as const) {
      for (let at = 0; at < tags.length; at++) {
        if ((tags[at] as number) <= GONE) continue;
        const slot = stringAt(pages, at);
        const end = slot.indexOf(SEPARATOR);
        pairs.push([slot.slice(0, end), slot.slice(end + 1)]);
      }
    }
    pairs.push(...this.#odd);
    return pairs;
  }
}
