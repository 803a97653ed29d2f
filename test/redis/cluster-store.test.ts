/**
 * redisStore() on a real Redis Cluster (3 masters on 127.0.0.1:7001–7003), through both cluster
 * clients as the README wires them: the hash slots of every key the package builds, the store
 * contract (verifyAttempt included), checkStore, a whole flow over HTTP, and one script per verify.
 */
import { describe, expect, it } from 'vitest';
import { createKeys, newChallengeId } from '../../src/challenge.js';
import { deviceIndexKey, deviceKey } from '../../src/lifecycle/devices/records.js';
import type { Config } from '../../src/options.js';
import { hashSlot } from '../../src/stores/redis/slot.js';
import { redisStore, type SendCommand } from '../../src/stores/redis-store.js';
import { checkStore } from '../../src/testing/check-store.js';
import { createApp, json, sendCode, signIn, wrongCode } from '../helpers/create-app.js';
import { uniquePrefix } from '../helpers/redis.js';
import {
  CLUSTER_PORT,
  flushClusterPrefix,
  REDIS_CLUSTER_CLIENTS,
  requireRedisCluster,
} from '../helpers/redis-cluster.js';
import { runStoreContract } from '../helpers/store-contract.js';
import { verifyAttemptInput } from '../helpers/verify-attempt.js';

const clusterUp = await requireRedisCluster();
const FILE_PREFIX = uniquePrefix('cluster-store');
const keys = createKeys({ secrets: ['a-secret-that-is-long-enough-0123456789'] } as Config);

/** The keys one verify script touches, for a user and one of their challenges. */
function verifyKeys(userId: string) {
  const userKey = keys.user(userId);
  const id = newChallengeId(userKey);
  return [
    keys.verifyLock(userKey),
    keys.challenge(id),
    keys.state(id),
    keys.attempts(id),
    keys.failures(userKey),
    keys.failedAt(userKey),
  ];
}

describe('hash slots of the keys the package builds', () => {
  it('puts a user’s keys, their challenges’ and remembered devices’ keys in one slot, with and without a prefix', () => {
    for (let i = 0; i < 200; i++) {
      const userKey = keys.user(`user-${i}`);
      const all = [
        ...verifyKeys(`user-${i}`),
        keys.sendLock(userKey),
        keys.recent(userKey, 'session-fingerprint'),
        deviceKey(userKey, 'device-id'),
        deviceIndexKey(userKey),
      ];
      for (const prefix of ['', '2fa:', 'myapp:2fa:']) {
        expect(new Set(all.map((k) => hashSlot(prefix + k))).size, all.join(' ')).toBe(1);
      }
    }
  });

  it('spreads users over the slots (and so over the masters)', () => {
    const slots = new Set(
      Array.from({ length: 1000 }, (_, i) => hashSlot(`2fa:${keys.failures(keys.user(`u${i}`))}`)),
    );
    expect(slots.size).toBeGreaterThan(900);
    const masters = [0, 0, 0];
    for (const slot of slots) {
      const master = Math.min(2, Math.floor(slot / 5462));
      masters[master] = (masters[master] ?? 0) + 1;
    }
    for (const count of masters) expect(count).toBeGreaterThan(200);
  });

  it('leaves budgets, messages and delivery reports untagged: each hashes as a whole and spreads', () => {
    const others = [
      ...Array.from({ length: 100 }, (_, i) => keys.budget('phone', `+3247000${i}`)),
      ...Array.from({ length: 100 }, (_, i) => keys.message(`msg-${i}`)),
      ...Array.from({ length: 100 }, (_, i) => keys.inFlight(`+3247000${i}`)),
      ...Array.from({ length: 100 }, (_, i) => keys.webhook(Buffer.from(`report-${i}`))),
    ];
    for (const key of others) expect(key).not.toMatch(/[{}]/);
    expect(new Set(others.map((k) => hashSlot(`2fa:${k}`))).size).toBeGreaterThan(380);
  });

  it.skipIf(!clusterUp)('computes the slot Redis computes (CLUSTER KEYSLOT)', async () => {
    const { Redis } = await import('ioredis');
    const node = new Redis({ host: '127.0.0.1', port: CLUSTER_PORT });
    try {
      for (const key of [
        ...verifyKeys('alice'),
        'plain',
        '{}empty-tag',
        'a{b}c{d}',
        'x{}{y}',
        'ünïcode{ü}',
        '2fa:b:app:x',
      ]) {
        expect(hashSlot(key), key).toBe(Number(await node.call('CLUSTER', 'KEYSLOT', key)));
      }
    } finally {
      node.disconnect();
    }
  });
});

for (const { name, connect } of REDIS_CLUSTER_CLIENTS) {
  describe.skipIf(!clusterUp)(`redisStore() on a Redis Cluster through ${name}`, () => {
    let testNumber = 0;
    const clientPrefix = `${FILE_PREFIX}${name.replace(/\W+/g, '-')}:`;

    runStoreContract(`redisStore() on a Redis Cluster (${name})`, async () => {
      const prefix = `${clientPrefix}${++testNumber}:`;
      const connection = await connect();
      return {
        store: redisStore({ sendCommand: connection.sendCommand, prefix }),
        cleanup: async () => {
          await connection.close();
          await flushClusterPrefix(prefix);
        },
      };
    });

    it('passes checkStore', async () => {
      const connection = await connect();
      try {
        await checkStore(() =>
          redisStore({ sendCommand: connection.sendCommand, prefix: `${clientPrefix}check:` }),
        );
      } finally {
        await connection.close();
        await flushClusterPrefix(`${clientPrefix}check:`);
      }
    });

    it('measures the clock of each node before it sends a deadline there: one probe per node', async () => {
      const connection = await connect();
      const prefix = `${clientPrefix}probe:`;
      // The deadline is the script's 12th argument, after the command, the script, 6 and six keys;
      // counted when the script ran (not an EVALSHA answered NOSCRIPT), with the node that ran it.
      const { Redis } = await import('ioredis');
      const probe = new Redis({ host: '127.0.0.1', port: CLUSTER_PORT });
      const slots = (await probe.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
      probe.disconnect();
      const ownerOf = (key: string) => {
        const slot = hashSlot(key);
        return slots.find(([a, b]) => slot >= a && slot <= b)?.[2][2];
      };
      const probed: (string | undefined)[] = [];
      let calls = 0;
      const counted: SendCommand = async (...args) => {
        const reply = await connection.sendCommand(...args);
        if (/^EVAL/.test(args[0] ?? '')) {
          calls++;
          if (args[20] === '1') probed.push(ownerOf(args[3] ?? ''));
        }
        return reply;
      };
      try {
        const store = redisStore({ sendCommand: counted, prefix });
        const users = Array.from({ length: 12 }, (_, i) => `u${i}`);
        const verify = (user: string) => {
          const call = verifyAttemptInput(Date.now() + 5_000);
          const keys = Object.fromEntries(Object.entries(call.keys).map(([k, v]) => [k, `${v}:{${user}}`]));
          return store.verifyAttempt({ ...call, keys: keys as typeof call.keys });
        };
        for (const user of [...users, ...users]) expect((await verify(user)).outcome).toBe('missing');
        // A probe ('1': long past in any clock) before the first call that reaches each node, none after.
        const nodes = new Set(users.map((u) => ownerOf(`${prefix}v:{${u}}`)));
        expect(nodes.size).toBeGreaterThan(1);
        expect(probed.sort()).toEqual([...nodes].sort());
        expect(calls).toBe(2 * users.length + nodes.size);
      } finally {
        await connection.close();
        await flushClusterPrefix(prefix);
      }
    });

    it('starts, sends, refuses a wrong code, verifies the right one in one EVALSHA each, and answers health', async () => {
      const connection = await connect();
      const prefix = `${clientPrefix}flow:`;
      const names: string[] = [];
      const counted: SendCommand = (...args) => {
        names.push(args[0] ?? '');
        return connection.sendCommand(...args);
      };
      try {
        const t = createApp({ store: redisStore({ sendCommand: counted, prefix }) });
        expect((await t.tfa.health()).store.ok).toBe(true);
        const agents = await Promise.all(['alice', 'bob', 'carol'].map((u) => signIn(t, u as 'alice')));
        for (const [i, user] of (['alice', 'bob', 'carol'] as const).entries()) {
          const agent = agents[i] as (typeof agents)[number];
          const code = await sendCode(t, agent, user);
          await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
          names.length = 0;
          await json(agent, '/2fa/verify', { code }).expect(200);
          expect(names).toEqual(['EVALSHA']);
          await agent.get('/api/data').expect(200);
        }
      } finally {
        await connection.close();
        await flushClusterPrefix(prefix);
      }
    });
  });
}
