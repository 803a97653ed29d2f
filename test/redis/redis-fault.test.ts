/**
 * Redis goes away in the middle of a flow (after the send, before the verify): killed, or hung
 * with SIGSTOP. Every 2FA route must fail closed with 503 ERR_2FA_STORE_UNAVAILABLE within the
 * store timeout, nobody may become verified, the guard keeps working from its signed cookie alone,
 * and once Redis is back the same app and the same client recover by themselves.
 * (security.md F-08..F-10 against a real server; the clients keep their default offline queues.)
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/stores/redis-store.js';
import { type Agent, createApp, json, sendCode, signIn, type TestApp, USERS } from '../helpers/create-app.js';
import {
  expectEveryRouteUnavailable,
  expectGuardUnchanged,
  expectStatusAnswersAgain,
  verifiedCookie,
} from '../helpers/outage.js';
import {
  flushPrefix,
  REDIS_CLIENTS,
  type RedisConnection,
  type RedisServer,
  requireRedisServerBinary,
  startRedisServer,
  uniquePrefix,
} from '../helpers/redis.js';

const canStartServer = requireRedisServerBinary();
const PREFIX = uniquePrefix('redis-fault');
const STORE_TIMEOUT_MS = 300;
const unhandled: unknown[] = [];
beforeAll(() => {
  const onRejection = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('unhandledRejection', onRejection);
  };
});

for (const { name, connect } of REDIS_CLIENTS) {
  describe.skipIf(!canStartServer)(`with Redis on ${name} going away mid-flow`, () => {
    let server: RedisServer;
    let connection: RedisConnection;
    let t: TestApp;
    /** Already verified before the outage. */
    let bob: Agent;
    /** Code sent, not yet verified, when Redis goes away. */
    let alice: Agent;
    let aliceCode: string;

    beforeEach(async () => {
      unhandled.length = 0;
      server = await startRedisServer();
      connection = await connect(server.port);
      t = createApp({
        store: redisStore({ sendCommand: connection.sendCommand, prefix: PREFIX }),
        options: { storeTimeoutMs: STORE_TIMEOUT_MS },
      });
      bob = await signIn(t, 'bob');
      const bobCode = await sendCode(t, bob, 'bob');
      await json(bob, '/2fa/verify', { code: bobCode }).expect(200);
      alice = await signIn(t, 'alice');
      aliceCode = await sendCode(t, alice);
    });

    afterEach(async () => {
      server?.resume();
      try {
        if (server?.running && connection) await flushPrefix(connection.sendCommand, PREFIX);
      } finally {
        await connection?.close();
        await server?.stop();
      }
      // Late replies and rejected queued commands have settled by now.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    });

    /** Redis answers again: the app is ready once status answers; then a whole flow works. */
    async function expectFlowWorksAgain(): Promise<void> {
      await expectStatusAnswersAgain(alice);
      const code = await sendCode(t, alice);
      const verified = await json(alice, '/2fa/verify', { code });
      expect(verified.status, verified.text).toBe(200);
      expect(verifiedCookie(verified)).toBe(true);
      await alice.get('/api/data').expect(200);
      await bob.get('/api/data').expect(200);
    }

    it('answers 503 on every route while Redis is stopped, keeps the guard, and recovers after a restart', async () => {
      await server.kill();
      await expectEveryRouteUnavailable(alice, aliceCode);
      await expectGuardUnchanged(bob, alice);
      // Still nobody verified after a second round (queued commands, reconnect attempts).
      await expectEveryRouteUnavailable(alice, aliceCode);

      await server.restart();
      // The restarted server is empty: the old challenge is gone, a new send starts over.
      await expectFlowWorksAgain();
      expect(t.transport.messages.filter((m) => m.to === USERS.alice.phone)).toHaveLength(2);
    });

    it('answers 503 on every route while Redis hangs (SIGSTOP), and recovers when it resumes', async () => {
      server.pause();
      await expectEveryRouteUnavailable(alice, aliceCode);
      await expectGuardUnchanged(bob, alice);

      server.resume();
      // The timed-out verify was never evaluated: the challenge keeps its whole attempt budget.
      await expect
        .poll(async () => (await alice.get('/2fa/status')).body.attemptsLeft, {
          timeout: 15_000,
          interval: 100,
        })
        .toBe(5);
      await expectFlowWorksAgain();
    });
  });
}
