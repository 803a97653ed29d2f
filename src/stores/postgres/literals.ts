// Array parameters as PostgreSQL array literals the store writes (verify-attempt.ts, verify-batch.ts).

const QUOTED = /["\\]/;
const QUOTES = /["\\]/g;

/**
 * A PostgreSQL array literal of texts, `{"a","b"}`, for a `$n::text[]` parameter: what pg makes of a
 * JS array (each element double-quoted, `"` and `\` backslashed), without its two regex replaces
 * and value conversion per element. Sent as a string, it is the same bytes on the wire for pg and
 * postgres.js, and the cast in the statement reads it the same way.
 */
export function textArray(items: readonly string[]): string {
  let literal = '{';
  for (let i = 0; i < items.length; i++) {
    const item = String(items[i]);
    literal += `${i === 0 ? '"' : ',"'}${QUOTED.test(item) ? item.replace(QUOTES, '\\$&') : item}"`;
  }
  return `${literal}}`;
}

/** The same for numbers (`{5,1000}`), written as pg writes each one (`String(n)`). */
export function numberArray(items: readonly number[]): string {
  return `{${items.join(',')}}`;
}
