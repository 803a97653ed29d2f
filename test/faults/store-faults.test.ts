import type request from 'supertest';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STORE_TIMEOUT_MS } from '../../src/constants.js';
import { sendLockTtl } from '../../src/lock.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import {
  type Agent,
  createApp,
  createClock,
  json,
  sendCode,
  signIn,
  type TestApp,
  USERS,
  wrongCode,
} from '../helpers/create-app.js';
import { countingFaults, garbageStore, watchUnhandledRejections } from '../helpers/faults.js';
import { faultyStore, type Operation } from '../helpers/stores.js';

watchUnhandledRejections();

const STORE_TIMEOUT_MS = 200;
const OPERATIONS: Operation[] = ['get', 'getMany', 'set', 'delete', 'consume', 'increment'];
const MODES = [
  ['throws', 'throw'],
  ['stalls past storeTimeoutMs', 'stall'],
] as const;

type Route = 'send' | 'resend' | 'voice' | 'verify' | 'status' | 'page';
/** `ok`: the operation is not on the route's path, or only best-effort there; `503`: fail closed. */
type Outcome = 'ok' | '503';

/**
 * What each route must answer when one store operation fails. This store has `getMany` but no
 * `compareAndSet`, so plain `get` reads the session's newest challenge on a send and, on every
 * send, a budget's record under its lock; `delete` only frees a lock (best effort, its TTL frees it
 * anyway) except after a right code, where the failure counter's reset must succeed before the
 * cookie is issued.
 */
const EXPECTED: Record<Route, Record<Operation, Outcome>> = {
  send: { get: '503', getMany: '503', set: '503', delete: 'ok', consume: 'ok', increment: '503' },
  resend: { get: '503', getMany: '503', set: '503', delete: 'ok', consume: 'ok', increment: '503' },
  voice: { get: '503', getMany: '503', set: '503', delete: 'ok', consume: 'ok', increment: '503' },
  verify: { get: 'ok', getMany: '503', set: 'ok', delete: '503', consume: '503', increment: '503' },
  status: { get: 'ok', getMany: '503', set: 'ok', delete: 'ok', consume: 'ok', increment: 'ok' },
  page: { get: 'ok', getMany: '503', set: 'ok', delete: 'ok', consume: 'ok', increment: 'ok' },
};

/** Brings the browser to where the route makes sense, then runs the route once. */
const ROUTES: Record<
  Route,
  {
    prepare(t: TestApp, agent: Agent): Promise<string | null>;
    run(agent: Agent, code: string | null): request.Test;
  }
> = {
  send: { prepare: async () => null, run: (a) => json(a, '/2fa/send') },
  resend: { prepare: (t, a) => sendThenWait(t, a), run: (a) => json(a, '/2fa/resend') },
  voice: { prepare: (t, a) => sendThenWait(t, a), run: (a) => json(a, '/2fa/voice') },
  verify: { prepare: (t, a) => sendCode(t, a), run: (a, code) => json(a, '/2fa/verify', { code }) },
  status: { prepare: (t, a) => sendCode(t, a), run: (a) => a.get('/2fa/status') },
  page: { prepare: (t, a) => sendCode(t, a), run: (a) => a.get('/2fa').set('Accept', 'text/html') },
};

async function sendThenWait(t: TestApp, agent: Agent): Promise<string> {
  const code = await sendCode(t, agent);
  t.clock.advance(30_000); // past the resend cooldown and voice.afterMs
  return code;
}

function faultyApp() {
  const clock = createClock();
  const faulty = countingFaults(faultyStore(memoryStore({ now: clock.now })));
  const t = createApp({ clock, store: faulty.store, options: { storeTimeoutMs: STORE_TIMEOUT_MS } });
  return { t, faults: faulty.faults, hits: faulty.hits };
}

const verifiedCookie = (res: request.Response) =>
  ([] as string[]).concat(res.headers['set-cookie'] ?? []).filter((c) => /^2fa=[^;]+/.test(c));

function expectStoreUnavailable(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.body).toEqual({ error: { code: 'ERR_2FA_STORE_UNAVAILABLE', message: expect.any(String) } });
  expect(res.headers['cache-control']).toBe('no-store');
  expect(verifiedCookie(res)).toEqual([]);
}

/** After the fault: the guard (which reads no store) refuses, and the flow works again once it is gone. */
async function expectGuardRefusesThenRecovery(t: TestApp, agent: Agent, clear: () => void): Promise<void> {
  const guarded = await agent.get('/api/data').expect(401);
  expect(guarded.body.error.code).toBe('ERR_2FA_REQUIRED');
  clear();
  t.clock.advance(sendLockTtl(DEFAULT_STORE_TIMEOUT_MS) + 1_000); // a send lock left behind by a failed delete expires
  const code = await sendCode(t, agent);
  await json(agent, '/2fa/verify', { code }).expect(200);
  await agent.get('/api/data').expect(200);
}

const ROUTE_NAMES: Record<Route, string> = {
  send: 'POST /2fa/send',
  resend: 'POST /2fa/resend',
  voice: 'POST /2fa/voice',
  verify: 'POST /2fa/verify with the right code',
  status: 'GET /2fa/status',
  page: 'GET /2fa',
};

const NAMED_ROUTES = (Object.keys(ROUTE_NAMES) as Route[]).map(
  (route) => [ROUTE_NAMES[route], route] as const,
);

describe.each(NAMED_ROUTES)('%s', (_name, route) => {
  describe.each(MODES)('when a store operation %s', (_label, mode) => {
    it.each(OPERATIONS)('on %s: fails closed, never verifies, never sends twice', async (op) => {
      const { t, faults, hits } = faultyApp();
      const agent = await signIn(t);
      const { prepare, run } = ROUTES[route];
      const code = await prepare(t, agent);
      const sentBefore = t.transport.messages.length;
      faults.set(op, { mode });

      const res = await run(agent, code);
      const expected = EXPECTED[route][op];
      if (expected === '503') {
        expect(hits).toContain(op);
        expectStoreUnavailable(res);
      } else {
        expect(res.status).toBe(200);
        if (route !== 'verify') expect(verifiedCookie(res)).toEqual([]);
      }
      const sends = route === 'send' || route === 'resend' || route === 'voice' ? 1 : 0;
      expect(t.transport.messages.length - sentBefore).toBeLessThanOrEqual(sends);
      if (route === 'verify' && expected === 'ok') {
        expect(verifiedCookie(res)).toHaveLength(1);
        return;
      }
      await expectGuardRefusesThenRecovery(t, agent, () => faults.clear());
    });
  });
});

describe('POST /2fa/verify', () => {
  describe('when consume throws after a correct compare (F-09)', () => {
    it('answers 503, sets no cookie, and the right code still counts against the attempt budget', async () => {
      const { t, faults } = faultyApp();
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      faults.set('consume', { mode: 'throw', match: 'c:' });
      expectStoreUnavailable(await json(agent, '/2fa/verify', { code }));
      // Not a user failure: nothing emitted, the account counter untouched ...
      expect(t.events.map((e) => e.type)).toEqual(['code.sent']);
      faults.clear();
      // ... but the attempt was spent before the compare.
      const wrong = await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
      expect(wrong.body.error.attemptsLeft).toBe(3);
      expect(t.events.at(-1)).toMatchObject({ type: 'verify.failed', failures: 1 });
      await json(agent, '/2fa/verify', { code }).expect(200);
    });
  });

  describe('when increment throws (F-09: counting comes before comparing)', () => {
    it('answers 503 without evaluating the code, for a right and a wrong code alike', async () => {
      const { t, faults } = faultyApp();
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      faults.set('increment', { mode: 'throw', match: 'a:' });
      expectStoreUnavailable(await json(agent, '/2fa/verify', { code }));
      expectStoreUnavailable(await json(agent, '/2fa/verify', { code: wrongCode(code) }));
      expect(t.events.map((e) => e.type)).toEqual(['code.sent']);
    });
  });
});

describe('a store that hands back garbage for challenge records (F-14)', () => {
  const GARBAGE: [string, (record: string) => unknown][] = [
    ['a number', () => 42],
    ['an object', (r) => JSON.parse(r)],
    ['an array', () => ['c']],
    ['null', () => null],
    ['"{}"', () => '{}'],
    ['"null"', () => 'null'],
    ['a JSON string', () => '"challenge"'],
    ['not JSON', () => '{"id":'],
    ['another challenge id', (r) => JSON.stringify({ ...JSON.parse(r), id: 'A'.repeat(24) })],
    ['a hash that is a number', (r) => JSON.stringify({ ...JSON.parse(r), hash: 0 })],
    ['an expiry that is a string', (r) => JSON.stringify({ ...JSON.parse(r), expiresAt: '9999999999999' })],
    ['another user', (r) => JSON.stringify({ ...JSON.parse(r), userId: USERS.bob.id })],
  ];

  function garbageApp(bend: (record: string) => unknown, on?: ('read' | 'consume')[]) {
    const clock = createClock();
    const store: Store = garbageStore(memoryStore({ now: clock.now }), bend, on);
    return createApp({ clock, store });
  }

  it.each(GARBAGE)('treats %s as no challenge: 4xx everywhere, never verified', async (_name, bend) => {
    const t = garbageApp(bend);
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const verify = await json(agent, '/2fa/verify', { code });
    expect(verify.status).toBe(409);
    expect(verify.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
    expect(verifiedCookie(verify)).toEqual([]);
    expect((await agent.get('/2fa/status').expect(200)).body).toEqual({ status: 'none' });
    t.clock.advance(30_000);
    expect((await json(agent, '/2fa/resend')).status).toBe(409);
    await agent.get('/api/data').expect(401);
    expect(t.transport.messages).toHaveLength(1);
  });

  // A consume that returns a well-formed record of this id has claimed it; only bad shapes matter here.
  const BAD_SHAPES = GARBAGE.filter(([name]) => name !== 'another user');

  it.each(BAD_SHAPES)('refuses the right code when only consume returns %s', async (_name, bend) => {
    const t = garbageApp(bend, ['consume']);
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const verify = await json(agent, '/2fa/verify', { code });
    expect(verify.status).toBe(409);
    expect(verifiedCookie(verify)).toEqual([]);
    await agent.get('/api/data').expect(401);
  });
});
