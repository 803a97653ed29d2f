// Checks shared by every options parser: each failure throws a TwoFactorConfigError naming the option.
import { TwoFactorConfigError } from './errors.js';

export type Plain = Record<string, unknown>;

/** Drops `undefined` values so `{ x: undefined }` means the same as `{}` (helmet's rule). */
export function defined(value: object | undefined): Plain {
  const out: Plain = {};
  if (value) for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

/** The known key closest to a misspelt one, if it is close enough to be a typo. */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
  const best = [...known].sort((a, b) => distance(key, a) - distance(key, b))[0];
  return best && distance(key, best) <= Math.max(2, key.length / 3) ? best : undefined;
}

/** Throws for keys not in `known`, suggesting the closest known key. */
export function rejectUnknownKeys(value: Plain, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const best = didYouMean(key, known);
    throw new TwoFactorConfigError(
      where ? `${where}.${key}` : key,
      `is not an option${best ? `; did you mean \`${best}\`?` : ''}`,
    );
  }
}

export function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TwoFactorConfigError(name, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

export function fn<T>(name: string, value: unknown, fix: string): T {
  if (typeof value !== 'function') throw new TwoFactorConfigError(name, `must be a function: ${fix}`);
  return value as T;
}

export function object(name: string, value: unknown, keys: readonly string[]): Plain {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TwoFactorConfigError(name, 'must be an object');
  }
  const plain = defined(value);
  rejectUnknownKeys(plain, keys, name);
  return plain;
}

export function path(name: string, value: unknown): string {
  if (
    typeof value !== 'string' ||
    !/^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/.test(value) ||
    value.startsWith('//')
  ) {
    throw new TwoFactorConfigError(name, `must be a URL path starting with one \`/\`, e.g. '/2fa'`);
  }
  return value.length > 1 ? value.replace(/\/+$/, '') : value;
}
