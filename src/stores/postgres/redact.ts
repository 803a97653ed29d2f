/** Values shorter than this are not hunted for inside error texts (a '1' is in every message). */
const MIN_REDACTED_LENGTH = 6;

/**
 * Blanks the stored value wherever a client copies it into its error: postgres.js attaches the
 * parameters (`parameters`, `args`, read-only but the same arrays), PostgreSQL quotes a refused
 * row in `detail`. The error still propagates, for the caller to handle.
 */
export function withoutValue(error: unknown, value: string): unknown {
  if (error === null || typeof error !== 'object') return error;
  const blank = (found: unknown, depth: number): unknown => {
    if (found === value) return '[redacted]';
    if (typeof found === 'string' && value.length >= MIN_REDACTED_LENGTH && found.includes(value)) {
      return found.split(value).join('[redacted]');
    }
    if (Array.isArray(found) && depth < 2) {
      for (let i = 0; i < found.length; i++) found[i] = blank(found[i], depth + 1);
    }
    return found;
  };
  for (const name of Object.getOwnPropertyNames(error)) {
    try {
      const field = (error as Record<string, unknown>)[name];
      const blanked = blank(field, 0);
      if (blanked !== field) (error as Record<string, unknown>)[name] = blanked;
    } catch {
      // A read-only text keeps what it says; the error is still the caller's to handle.
    }
  }
  return error;
}
