import { createHash } from 'node:crypto';
import { type ServerReply, withServerDeadline } from '../server-deadline.js';
import type { VerifyAttemptResult } from '../store.js';
import { hashSlot } from './slot.js';
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
 * Who answered a `late` reply (its third and fourth elements, verify-script.ts): 0 is one server,
 * as is a reply that says nothing (a script from before it said); anything else a cluster node,
 * with its id and the slots' owners when the reply carries them.
 */
function nodeOf(reply: unknown[]): ServerReply['node'] {
  const flag = reply[2];
  if (reply.length < 3 || flag === 0 || flag === '0' || flag === 0n) return false;
  const id = text(flag);
  if (id === undefined || id.length === 0) return {};
  const flat = Array.isArray(reply[3]) ? reply[3] : [];
  const owners: [number, number, string][] = [];
  for (let i = 0; i + 2 < flat.length; i += 3) {
    const first = Number(flat[i]);
    const last = Number(flat[i + 1]);
    const owner = text(flat[i + 2]);
    if (Number.isSafeInteger(first) && Number.isSafeInteger(last) && owner) owners.push([first, last, owner]);
  }
  return owners.length > 0 ? { id, owners } : { id };
}

/**
 * `verifyAttempt` for one `redisStore()`. The script runs by its hash (`EVALSHA`: 40 bytes on the
 * wire instead of the script), and as `EVAL` when the server does not have it yet (`NOSCRIPT`: a
 * restart, a new cluster node, SCRIPT FLUSH), which also caches it there. Nothing of this request
 * is queued behind the `EVALSHA` it retries. The deadline (security F-08) is server-deadline.ts's,
 * with the clock of each hash slot's node measured on its own on a cluster (the slot of the keys'
 * user tag: all six keys share it).
 */
export function verifyAttemptOn(sendCommand: SendCommand, prefix: string) {
  return withServerDeadline(
    async (input, deadline): Promise<ServerReply> => {
      const { keys, challengeFields: f, lockout } = input;
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
        String(deadline),
        ...input.hashes,
      ];
      let reply: unknown;
      try {
        reply = await sendCommand('EVALSHA', VERIFY_SHA, ...args);
      } catch (error) {
        if (!/NOSCRIPT/i.test(message(error))) throw error;
        reply = await sendCommand('EVAL', VERIFY_SCRIPT, ...args);
      }
      const read: ServerReply = readVerifyReply(reply);
      if (read.result.outcome === 'late') read.node = nodeOf(reply as unknown[]);
      return read;
    },
    (input) => hashSlot(prefix + input.keys.lock),
  );
}
