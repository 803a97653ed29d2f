/**
 * How many Redis commands each request of the core flow sends, counted at `sendCommand` on a real
 * Redis. The bounds are what the code does today (docs/round-trips.md): a change that adds a
 * command fails here and has to say why; a change that saves one lowers the bound.
 *
 * "Waits" counts the times the request had nothing in flight and sent a command: commands issued
 * together (Promise.all) are one wait, since the client pipelines them on one connection.
 */
import { describe, expect, it } from 'vitest';
import { redisStore, type SendCommand } from '../../src/stores/redis-store.js';
import { createApp, json, sendCode, signIn, wrongCode } from '../helpers/create-app.js';
import { REDIS_CLIENTS, requireRedis, uniquePrefix, useRedis } from '../helpers/redis.js';

const redisUp = await requireRedis();
const FILE_PREFIX = uniquePrefix('round-trips');

/**
 * Commands per request today; see docs/round-trips.md for where each one comes from. A verify is
 * one script (`verifyAttempt`); the first one of a process is preceded by the same script as a
 * probe of the server clock (server-deadline.ts), and on a server that does not have it yet the
 * first EVALSHA answers NOSCRIPT and is sent again as EVAL (the wrong verify below is the first).
 */
const BOUNDS = {
  send: { commands: 11, waits: 7 },
  status: { commands: 1, waits: 1 },
  'wrong verify': { commands: 3, waits: 3 },
  'right verify': { commands: 1, waits: 1 },
  resend: { commands: 9, waits: 7 },
  guard: { commands: 0, waits: 0 },
} as const;
/**
 * The same requests on a store without `verifyAttempt` (a custom store): the five-method path. The
 * account's state is read once the verify lock is held (src/lock.ts), one wait after the lock's.
 */
const GENERIC_BOUNDS = {
  ...BOUNDS,
  'wrong verify': { commands: 6, waits: 5 },
  'right verify': { commands: 9, waits: 5 },
};
type Step = keyof typeof BOUNDS;

/** Counts commands and waits (sends made while nothing of this request was in flight). */
function countingSendCommand(inner: SendCommand) {
  let commands: string[] = [];
  let waits = 0;
  let inFlight = 0;
  const sendCommand: SendCommand = async (...args) => {
    commands.push(args[0] ?? '');
    if (inFlight === 0) waits++;
    inFlight++;
    try {
      return await inner(...args);
    } finally {
      inFlight--;
    }
  };
  return {
    sendCommand,
    /** Runs one request and returns what it cost. */
    async measure(run: () => Promise<unknown>) {
      commands = [];
      waits = 0;
      await run();
      return { commands: commands.length, waits, names: commands.join(' ') };
    },
  };
}

for (const { name, connect } of REDIS_CLIENTS) {
  for (const path of ['one-call', 'generic'] as const) {
    describe.skipIf(!redisUp)(`Redis commands per request on ${name}, ${path} verify`, () => {
      const prefix = `${FILE_PREFIX}${name}:${path}:`;
      const sendCommand = useRedis(connect, prefix);
      const bounds = path === 'generic' ? GENERIC_BOUNDS : BOUNDS;

      it('stays within the counted bounds for send, status, verify, resend and the guard', async () => {
        const counter = countingSendCommand(sendCommand);
        const store = redisStore({ sendCommand: counter.sendCommand, prefix });
        const t = createApp({ store: path === 'generic' ? { ...store, verifyAttempt: undefined } : store });
        const cost: Partial<Record<Step, { commands: number; waits: number; names: string }>> = {};

        const agent = await signIn(t);
        let code = '';
        cost.send = await counter.measure(async () => {
          code = await sendCode(t, agent);
        });
        cost.status = await counter.measure(() => agent.get('/2fa/status').expect(200));
        cost['wrong verify'] = await counter.measure(() =>
          json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400),
        );
        t.clock.advance(30_000);
        cost.resend = await counter.measure(() => json(agent, '/2fa/resend').expect(200));
        cost['right verify'] = await counter.measure(() => json(agent, '/2fa/verify', { code }).expect(200));
        cost.guard = await counter.measure(() => agent.get('/api/data').expect(200));
        const refused = await counter.measure(() =>
          signIn(t, 'bob').then((bob) => bob.get('/api/data').expect(401)),
        );
        expect(refused.commands, 'the guard refusing an unverified browser').toBe(0);

        console.log(
          `Redis commands per request (${name}, ${path} verify):\n${Object.entries(cost)
            .map(([step, c]) => `  ${step.padEnd(13)} ${c.commands} commands, ${c.waits} waits: ${c.names}`)
            .join('\n')}`,
        );
        for (const step of Object.keys(bounds) as Step[]) {
          const measured = cost[step];
          expect(measured, step).toBeDefined();
          expect(measured?.commands, `${step}: ${measured?.names}`).toBeLessThanOrEqual(
            bounds[step].commands,
          );
          expect(measured?.waits, `${step}: ${measured?.names}`).toBeLessThanOrEqual(bounds[step].waits);
        }
        expect(cost.guard?.commands).toBe(0);
        if (path === 'one-call') expect(cost['right verify']?.names).toBe('EVALSHA');
      });
    });
  }
}
