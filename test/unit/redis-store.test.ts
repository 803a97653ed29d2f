import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../src/errors.js';
import { redisStore, type SendCommand } from '../../src/stores/redis-store.js';
import {
  flushPrefix,
  keysWithPrefix,
  REDIS_CLIENTS,
  type RedisServer,
  recordCommands,
  requireRedis,
  requireRedisServerBinary,
  startRedisServer,
  uniquePrefix,
  useRedis,
} from '../helpers/redis.js';
import { runStoreContract } from '../helpers/store-contract.js';

const redisUp = await requireRedis();
const canStartServer = requireRedisServerBinary();
const FILE_PREFIX = uniquePrefix('redis-store');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The rejection reason, or the string 'resolved'. */
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => 'resolved',
    (error: unknown) => error,
  );

const noop: SendCommand = async () => null;

describe('redisStore()', () => {
  describe('at construction', () => {
    it('throws TwoFactorConfigError with the fix for both clients when sendCommand is missing', () => {
      for (const options of [undefined, null, {}, { sendCommand: 'GET' }, { prefix: 'x:' }]) {
        let thrown: unknown;
        try {
          redisStore(options as never);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(TwoFactorConfigError);
        expect(thrown).toBeInstanceOf(TypeError);
        expect(thrown).toMatchObject({ option: 'sendCommand' });
        const { message } = thrown as Error;
        expect(message).toContain('`sendCommand`');
        expect(message).toContain('(...args) => client.sendCommand(args)');
        expect(message).toContain('(cmd, ...args) => client.call(cmd, ...args)');
      }
    });

    it('throws for a prefix that is not a non-empty string', () => {
      for (const prefix of ['', 42, {}, []]) {
        expect(() => redisStore({ sendCommand: noop, prefix: prefix as never })).toThrow(
          /option `prefix` of `redisStore\(\)` must be a non-empty string/,
        );
      }
    });

    it('throws for an unknown option instead of ignoring it', () => {
      expect(() => redisStore({ sendCommand: noop, prefx: 'app:' } as never)).toThrow(
        /option `prefx` is not an option of `redisStore\(\)`; it takes `sendCommand` and `prefix`/,
      );
    });

    it("defaults the prefix to '2fa:' (undefined or null mean the default) and sends nothing", () => {
      const rec = recordCommands(noop);
      expect(redisStore({ sendCommand: rec.sendCommand }).prefix).toBe('2fa:');
      expect(redisStore({ sendCommand: rec.sendCommand, prefix: undefined }).prefix).toBe('2fa:');
      expect(redisStore({ sendCommand: rec.sendCommand, prefix: null as never }).prefix).toBe('2fa:');
      expect(rec.calls).toEqual([]);
    });
  });

  describe('when the client answers in other shapes', () => {
    it('reads Buffers as UTF-8 strings and anything else as no value', async () => {
      const replies: unknown[] = [Buffer.from('héllo'), 42, { v: 1 }, ['x'], null, undefined, true];
      const store = redisStore({ sendCommand: async () => replies.shift() });
      expect(await store.get('k')).toBe('héllo');
      for (let i = 0; i < 6; i++) expect(await store.get('k')).toBeUndefined();
    });

    it('accepts an increment count as a number, a string or a bigint, and rejects anything else', async () => {
      const replies: unknown[] = [3, '4', 5n, 'not a number', null];
      const store = redisStore({ sendCommand: async () => replies.shift() });
      expect(await store.increment('k', 1000)).toBe(3);
      expect(await store.increment('k', 1000)).toBe(4);
      expect(await store.increment('k', 1000)).toBe(5);
      await expect(store.increment('k', 1000)).rejects.toThrow(/did not answer an integer/);
      await expect(store.increment('k', 1000)).rejects.toThrow(/did not answer an integer/);
    });

    it('rejects an MGET answer that is not one reply per key', async () => {
      const store = redisStore({ sendCommand: async () => ['only one'] });
      await expect(store.getMany(['a', 'b'])).rejects.toThrow(/one reply per key/);
    });

    it('rounds the TTL up to whole milliseconds, at least 1, and refuses a TTL that is not finite', async () => {
      const rec = recordCommands(noop);
      const store = redisStore({ sendCommand: rec.sendCommand, prefix: 'p:' });
      await store.set('a', 'v', 1500.2);
      await store.set('b', 'v', 0.3);
      await store.set('c', 'v', 0);
      expect(rec.calls).toEqual([
        ['SET', 'p:a', 'v', 'PX', '1501'],
        ['SET', 'p:b', 'v', 'PX', '1'],
        ['SET', 'p:c', 'v', 'PX', '1'],
      ]);
      await expect(store.set('d', 'v', Number.NaN)).rejects.toThrow(/`ttlMs` must be a finite number/);
      await expect(store.increment('d', Number.POSITIVE_INFINITY)).rejects.toThrow(/finite number/);
      expect(rec.calls).toHaveLength(3);
    });
  });

  describe('when sendCommand rejects', () => {
    it('rejects every method with that same error, and no stored value in the message', async () => {
      const failure = new Error('Connection is closed.');
      const store = redisStore({
        sendCommand: async () => {
          throw failure;
        },
      });
      await expect(store.get('k')).rejects.toBe(failure);
      await expect(store.getMany(['k'])).rejects.toBe(failure);
      await expect(store.set('k', 'stored-value-1234', 1000)).rejects.toBe(failure);
      await expect(store.delete('k')).rejects.toBe(failure);
      await expect(store.consume('k')).rejects.toBe(failure);
      await expect(store.increment('k', 1000)).rejects.toBe(failure);
      expect(failure.message).not.toContain('stored-value-1234');
    });

    it('blanks the value in the arguments a client attaches to its error (ioredis `error.command.args`)', async () => {
      const store = redisStore({
        sendCommand: async (...args) => {
          throw Object.assign(new Error('OOM command not allowed'), {
            command: { name: 'set', args: args.slice(1) },
          });
        },
      });
      const error = await rejection(store.set('k', 'stored-value-1234', 1000));
      expect(error).toMatchObject({ command: { name: 'set', args: ['2fa:k', '[redacted]', 'PX', '1000'] } });
      expect(inspect(error, { depth: 10 })).not.toContain('stored-value-1234');
    });

    it('does not take a GETDEL failure that is not "unknown command" as a reason to switch to Lua', async () => {
      let fail = true;
      const rec = recordCommands(async (...args) => {
        if (args[0] === 'GETDEL' && fail) {
          fail = false;
          throw new Error('Socket closed unexpectedly');
        }
        return 'v';
      });
      const store = redisStore({ sendCommand: rec.sendCommand });
      await expect(store.consume('k')).rejects.toThrow('Socket closed unexpectedly');
      expect(await store.consume('k')).toBe('v');
      expect(rec.names()).toEqual(['GETDEL', 'GETDEL']);
    });
  });
});

for (const { name, connect } of REDIS_CLIENTS) {
  describe.skipIf(!redisUp)(`redisStore() on ${name}`, () => {
    const clientPrefix = `${FILE_PREFIX}${name}:`;
    /** The raw client, to look at what the store wrote. */
    const raw = useRedis(connect, clientPrefix);
    let testNumber = 0;
    const nextPrefix = () => `${clientPrefix}${++testNumber}:`;

    runStoreContract(`redisStore() on ${name}`, async () => {
      const prefix = nextPrefix();
      return {
        store: redisStore({ sendCommand: raw, prefix }),
        cleanup: async () => {
          await flushPrefix(raw, prefix);
        },
      };
    });

    /** A fresh store under its own prefix, with its commands recorded. */
    function freshStore() {
      const prefix = nextPrefix();
      const rec = recordCommands(raw);
      return { prefix, rec, store: redisStore({ sendCommand: rec.sendCommand, prefix }) };
    }

    describe('keys', () => {
      it('puts the prefix in front of every key it writes', async () => {
        const { prefix, store } = freshStore();
        await store.set('challenge:abc', 'v', 10_000);
        await store.increment('fails:user-1', 10_000);
        expect(await keysWithPrefix(raw, prefix)).toEqual([
          `${prefix}challenge:abc`,
          `${prefix}fails:user-1`,
        ]);
        expect(await raw('GET', 'challenge:abc')).toBeNull();
      });

      it("writes under '2fa:' when no prefix is given", async () => {
        const key = `${clientPrefix}default-prefix`;
        const store = redisStore({ sendCommand: raw });
        try {
          await store.set(key, 'v', 10_000);
          expect(await raw('GET', `2fa:${key}`)).toBe('v');
        } finally {
          await raw('DEL', `2fa:${key}`);
        }
      });
    });

    describe('set', () => {
      it('stores the value with a PX expiry of the TTL', async () => {
        const { prefix, store, rec } = freshStore();
        await store.set('k', 'v', 10_000);
        expect(rec.calls).toEqual([['SET', `${prefix}k`, 'v', 'PX', '10000']]);
        const pttl = Number(await raw('PTTL', `${prefix}k`));
        expect(pttl).toBeGreaterThan(9_000);
        expect(pttl).toBeLessThanOrEqual(10_000);
      });
    });

    describe('increment', () => {
      it('sets the TTL when it creates the key and never extends it', async () => {
        const { prefix, store } = freshStore();
        expect(await store.increment('n', 10_000)).toBe(1);
        const first = Number(await raw('PTTL', `${prefix}n`));
        expect(first).toBeGreaterThan(9_000);
        await sleep(60);
        expect(await store.increment('n', 60_000)).toBe(2);
        const second = Number(await raw('PTTL', `${prefix}n`));
        expect(second).toBeLessThan(first);
        expect(second).toBeGreaterThan(9_000);
      });

      it('gives a TTL to a counter that somehow has none, so it cannot live forever', async () => {
        const { prefix, store } = freshStore();
        await raw('SET', `${prefix}n`, '7');
        expect(await store.increment('n', 10_000)).toBe(8);
        expect(Number(await raw('PTTL', `${prefix}n`))).toBeGreaterThan(9_000);
      });

      it('returns a number', async () => {
        const { store } = freshStore();
        expect(typeof (await store.increment('n', 10_000))).toBe('number');
      });
    });

    describe('round trips', () => {
      it('sends exactly one command per method call', async () => {
        const { store, rec } = freshStore();
        const perCall = async (run: () => Promise<unknown>) => {
          rec.reset();
          await run();
          return rec.names();
        };
        expect(await perCall(() => store.set('a', '1', 10_000))).toEqual(['SET']);
        expect(await perCall(() => store.get('a'))).toEqual(['GET']);
        expect(await perCall(() => store.getMany(['a', 'b', 'c']))).toEqual(['MGET']);
        expect(await perCall(() => store.getMany([]))).toEqual([]);
        expect(await perCall(() => store.consume('a'))).toEqual(['GETDEL']);
        expect(await perCall(() => store.delete('a'))).toEqual(['DEL']);
        // Always EVAL (never EVALSHA, whose NOSCRIPT retry could reorder queued commands).
        expect(await perCall(() => store.increment('n', 10_000))).toEqual(['EVAL']);
        expect(await perCall(() => store.increment('n', 10_000))).toEqual(['EVAL']);
      });

      it('reads several keys with one MGET, in order, undefined for missing ones', async () => {
        const { prefix, store, rec } = freshStore();
        await store.set('a', 'A', 10_000);
        await store.set('c', 'C', 10_000);
        rec.reset();
        expect(await store.getMany(['a', 'b', 'c'])).toEqual(['A', undefined, 'C']);
        expect(rec.calls).toEqual([['MGET', `${prefix}a`, `${prefix}b`, `${prefix}c`]]);
      });
    });

    describe('when the server does not know GETDEL (Redis < 6.2)', () => {
      /** Sends GETDEL under a name the server does not know, so the real server answers the real error. */
      function withoutGetDel(sendCommand: SendCommand): SendCommand {
        return (...args) =>
          args[0] === 'GETDEL' ? sendCommand('GETDEL_BEFORE_6_2', ...args.slice(1)) : sendCommand(...args);
      }

      it('falls back to a Lua script once, and stays atomic: one of 50 parallel consumes wins', async () => {
        const prefix = nextPrefix();
        const rec = recordCommands(withoutGetDel(raw));
        const store = redisStore({ sendCommand: rec.sendCommand, prefix });

        await store.set('race', 'winner', 10_000);
        rec.reset();
        const results = await Promise.all(Array.from({ length: 50 }, () => store.consume('race')));
        expect(results.filter((r) => r === 'winner')).toHaveLength(1);
        expect(results.filter((r) => r === undefined)).toHaveLength(49);
        expect(await raw('EXISTS', `${prefix}race`)).toBe(0);

        // Once it knows, it goes straight to the script: one round trip.
        await store.set('again', 'v2', 10_000);
        rec.reset();
        expect(await store.consume('again')).toBe('v2');
        expect(await store.consume('again')).toBeUndefined();
        expect(rec.names()).toEqual(['EVAL', 'EVAL']);
      });

      it('costs at most two round trips the first time, one after', async () => {
        const prefix = nextPrefix();
        const rec = recordCommands(withoutGetDel(raw));
        const store = redisStore({ sendCommand: rec.sendCommand, prefix });
        await store.set('a', '1', 10_000);
        await store.set('b', '2', 10_000);
        rec.reset();
        expect(await store.consume('a')).toBe('1');
        expect(rec.names()).toEqual(['GETDEL', 'EVAL']);
        rec.reset();
        expect(await store.consume('b')).toBe('2');
        expect(rec.names()).toEqual(['EVAL']);
      });

      it.each([
        "ERR unknown command 'GETDEL', with args beginning with: 'k' ",
        'ERR unknown command `GETDEL`, with args beginning with: `k`, ',
      ])('recognises the wording %j', async (message) => {
        const prefix = nextPrefix();
        const rec = recordCommands(async (...args) => {
          if (args[0] === 'GETDEL') throw new Error(message);
          return raw(...args);
        });
        const store = redisStore({ sendCommand: rec.sendCommand, prefix });
        await store.set('k', 'v', 10_000);
        expect(await store.consume('k')).toBe('v');
        expect(await store.consume('k')).toBeUndefined();
      });
    });
  });
}

describe.skipIf(!canStartServer)('redisStore() on a dedicated redis-server', () => {
  let server: RedisServer;

  beforeAll(async () => {
    server = await startRedisServer();
  });

  afterAll(async () => {
    await server?.stop();
  });

  for (const { name, connect } of REDIS_CLIENTS) {
    describe(`on ${name}`, () => {
      it('keeps working when the script cache is flushed, in one round trip (EVAL, never NOSCRIPT)', async () => {
        const connection = await connect(server.port);
        try {
          const rec = recordCommands(connection.sendCommand);
          const store = redisStore({ sendCommand: rec.sendCommand, prefix: `noscript:${name}:` });
          expect(await store.increment('n', 10_000)).toBe(1);
          await connection.sendCommand('SCRIPT', 'FLUSH');
          rec.reset();
          expect(await store.increment('n', 10_000)).toBe(2);
          expect(rec.names()).toEqual(['EVAL']);
        } finally {
          await connection.close();
        }
      });

      it('runs a command queued during an outage in order: a lock undone by DEL stays undone', async () => {
        const connection = await connect(server.port);
        try {
          const store = redisStore({ sendCommand: connection.sendCommand, prefix: `order:${name}:` });
          await store.increment('warm', 10_000);
          await server.kill();
          const increment = store.increment('lock', 60_000).catch(() => 'failed');
          const undo = store.delete('lock').catch(() => 'failed');
          await server.restart();
          // Both ran after the restart (the client queued them), the increment first.
          expect(await Promise.all([increment, undo])).toEqual([1, undefined]);
          expect(await store.get('lock')).toBeUndefined();
        } finally {
          await connection.close();
        }
      });

      it('rejects without the value when Redis refuses the write (maxmemory reached)', async () => {
        const connection = await connect(server.port);
        const secret = 'stored-value-5e3c1';
        try {
          const store = redisStore({ sendCommand: connection.sendCommand, prefix: `oom:${name}:` });
          await connection.sendCommand('CONFIG', 'SET', 'maxmemory', '1');
          const error = await rejection(store.set('k', secret, 10_000));
          expect(error).toBeInstanceOf(Error);
          expect((error as Error).message).toMatch(/OOM/);
          expect(inspect(error, { depth: 10 })).not.toContain(secret);
        } finally {
          await connection.sendCommand('CONFIG', 'SET', 'maxmemory', '0');
          await connection.close();
        }
      });

      it('rejects while Redis is down, without the value, and works again once it is back', async () => {
        const connection = await connect(server.port, true);
        const secret = 'stored-value-9b7f2';
        try {
          const store = redisStore({ sendCommand: connection.sendCommand, prefix: `down:${name}:` });
          await store.set('before', 'v', 60_000);

          await server.kill();
          const failures = await Promise.all([
            rejection(store.set('k', secret, 10_000)),
            rejection(store.get('before')),
            rejection(store.consume('before')),
            rejection(store.increment('n', 10_000)),
          ]);
          for (const failure of failures) {
            expect(failure).toBeInstanceOf(Error);
            expect(inspect(failure, { depth: 10 })).not.toContain(secret);
          }

          await server.restart();
          // The client reconnects by itself; the store needs nothing.
          await expect.poll(() => store.increment('n', 10_000).catch(() => 0), { timeout: 10_000 }).toBe(1);
          await store.set('after', 'v', 10_000);
          expect(await store.consume('after')).toBe('v');
        } finally {
          await connection.close();
        }
      });
    });
  }
});
