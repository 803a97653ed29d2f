import { withServerDeadline } from '../server-deadline.js';
import type { VerifyAttemptInput, VerifyAttemptResult } from '../store.js';
import { VerifyAttemptUnavailable } from '../verify-unavailable.js';
import { numberArray, textArray } from './literals.js';
import { verifyBatcher } from './verify-batch.js';

export { textArray } from './literals.js';

/** Runs one statement and resolves with its rows. */
type Run = (text: string, params: unknown[]) => Promise<unknown[]>;

interface Reply {
  outcome?: unknown;
  clock_ms?: unknown;
  attempts?: unknown;
  failures?: unknown;
  failed_at?: unknown;
  challenge?: unknown;
  state?: unknown;
}

/** A bigint column (pg and postgres.js hand them over as strings) as a number. */
function count(value: unknown): number {
  const n = typeof value === 'number' || typeof value === 'string' ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new TypeError('postgresStore: the verify function did not answer a count');
  return n;
}

/** The function's row as a result, and the database's clock when it ran; anything else is thrown. */
export function readVerifyRow(row: unknown): { result: VerifyAttemptResult; serverMs: number } {
  const r = (row ?? {}) as Reply;
  const serverMs = count(r.clock_ms);
  const challenge = typeof r.challenge === 'string' ? r.challenge : undefined;
  const result = ((): VerifyAttemptResult | undefined => {
    switch (r.outcome) {
      case 'late':
      case 'busy':
      case 'missing':
      case 'expired':
      case 'exhausted':
        return { outcome: r.outcome };
      case 'locked':
        return { outcome: 'locked', failures: count(r.failures), failedAt: count(r.failed_at) };
      case 'wrong':
        return challenge === undefined
          ? undefined
          : { outcome: 'wrong', attempts: count(r.attempts), failures: count(r.failures), challenge };
      case 'right':
        return challenge === undefined
          ? undefined
          : { outcome: 'right', challenge, state: typeof r.state === 'string' ? r.state : undefined };
    }
    return undefined;
  })();
  if (!result) throw new TypeError('postgresStore: the verify function answered something else');
  return { result, serverMs };
}

/** How long a verify function found missing is taken as missing before it is called again (ms). */
export const MISSING_FUNCTION_RECHECK_MS = 60_000;

/**
 * `verifyAttempt` for one `postgresStore()`: one `SELECT` of the table's verify function
 * (verify-function.ts), so one round trip and one commit per attempt; under load, the attempts
 * that wait for the store's verify statements in flight share one (`manyText`, verify-batch.ts). The deadline (a call that
 * waited in the pool's queue, behind a hung connection, or on another verify of the account;
 * security F-08) is server-deadline.ts's, as redisStore's.
 *
 * A database migrated before the function existed answers 42883: nothing ran, and the route
 * verifies on the five-method path instead. That is remembered for a minute, so the verifies in
 * between take the five-method path at once instead of paying the failed call first; then the
 * function is called again (the app's own migrations may have created it), and at once after the
 * store's `migrate()` (`recheck()`). Meanwhile other instances may verify through the function:
 * the account's lock keeps the two paths apart (verify-function.ts), so the minute costs speed only.
 */
export function verifyAttemptOn(run: Run, text: string, verifyName: string, manyText?: string) {
  /** Why the function was found missing, and until when that is believed (Date.now()). */
  let missing: { cause: unknown; until: number } | undefined;
  const unavailable = (cause: unknown) =>
    new VerifyAttemptUnavailable(
      `postgresStore: function "${verifyName}" does not exist: create it with \`await store.migrate()\` or run \`postgresStore.schema()\` in your migrations`,
      { cause },
    );
  const alone = async (input: VerifyAttemptInput, deadline: number) => {
    const { keys, challengeFields: f, lockout } = input;
    // The four arrays as literals (textArray): pg's bind of these params takes ~1-1.5 µs less.
    const params = [
      textArray([keys.lock, keys.challenge, keys.state, keys.attempts, keys.failures, keys.failedAt]),
      input.userId,
      input.session,
      input.phone,
      textArray(input.hashes),
      Math.floor(input.now),
      input.maxAttempts,
      numberArray([lockout.threshold, lockout.baseMs, lockout.maxDelayMs, lockout.hardLimit]),
      Math.max(1, Math.ceil(input.failureTtlMs)),
      numberArray([f.length, f.userId, f.session, f.hash, f.expiresAt, f.phone]),
      deadline,
    ];
    let rows: unknown[];
    try {
      rows = await run(text, params);
    } catch (error) {
      // 42883: no such function (or one of another signature): a schema from before it existed.
      // Nothing ran, so the route may verify on the five-method path instead (and says so once).
      if ((error as { code?: unknown } | null)?.code === '42883') {
        missing = { cause: error, until: Date.now() + MISSING_FUNCTION_RECHECK_MS };
        throw unavailable(error);
      }
      throw error;
    }
    missing = undefined;
    if (manyMissing) warnManyMissing();
    return readVerifyRow(rows[0]);
  };
  /**
   * The batch function is missing (a schema migrated between the two releases): verifies still work,
   * one statement each, so nothing fails; said once per store, and only once the verify function
   * has answered (without it, the route says that instead).
   */
  let manyMissing = false;
  let warned = false;
  function warnManyMissing(): void {
    manyMissing = false;
    if (warned) return;
    warned = true;
    process.emitWarning(
      `express-sms-2fa: postgresStore: function "${verifyName}_many" does not exist, so verifies under load are not batched: create it with \`await store.migrate()\` or run \`postgresStore.schema()\` in your migrations`,
      { type: 'ExpressSms2faWarning', code: 'WRN_2FA_POSTGRES_VERIFY_MANY_MISSING' },
    );
  }
  // Verifies that find the store's verify statements all in flight go together (verify-batch.ts).
  const batched =
    manyText === undefined
      ? undefined
      : verifyBatcher(run, manyText, alone, readVerifyRow, () => {
          manyMissing = true;
        });
  const send = withServerDeadline(batched ?? alone);
  function verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult> {
    if (missing && Date.now() < missing.until) return Promise.reject(unavailable(missing.cause));
    return send(input);
  }
  /** Calls the function again on the next verify (it may exist now: `migrate()` has run). */
  verifyAttempt.recheck = (): void => {
    missing = undefined;
    batched?.recheck();
  };
  return verifyAttempt;
}
