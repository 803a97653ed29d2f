import type { CheckedUser } from './options.js';
import type { Method, VerifiedClaim } from './verified-claim.js';

/** One slot of the ring, rewritten in place for each claim it holds. */
export class Slot {
  /** The cache key (-1: empty, or moved to a newer slot). */
  key = -1;
  value = '';
  id = '';
  session = '';
  version: string | number = '';
  method: Method = 'sms';
  // NaN, a double from the start: the field holds its number in place, never a new box per claim.
  verifiedAt = Number.NaN;
  expiresAt = Number.NaN;
  /** The claim as an object, made on the slot's first hit (a claim missed once never needs one). */
  claim: VerifiedClaim | undefined = undefined;
}

/**
 * The cookie jar's verified claims whose signature checked out, with the user, session and version
 * each was checked for: a verified browser pays the HMAC once, not on every request.
 *
 * Slots in a ring, oldest overwritten first, each an object made on first use and rewritten in
 * place after, found by a Map from the cache key (`cacheKeyOf`, a small integer) to the slot. Once
 * the ring is full, a claim that gets cached costs no object that outlives its request: the
 * two-generation `BoundedCache` it replaces kept two objects and two boxed numbers per claim and
 * regrew a Map of half its size from empty every `max / 2` claims, and a browser missing it (more
 * browsers than slots) paid about a quarter of its miss for that (bench/guard-miss-whole.ts). It
 * holds as `BoundedCache` held: at most `max` claims, one per cache key (a later one takes the key
 * over), and a claim found in the older half of the ring is moved to the newest slot, so what is
 * used stays.
 */
export class ClaimCache {
  readonly #max: number;
  /** Cache key → its slot. */
  readonly #slots = new Map<number, number>();
  /** Filled in order as claims come, then reused: memory grows with use, as the Maps' did. */
  readonly #ring: Slot[] = [];
  /** The slot the next claim takes: the oldest. */
  #next = 0;

  constructor(max: number) {
    if (!Number.isInteger(max) || max < 2) throw new TypeError('ClaimCache: max must be an integer ≥ 2');
    this.#max = max;
  }

  /**
   * The slot holding exactly `value` under `key`, else undefined. Found in the older half of the
   * ring, it moves to the newest slot first (the slot answered is the new one).
   */
  find(key: number, value: string): Slot | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    const entry = this.#ring[slot] as Slot;
    if (entry.value !== value) return undefined;
    const max = this.#max;
    // How many claims were cached after this one (no `%`: a division costs a hit more than the rest).
    let after = this.#next - 1 - slot;
    if (after < 0) after += max;
    if (after < max >> 1) return entry;
    if (slot === this.#next) {
      // The oldest: the ring moves past it instead, and it is the newest.
      this.#next = slot + 1 === max ? 0 : slot + 1;
      return entry;
    }
    const { id, session, version, method, verifiedAt, expiresAt, claim } = entry;
    const to = this.#put(key, value, id, session); // empties `entry`, the key's slot until now
    to.version = version;
    to.method = method;
    to.verifiedAt = verifiedAt;
    to.expiresAt = expiresAt;
    to.claim = claim;
    return to;
  }

  /** Caches `claim` of `value` under `key`, checked for `id`, `session` and `version`; answers its slot. */
  add(
    key: number,
    value: string,
    id: string,
    session: string,
    version: string | number,
    claim: VerifiedClaim,
  ): Slot {
    const entry = this.#put(key, value, id, session);
    entry.version = version;
    entry.method = claim.method;
    entry.verifiedAt = claim.verifiedAt;
    entry.expiresAt = claim.expiresAt;
    return entry;
  }

  /** The claim in `slot` (one object per slot, made once). */
  claimAt(entry: Slot): VerifiedClaim {
    if (entry.claim === undefined) {
      entry.claim = { verifiedAt: entry.verifiedAt, expiresAt: entry.expiresAt, method: entry.method };
    }
    return entry.claim;
  }

  /**
   * Whether `user` is whom the claim in `slot` was checked for: `bindingOf` of both alike, part by
   * part (the framing is injective), without building either binding.
   */
  boundTo(entry: Slot, user: CheckedUser): boolean {
    if (entry.id !== user.id || entry.session !== (user.sessionId ?? '')) return false;
    const version = user.version ?? '';
    // bindingOf writes the version as `String(version)`: 7 and '7' bind the same.
    return entry.version === version || String(entry.version) === String(version);
  }

  get size(): number {
    return this.#slots.size;
  }

  /**
   * Takes the oldest slot for `key`: what it held leaves the cache. The slot that held `key` until
   * now (a claim moved to the newest slot, or a later value taking the key over) is emptied, so that
   * it keeps no cookie value, user id or session id alive until the ring comes round to it.
   */
  #put(key: number, value: string, id: string, session: string): Slot {
    const slot = this.#next;
    this.#next = slot + 1 === this.#max ? 0 : slot + 1;
    let entry = this.#ring[slot];
    if (entry === undefined) {
      entry = new Slot();
      this.#ring.push(entry);
    } else if (entry.key >= 0) this.#slots.delete(entry.key); // an emptied slot's key is -1
    const held = this.#slots.get(key);
    if (held !== undefined) empty(this.#ring[held] as Slot);
    entry.key = key;
    entry.value = value;
    entry.id = id;
    entry.session = session;
    entry.claim = undefined;
    this.#slots.set(key, slot);
    return entry;
  }
}

/** Leaves `entry` holding nothing: no key, and no string or claim of the claim it held. */
function empty(entry: Slot): void {
  entry.key = -1;
  entry.value = '';
  entry.id = '';
  entry.session = '';
  entry.version = '';
  entry.claim = undefined;
}
