/**
 * `verifyAttempt` could not run at all and changed nothing, because the store lacks what it needs
 * (a PostgreSQL schema from before its verify function). The verify route then takes the
 * five-method path for that verify, and logs this message (which names the fix) once.
 */
export class VerifyAttemptUnavailable extends Error {}

/** The error, or the one it wraps (the guarded store wraps every store error once), if it is one. */
export function verifyAttemptUnavailable(error: unknown): VerifyAttemptUnavailable | undefined {
  if (error instanceof VerifyAttemptUnavailable) return error;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause instanceof VerifyAttemptUnavailable ? cause : undefined;
}
