/** A small deterministic generator (mulberry32) in [0, 1), so a failure replays. */
export function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Key-value pairs sorted by key, to compare a table's walk with a model's. */
export const sorted = (pairs: Iterable<[string, string]>) =>
  [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
