import { TwoFactorConfigError } from '../errors.js';
import { hashSlot } from './redis/slot.js';
import { verifyAttemptOn } from './redis/verify-attempt.js';
import type { Store, VerifyAttemptInput, VerifyAttemptResult } from './store.js';

/**
 * Sends one Redis command and resolves with its reply, e.g. node-redis
 * `(...args) => client.sendCommand(args)` or ioredis `(cmd, ...args) => client.call(cmd, ...args)`.
 */
export type SendCommand = (...args: string[]) => Promise<unknown>;

export interface RedisStoreOptions {
  /** Required. Runs one command on the app's own client; the package depends on no Redis client. */
  sendCommand: SendCommand;
  /** Put in front of every key, so several apps (or factories) can share one database. @default '2fa:' */
  prefix?: string;
}

export interface RedisStore extends Store {
  /** The prefix in front of every key. */
  readonly prefix: string;
  /** Several values in one `MGET`; same order as `keys`. */
  getMany(keys: string[]): Promise<(string | undefined)[]>;
  /** One script: compares and sets atomically on the server. */
  compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean>;
  /** One script (`EVALSHA`): a whole verify attempt in one round trip. */
  verifyAttempt(input: VerifyAttemptInput): Promise<VerifyAttemptResult>;
}

export const DEFAULT_REDIS_PREFIX = '2fa:';

const OPTION_NAMES = new Set(['sendCommand', 'prefix']);

// INCR, and a TTL only when this call created the key (or, defensively, when the key has none),
// in one script so a crash between the two can never leave a counter that lives forever.
const INCREMENT_SCRIPT = `local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`;

// Compare-and-set: ARGV[1] is '1' when a value is expected (ARGV[2]), '0' when the key must be absent.
const COMPARE_AND_SET_SCRIPT = `local v = redis.call('GET', KEYS[1])
if (ARGV[1] == '0' and not v) or (ARGV[1] == '1' and v == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;

// GETDEL for Redis < 6.2 (and servers that lack it): a script runs atomically like the command.
const CONSUME_SCRIPT = `local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`;

function errorMessage(error: unknown): string {
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : '';
}

/**
 * `` ERR unknown command `GETDEL`, with args beginning with: … `` from Redis < 6.2, or the
 * `'GETDEL'` quoting of newer servers that lack the command (renamed away, other servers).
 */
function isUnknownCommand(error: unknown): boolean {
  return /unknown command/i.test(errorMessage(error));
}

/** `CROSSSLOT Keys in request don't hash to the same slot`: the server is a Redis Cluster node. */
function isCrossSlot(error: unknown): boolean {
  return /CROSSSLOT/.test(errorMessage(error));
}

/** A bulk-string reply as a string; anything else (null, numbers, arrays) is "no value". */
function toValue(reply: unknown): string | undefined {
  if (typeof reply === 'string') return reply;
  if (reply instanceof Uint8Array) {
    return Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString('utf8');
  }
  return undefined;
}

/** An integer reply, which clients hand back as a number (or a string, or a bigint). */
function toCount(reply: unknown): number {
  const count =
    typeof reply === 'number' || typeof reply === 'bigint' || typeof reply === 'string'
      ? Number(reply)
      : Number.NaN;
  // The reply itself stays out of the message: from a misbehaving client it could be anything.
  if (!Number.isSafeInteger(count)) {
    throw new TypeError('redisStore: the increment script did not answer an integer');
  }
  return count;
}

/**
 * ioredis attaches the failed command's arguments to its errors (`error.command.args`), where a
 * logger would print the stored value; the error still propagates, with that argument blanked.
 */
function withoutValue(error: unknown, value: string): unknown {
  try {
    const command = (error as { command?: { args?: unknown } } | null)?.command;
    if (command && Array.isArray(command.args)) {
      command.args = command.args.map((arg: unknown) => (arg === value ? '[redacted]' : arg));
    }
  } catch {
    // A frozen error keeps its fields; it is still the caller's to handle.
  }
  return error;
}

function toMilliseconds(ttlMs: number): string {
  if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs)) {
    throw new TypeError('redisStore: `ttlMs` must be a finite number of milliseconds');
  }
  return String(Math.max(1, Math.ceil(ttlMs)));
}

/**
 * A store in Redis (>= 6.2 for GETDEL; older servers get a Lua fallback) or Valkey, for apps that
 * run several instances: challenges, attempt counters and lockouts are then shared by all of them.
 * Every method is one round trip; `consume` and `increment` are atomic on the server, and a whole
 * verify attempt is one script (`verifyAttempt`). Runs on Redis Cluster too: every script touches
 * keys of one hash slot, and `getMany` splits by slot once the server answers CROSSSLOT.
 *
 * @example
 * // node-redis
 * redisStore({ sendCommand: (...args) => client.sendCommand(args) })
 * // ioredis (a Redis or a Cluster client)
 * redisStore({ sendCommand: (cmd, ...args) => client.call(cmd, ...args) })
 * // node-redis createCluster(): route each command by its first key (a script's is its 4th argument)
 * redisStore({ sendCommand: (...args) => cluster.sendCommand(/^EVAL/i.test(args[0]) ? args[3] : args[1], false, args) })
 */
export function redisStore(options: RedisStoreOptions): RedisStore {
  if (options === null || typeof options !== 'object') {
    throw new TwoFactorConfigError(
      'sendCommand',
      'of `redisStore()` is required: call `redisStore({ sendCommand })`, e.g. node-redis `(...args) => client.sendCommand(args)` or ioredis `(cmd, ...args) => client.call(cmd, ...args)`',
    );
  }
  const { sendCommand } = options;
  if (typeof sendCommand !== 'function') {
    throw new TwoFactorConfigError(
      'sendCommand',
      'of `redisStore()` is required, e.g. node-redis `(...args) => client.sendCommand(args)` or ioredis `(cmd, ...args) => client.call(cmd, ...args)`',
    );
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) {
      throw new TwoFactorConfigError(
        key,
        'is not an option of `redisStore()`; it takes `sendCommand` and `prefix`',
      );
    }
  }
  const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
  if (typeof prefix !== 'string' || prefix === '') {
    throw new TwoFactorConfigError('prefix', "of `redisStore()` must be a non-empty string, e.g. '2fa:'");
  }

  /** Becomes false the first time the server says it does not know GETDEL. */
  let hasGetDel = true;
  /**
   * Becomes true the first time an `MGET` answers CROSSSLOT (a Redis Cluster): from then on
   * `getMany` sends one `MGET` per hash slot. A user's own keys share a slot (hash tags), so the
   * verify path still sends one; budgets and delivery reports span slots.
   */
  let onCluster = false;

  async function mget(keys: string[]): Promise<(string | undefined)[]> {
    const reply = await sendCommand('MGET', ...keys);
    if (!Array.isArray(reply) || reply.length !== keys.length) {
      throw new TypeError('redisStore: MGET did not answer one reply per key');
    }
    return reply.map(toValue);
  }

  /**
   * Always EVAL, never EVALSHA: after a restart or SCRIPT FLUSH, EVALSHA answers NOSCRIPT and the
   * retry would run *after* commands queued behind it (a lock's undoing DEL), reordering them.
   * The script is a few hundred bytes; Redis compiles it once and caches it by its hash.
   */
  function run(source: string, key: string, ...args: string[]): Promise<unknown> {
    return sendCommand('EVAL', source, '1', key, ...args);
  }

  return {
    prefix,
    async get(key) {
      return toValue(await sendCommand('GET', prefix + key));
    },
    async getMany(keys) {
      if (keys.length === 0) return [];
      const full = keys.map((key) => prefix + key);
      if (!onCluster) {
        try {
          return await mget(full);
        } catch (error) {
          if (!isCrossSlot(error)) throw error;
          onCluster = true;
        }
      }
      // One MGET per hash slot, all sent together: still one wait.
      const bySlot = new Map<number, number[]>();
      full.forEach((key, i) => {
        const slot = hashSlot(key);
        bySlot.set(slot, [...(bySlot.get(slot) ?? []), i]);
      });
      const values: (string | undefined)[] = new Array(keys.length).fill(undefined);
      await Promise.all(
        [...bySlot.values()].map(async (indexes) => {
          const got = await mget(indexes.map((i) => full[i] as string));
          indexes.forEach((i, j) => {
            values[i] = got[j];
          });
        }),
      );
      return values;
    },
    async set(key, value, ttlMs) {
      const px = toMilliseconds(ttlMs);
      try {
        await sendCommand('SET', prefix + key, value, 'PX', px);
      } catch (error) {
        throw withoutValue(error, value);
      }
    },
    async delete(key) {
      await sendCommand('DEL', prefix + key);
    },
    async consume(key) {
      if (hasGetDel) {
        try {
          return toValue(await sendCommand('GETDEL', prefix + key));
        } catch (error) {
          if (!isUnknownCommand(error)) throw error;
          hasGetDel = false;
        }
      }
      return toValue(await run(CONSUME_SCRIPT, prefix + key));
    },
    async increment(key, ttlMs) {
      return toCount(await run(INCREMENT_SCRIPT, prefix + key, toMilliseconds(ttlMs)));
    },
    async compareAndSet(key, expected, value, ttlMs) {
      const px = toMilliseconds(ttlMs);
      const args = expected === undefined ? ['0', ''] : ['1', expected];
      return toCount(await run(COMPARE_AND_SET_SCRIPT, prefix + key, ...args, value, px)) === 1;
    },
    verifyAttempt: verifyAttemptOn(sendCommand, prefix),
  };
}
