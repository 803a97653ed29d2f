/**
 * A bounded memo for the hot paths (verified cookies, session fingerprints, numbers on file): two
 * generations of a plain Map. New entries go into the young one; when it holds `max / 2`, it
 * becomes the old one and the previous old one is dropped whole. A hit in the old generation is
 * copied into the young one, so what is used stays. At most `max` entries, no per-entry
 * bookkeeping, no eviction scan: a miss costs one Map insertion, a hit one or two lookups.
 */
export class BoundedCache<K, V> {
  #young = new Map<K, V>();
  #old = new Map<K, V>();
  readonly #half: number;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 2) throw new TypeError('BoundedCache: max must be an integer ≥ 2');
    this.#half = max >> 1;
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }

  get(key: K): V | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: K, value: V): void {
    if (this.#young.size >= this.#half && !this.#young.has(key)) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, value);
  }

  /** The cached value, or `make(key)` cached (an `undefined` result is not cached). */
  memo(key: K, make: (key: K) => V): V {
    const known = this.get(key);
    if (known !== undefined) return known;
    const value = make(key);
    if (value !== undefined) this.set(key, value);
    return value;
  }

  clear(): void {
    this.#young.clear();
    this.#old.clear();
  }
}
