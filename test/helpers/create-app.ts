import express5 from 'express';
import session from 'express-session';
import express4 from 'express4';
import request from 'supertest';
import type { TwoFactorEvent } from '../../src/events.js';
import type { TwoFactorOptions } from '../../src/options.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { type MemoryTransport, memoryTransport } from '../../src/transports/memory.js';
import { type TwoFactor, twoFactor } from '../../src/two-factor.js';
import { type CapturedResponse, captureResponses } from './capture.js';
import { ONE_CALL_VERIFY, withoutVerifyAttempt } from './verify-attempt.js';

/** Both Express majors the package supports; integration suites run once per entry. */
export const EXPRESS_VERSIONS = [
  ['Express 5', express5],
  ['Express 4', express4],
] as const;
export type ExpressModule = typeof express5;

export const SECRET = 'test-secret-that-is-long-enough-0123456789';
export const SESSION_SECRET = 'session-secret-for-tests-only-0123456789';

/** Every app built by the current test; the leak scan (test/helpers/leak-scan.ts) reads them. */
export const createdApps: TestApp[] = [];

export const USERS = {
  alice: { id: 'u-alice', phone: '+32470123401', password: 'alice-pw' },
  bob: { id: 'u-bob', phone: '+32470123402', password: 'bob-pw' },
  carol: { id: 'u-carol', phone: '+31612345678', password: 'carol-pw' },
  dave: { id: 'u-dave', phone: '+12025550123', password: 'dave-pw' },
} as const;
export type Username = keyof typeof USERS;

declare module 'express-session' {
  interface SessionData {
    user?: { id: string; phone: string };
  }
}

export interface TestClock {
  now: () => number;
  advance: (ms: number) => void;
}

export function createClock(start = Date.UTC(2026, 10, 27, 9, 0, 0)): TestClock {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
  };
}

export interface TestApp {
  app: ReturnType<ExpressModule>;
  tfa: TwoFactor;
  transport: MemoryTransport;
  store: Store;
  clock: TestClock;
  events: TwoFactorEvent[];
  logs: string[];
  /** The per-user `version`: bump it to simulate a password or phone change. */
  versions: Map<string, number>;
  /** Phone numbers on file, changeable per test. */
  phones: Map<string, string>;
  /** Every response the app wrote (for the leak scan). */
  responses: CapturedResponse[];
  /** Texts of every message sent (the leak scan learns the issued codes from them). */
  sentTexts: () => string[];
}

export interface CreateAppOptions {
  express?: ExpressModule;
  options?: Partial<TwoFactorOptions>;
  store?: Store;
  transport?: TwoFactorOptions['transport'];
  clock?: TestClock;
  /** Texts sent through a transport other than the built-in memory transport (e.g. the fake Smstools). */
  sentTexts?: () => string[];
}

/**
 * An app the way a user would write it: express-session, its own password login, the 2FA
 * middleware, and protected routes.
 */
export function createApp(opts: CreateAppOptions = {}): TestApp {
  const express = opts.express ?? express5;
  const clock = opts.clock ?? createClock();
  const transport = memoryTransport({ now: clock.now });
  // The default store verifies through the five generic methods (a custom store's path), or with
  // TFA_TEST_VERIFY=one-call through memoryStore()'s own verifyAttempt (the path Redis takes too).
  const defaultStore = memoryStore({ now: clock.now });
  const store = opts.store ?? (ONE_CALL_VERIFY ? defaultStore : withoutVerifyAttempt(defaultStore));
  const events: TwoFactorEvent[] = [];
  const logs: string[] = [];
  const versions = new Map<string, number>();
  const phones = new Map<string, string>(Object.values(USERS).map((u) => [u.id, u.phone]));
  const app = express();
  const responses = captureResponses(app as unknown as Parameters<typeof captureResponses>[0]);
  app.use(session({ secret: SESSION_SECRET, resave: false, saveUninitialized: false }));

  const tfa = twoFactor({
    secret: SECRET,
    getUser: (req) => {
      const user = req.session.user;
      if (!user) return null;
      return {
        id: user.id,
        phone: phones.get(user.id) ?? user.phone,
        sessionId: req.sessionID,
        version: versions.get(user.id) ?? 0,
      };
    },
    transport: opts.transport ?? transport,
    store,
    allowedCountries: ['BE', 'NL'],
    now: clock.now,
    onEvent: (event) => events.push(event),
    logger: { warn: (m) => logs.push(m), error: (m) => logs.push(m) },
    ...opts.options,
  });

  app.post('/login', express.urlencoded({ extended: false }), express.json(), (req, res, next) => {
    const { username, password } = (req.body ?? {}) as { username?: string; password?: string };
    const user = username && Object.hasOwn(USERS, username) ? USERS[username as Username] : undefined;
    if (!user || user.password !== password) {
      res.status(401).send('bad login');
      return;
    }
    // A new session id on login: a planted pre-login session never becomes a verified one.
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = { id: user.id, phone: user.phone };
      res.status(200).send('ok');
    });
  });
  app.post('/logout', (req, res) => {
    tfa.clear(res);
    req.session.destroy(() => res.status(200).send('bye'));
  });
  app.use(tfa);
  app.get('/account', tfa.requireSecondFactor, (req, res) => {
    res.send(`account of ${req.session.user?.id} via ${req.secondFactor?.method}`);
  });
  app.get('/api/data', tfa.requireSecondFactor, (req, res) => {
    res.json({ ok: true, verifiedAt: req.secondFactor?.verifiedAt });
  });
  app.post('/api/transfer', tfa.requireSecondFactor, (_req, res) => {
    res.json({ transferred: true });
  });
  const sentTexts = () => [...transport.messages.map((m) => m.text), ...(opts.sentTexts?.() ?? [])];
  const testApp = { app, tfa, transport, store, clock, events, logs, versions, phones, responses, sentTexts };
  createdApps.push(testApp);
  return testApp;
}

export type Agent = ReturnType<typeof request.agent>;

/** A browser (cookie jar) that has passed the first factor as `username`. */
export async function signIn(t: TestApp, username: Username = 'alice'): Promise<Agent> {
  const agent = request.agent(t.app);
  const user = USERS[username];
  await agent.post('/login').type('form').send({ username, password: user.password }).expect(200);
  return agent;
}

export const json = (agent: Agent, path: string, body: object = {}) =>
  agent.post(path).set('Content-Type', 'application/json').send(JSON.stringify(body));

/** Sends a code to `username` and reads it from the memory transport. */
export async function sendCode(t: TestApp, agent: Agent, username: Username = 'alice'): Promise<string> {
  const res = await json(agent, '/2fa/send');
  if (res.status !== 200) throw new Error(`send answered ${res.status} ${JSON.stringify(res.body)}`);
  const code = t.transport.lastCode(t.phones.get(USERS[username].id) ?? USERS[username].phone);
  if (!code) throw new Error('no code was sent');
  return code;
}

/** A code of the right length that is not `code`. */
export const wrongCode = (code: string) => code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));
