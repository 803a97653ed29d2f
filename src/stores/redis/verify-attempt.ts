import { createHash } from 'node:crypto';
import type { VerifyAttemptInput, VerifyAttemptResult } from '../store.js';
import { VERIFY_SCRIPT } from './verify-script.js';

type SendCommand = (...args: string[]) => Promise<unknown>;

const VERIFY_SHA = createHash('sha1').update(VERIFY_SCRIPT).digest('hex');

function text(reply: unknown): string | undefined {
  if (typeof reply === 'string') return reply;
  if (reply instanceof Uint8Array)
    return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString();
  return undefined;
}

function count(reply: unknown): number {
  const n =
    typeof reply === 'number' || typeof reply === 'bigint' || typeof reply === 'string'
      ? Number(reply)
      : Number.NaN;
  if (!Number.isSafeInteger(n)) throw new TypeError('redisStore: the verify script did not answer a count');
  return n;
}

const message = (error: unknown) =>
  typeof error === 'string' ? error : String((error as { message?: unknown } | null)?.message ?? '');

/** The script's reply as a result, and the server's clock when it ran; anything else is thrown. */
export function readVerifyReply(reply: unknown): { result: VerifyAttemptResult; serverMs: number } {
  if (!Array.isArray(reply)) throw new TypeError('redisStore: the verify script did not answer an array');
  const outcome = text(reply[0]);
  const serverMs = count(reply[1]);
  const result = ((): VerifyAttemptResult | undefined => {
    switch (outcome) {
      case 'late':
      case 'busy':
      case 'missing':
      case 'expired':
      case 'exhausted':
        return { outcome };
      case 'locked':
        return { outcome, failures: count(reply[2]), failedAt: count(reply[3]) };
      case 'wrong': {
        const challenge = text(reply[4]);
        return challenge === undefined
          ? undefined
          : { outcome, attempts: count(reply[2]), failures: count(reply[3]), challenge };
      }
      case 'right': {
        const challenge = text(reply[4]);
        return challenge === undefined ? undefined : { outcome, challenge, state: text(reply[5]) };
      }
    }
    return undefined;
  })();
  if (!result) throw new TypeError('redisStore: the verify script answered something else');
  return { result, serverMs };
}

/**
 * `verifyAttempt` for one `redisStore()`. The script runs by its hash (`EVALSHA`: 40 bytes on the
 * wire instead of the script), and as `EVAL` when the server does not have it yet (`NOSCRIPT`: a
 * restart, a new cluster node, SCRIPT FLUSH), which also caches it there. Nothing of this request
 * is queued behind the `EVALSHA` it retries.
 *
 * The deadline: a call that waited in the client's queue past the app's store timeout (Redis hung,
 * or down with an offline queue) has been answered 503 already and must change nothing when it
 * finally runs (security F-08). The script compares the server's clock with the deadline moved
 * into that clock by the offset seen so far (server time minus send time: the clock difference
 * plus the trip there; the smallest seen). A `late` answer that comes back before the deadline
 * means the offset was off (the server's clock jumped): it is measured again and the call retried.
 */
export function verifyAttemptOn(sendCommand: SendCommand, prefix: string) {
  let offsetMs: number | undefined;

  async function send(input: VerifyAttemptInput) {
    const { keys, challengeFields: f, lockout } = input;
    const sentAt = Date.now();
    const deadline =
      input.deadline === undefined || offsetMs === undefined
        ? '0'
        : String(Math.floor(input.deadline + offsetMs));
    const args = [
      '6',
      ...[keys.lock, keys.challenge, keys.state, keys.attempts, keys.failures, keys.failedAt].map(
        (k) => prefix + k,
      ),
      input.userId,
      input.session,
      input.phone,
      String(input.now),
      String(input.maxAttempts),
      String(lockout.threshold),
      String(lockout.baseMs),
      String(lockout.maxDelayMs),
      String(lockout.hardLimit),
      String(Math.max(1, Math.ceil(input.failureTtlMs))),
      [f.length, f.userId, f.session, f.hash, f.expiresAt, f.phone].join(','),
      deadline,
      ...input.hashes,
    ];
    let reply: unknown;
    try {
      reply = await sendCommand('EVALSHA', VERIFY_SHA, ...args);
    } catch (error) {
      if (!/NOSCRIPT/i.test(message(error))) throw error;
      reply = await sendCommand('EVAL', VERIFY_SCRIPT, ...args);
    }
    const { result, serverMs } = readVerifyReply(reply);
    const observed = serverMs - sentAt;
    const measuredAgain =
      result.outcome === 'late' && input.deadline !== undefined && Date.now() < input.deadline;
    if (offsetMs === undefined || observed < offsetMs || measuredAgain) offsetMs = observed;
    return { result, measuredAgain };
  }

  return async function verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult> {
    const first = await send(input);
    return first.measuredAgain ? (await send(input)).result : first.result;
  };
}
