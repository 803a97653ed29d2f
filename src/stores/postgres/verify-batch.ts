import type { VerifyAttemptInput } from '../store.js';
import { textArray } from './literals.js';

/** Runs one statement and resolves with its rows. */
type Run = (text: string, params: unknown[]) => Promise<unknown[]>;

/** One verify sent alone (the table's verify function), answering its row read as a reply. */
type Single<R> = (input: VerifyAttemptInput, deadline: number) => Promise<R>;

/**
 * A store's verify statements in flight at most (hung ones, VERIFY_SLOT_MS, not counted). The
 * first goes at once; while it is out, the verifies that come wait and go together when it returns
 * (one round trip and one commit for all of them), so no verify waits for more than about one
 * statement before its own is sent. The second place opens only beside a slow statement
 * (VERIFY_SLOW_MS): with both places open at all times, a busy Node process that reads each answer
 * within a request or two found a place free for almost every verify, so nearly every verify went
 * alone (the eighth session's quiet peer run, ~1.1 round trips per verify: bench/cases/peer.ts).
 */
export const VERIFY_IN_FLIGHT = 2;

/**
 * A verify statement out longer than this (ms) is slow (a commit takes ~1 ms; a batch of 32 a few):
 * the verifies waiting for it go in a second statement beside it instead of waiting on, so a
 * statement that waits (for a row lock, up to the batch's lock_timeout) delays the others by this much.
 */
export const VERIFY_SLOW_MS = 10;

/** Verifies in one batch at most (one transaction holds their accounts' locks to its commit). */
export const VERIFY_BATCH_MAX = 32;

/**
 * A verify statement in flight longer than this no longer holds its place (ms): a connection that
 * hangs must not hold up every later verify of the process, as it holds up only its own alone. (The
 * statement is not cancelled: it may still answer, `late` past its deadline.)
 */
export const VERIFY_SLOT_MS = 1000;

/** How long batches stay off after the database said it cannot run them (ms). */
export const VERIFY_BATCH_OFF_MS = 60_000;

interface Waiting<R> {
  input: VerifyAttemptInput;
  deadline: number;
  resolve: (reply: R) => void;
  reject: (error: unknown) => void;
}

/**
 * An error the database itself answered (a SQLSTATE), so the statement's transaction was rolled
 * back and nothing of it is committed; not a connection's (class 08), after which the commit may
 * or may not have happened. Node's own error codes (`EPIPE`) start with E, which no SQLSTATE class does.
 */
function answeredByDatabase(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-DF-Z][0-9A-Z]{4}$/.test(code) && !code.startsWith('08');
}

const numbers = (items: readonly number[]) => `{${items.join(',')}}`;

/**
 * Natural batching of one store's verifies (group commit): a verify that finds no verify statement
 * of the store in flight goes at once, alone; one that finds one in flight waits, and when it comes
 * back (or turns slow, VERIFY_SLOW_MS), everything waiting goes as one statement of the table's `<table>_verify_many`
 * (verify-function.ts): one round trip, one transaction, one commit for all of them. Measured on
 * this machine, in-process (bench/pg-batch-cost.ts, 10 in flight): Node's CPU per verify down by a
 * quarter to a half, PostgreSQL's by about a third.
 *
 * What each verify gets is what it would get alone: the batch runs each one through the same
 * function under the same account lock, and whatever it cannot run as alone it does not run at all:
 * - an account whose lock is held elsewhere (`retry`: nothing ran for it) is sent again alone,
 *   where it waits for the lock as always; so is every item when the transaction is not READ
 *   COMMITTED (`isolation`, batches then off for a while);
 * - when the statement fails with an error of the database (one item raised, a timeout, the
 *   function missing on a database migrated before it existed: batches off for a while), nothing
 *   of it is committed, and each item is sent again alone, so each gets its own answer or its
 *   own error, never another account's;
 * - when it fails otherwise (the connection lost: the commit may have happened), each item fails
 *   with that error (the route answers 503, retryable), as a verify of its own would;
 * - when it cannot be sent at all (an input it cannot write, a query wrapper that throws at once),
 *   nothing ran, and each item is sent alone.
 * Each item carries its own deadline, checked by the function on the database's clock as alone;
 * a batch that ends past the smallest deadline of the items that ran, or that waits for a row lock
 * over VERIFY_BATCH_LOCK_TIMEOUT_MS, fails as a whole (nothing committed) and each item goes alone,
 * where one past its deadline answers `late` (verify-function.ts). Once batches are off, everything
 * waiting goes alone at once: no verify is left in the queue.
 */
export function verifyBatcher<R>(
  run: Run,
  text: string,
  single: Single<R>,
  readRow: (row: unknown) => R,
  /** Called when the database has no batch function (42883): a schema from before it existed. */
  onMissing?: () => void,
) {
  // Durations on the monotonic clock (performance.now()): a wall clock stepped back must not keep a
  // slow statement quick, nor batches off, for the size of the step. (The items' deadlines are the
  // server's clock, server-deadline.ts's, and are only passed on.)
  /** The statements in flight, by when each was sent (performance.now()), oldest first. */
  const inFlight: { sentAt: number }[] = [];
  const waiting: Waiting<R>[] = [];
  /** Until when (performance.now()) every verify goes alone: the database cannot run batches. */
  let offUntil = 0;

  /** Wakes the queue when a place opens without a reply: a statement turns slow or hung (while anything waits). */
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires (performance.now()). */
  let timerAt = 0;

  /** Takes a place for a statement sent now; the function gives it back (once). */
  function place(): () => void {
    const statement = { sentAt: performance.now() };
    inFlight.push(statement);
    return () => {
      const at = inFlight.indexOf(statement);
      if (at >= 0) inFlight.splice(at, 1);
      pump();
    };
  }

  /**
   * Sends what waits while there are places (a statement that comes back may find the other place
   * freed by a hung one too); while something still waits, a timer sends it when a place opens
   * without a reply (the statement in flight turns slow, or the oldest hung), so no verify waits on
   * a slow or hung statement for a new verify or a reply to come. The timer never keeps the process alive.
   */
  function pump(): void {
    while (waiting.length > 0 && free()) flush();
    if (waiting.length === 0) return;
    const at = opensAt();
    if (timer !== undefined) {
      if (timerAt <= at) return;
      clearTimeout(timer);
    }
    timerAt = at;
    timer = setTimeout(
      () => {
        timer = undefined;
        pump();
      },
      Math.max(1, at - performance.now()),
    );
    timer.unref?.();
  }

  /** When a place opens without a reply (performance.now()): the newest statement slow, or the oldest hung. */
  function opensAt(): number {
    const now = performance.now();
    const hung = ((inFlight[0] as { sentAt: number } | undefined)?.sentAt ?? now) + VERIFY_SLOT_MS + 1;
    if (inFlight.length >= VERIFY_IN_FLIGHT) return hung;
    const newest = (inFlight[inFlight.length - 1] as { sentAt: number } | undefined)?.sentAt ?? now;
    return Math.min(hung, newest + VERIFY_SLOW_MS + 1);
  }

  /** Batches are off: everything waiting goes alone, now (nothing would flush it later). */
  function drainAlone(): void {
    for (const item of waiting.splice(0)) alone(item);
  }

  /** Sends everything waiting (up to VERIFY_BATCH_MAX) as one statement. */
  function flush(): void {
    if (offUntil > performance.now()) {
      drainAlone();
      return;
    }
    const items = waiting.splice(0, VERIFY_BATCH_MAX);
    const done = place();
    if (items.length === 1) {
      const [item] = items as [Waiting<R>];
      single(item.input, item.deadline).then(item.resolve, item.reject).finally(done);
    } else {
      sendMany(items).finally(done);
    }
  }

  /**
   * Whether a statement may be sent now: none in flight, or fewer than VERIFY_IN_FLIGHT and the
   * newest of them slow; hung ones (VERIFY_SLOT_MS) not counted.
   */
  function free(): boolean {
    if (inFlight.length === 0) return true;
    const now = performance.now();
    while (inFlight.length > 0 && (inFlight[0] as { sentAt: number }).sentAt < now - VERIFY_SLOT_MS) {
      inFlight.shift();
    }
    if (inFlight.length === 0) return true;
    return (
      inFlight.length < VERIFY_IN_FLIGHT &&
      (inFlight[inFlight.length - 1] as { sentAt: number }).sentAt < now - VERIFY_SLOW_MS
    );
  }

  function alone(item: Waiting<R>): void {
    single(item.input, item.deadline).then(item.resolve, item.reject);
  }

  /** Turns batches off for a while and sends everything waiting alone. */
  function off(): void {
    offUntil = performance.now() + VERIFY_BATCH_OFF_MS;
    drainAlone();
  }

  async function sendMany(items: Waiting<R>[]): Promise<void> {
    let sending: Promise<unknown[]>;
    try {
      // Throws before anything is sent (an input the batch cannot write, a query wrapper that
      // refuses it at once): nothing ran, so each goes alone and gets its own answer or error.
      sending = run(text, params(items));
    } catch {
      for (const item of items) alone(item);
      return;
    }
    let rows: unknown[];
    try {
      rows = await sending;
    } catch (error) {
      if (!answeredByDatabase(error)) {
        for (const item of items) item.reject(error);
        return;
      }
      // 42883: no such function, a schema from before it existed.
      if ((error as { code?: unknown }).code === '42883') {
        onMissing?.();
        off();
      }
      for (const item of items) alone(item);
      return;
    }
    const byItem: unknown[] = new Array(items.length);
    for (const row of rows) {
      const i = Number((row as { i?: unknown } | null)?.i);
      if (Number.isInteger(i) && i >= 1 && i <= items.length && byItem[i - 1] === undefined)
        byItem[i - 1] = row;
    }
    for (let k = 0; k < items.length; k++) {
      const item = items[k] as Waiting<R>;
      const outcome = (byItem[k] as { outcome?: unknown } | undefined)?.outcome;
      if (outcome === 'retry' || outcome === 'isolation') {
        if (outcome === 'isolation') off();
        alone(item);
        continue;
      }
      try {
        item.resolve(readRow(byItem[k]));
      } catch (error) {
        item.reject(error);
      }
    }
  }

  function verify(input: VerifyAttemptInput, deadline: number): Promise<R> {
    if (offUntil !== 0) {
      if (offUntil > performance.now()) {
        drainAlone();
        return single(input, deadline);
      }
      offUntil = 0;
    }
    if (waiting.length === 0 && free()) return single(input, deadline).finally(place());
    return new Promise<R>((resolve, reject) => {
      waiting.push({ input, deadline, resolve, reject });
      // A place opened by a slow or hung statement, or the timer that opens one (a statement coming
      // back flushes by itself).
      pump();
    });
  }
  /** Tries batches again on the next verifies (`migrate()` has run: the function may exist now). */
  verify.recheck = (): void => {
    offUntil = 0;
  };
  return verify;
}

/** The batch's twelve parameters: each item's, in order, as array literals (verify-function.ts). */
function params(items: readonly { input: VerifyAttemptInput; deadline: number }[]): unknown[] {
  const keys: string[] = [];
  const users: string[] = [];
  const sessions: string[] = [];
  const phones: string[] = [];
  const hashes: string[] = [];
  const hashEnds: number[] = [];
  const nows: number[] = [];
  const maxAttempts: number[] = [];
  const lockouts: number[] = [];
  const failureTtls: number[] = [];
  const fields: number[] = [];
  const deadlines: number[] = [];
  for (const { input, deadline } of items) {
    const { keys: k, challengeFields: f, lockout: l } = input;
    keys.push(k.lock, k.challenge, k.state, k.attempts, k.failures, k.failedAt);
    users.push(input.userId);
    sessions.push(input.session);
    phones.push(input.phone);
    for (const hash of input.hashes) hashes.push(hash);
    hashEnds.push(hashes.length);
    nows.push(Math.floor(input.now));
    maxAttempts.push(input.maxAttempts);
    lockouts.push(l.threshold, l.baseMs, l.maxDelayMs, l.hardLimit);
    failureTtls.push(Math.max(1, Math.ceil(input.failureTtlMs)));
    fields.push(f.length, f.userId, f.session, f.hash, f.expiresAt, f.phone);
    deadlines.push(deadline);
  }
  return [
    textArray(keys),
    textArray(users),
    textArray(sessions),
    textArray(phones),
    textArray(hashes),
    numbers(hashEnds),
    numbers(nows),
    numbers(maxAttempts),
    numbers(lockouts),
    numbers(failureTtls),
    numbers(fields),
    numbers(deadlines),
  ];
}
