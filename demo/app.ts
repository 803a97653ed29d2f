// The demo app: its own password login, express-sms-2fa, a protected /account, and a fake phone.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request, type Response } from 'express';
import session from 'express-session';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
// What an app writes as `from 'express-sms-2fa'` and `from 'express-sms-2fa/testing'`.
import { smstools, type TwoFactorEvent, type TwoFactorOptions, twoFactor } from '../src/index.js';
import { type FakeSmstools, startFakeSmstools } from '../src/testing/index.js';
import { demoRecovery, lifecycleSection, mountDeviceRoutes } from './lifecycle.js';
import { demoStats } from './stats.js';
import {
  accountPage,
  type DemoUser,
  FAVICON_SVG,
  inboxHtml,
  loginPage,
  otherWaysPage,
  phonePage,
  sensitivePage,
} from './views.js';

declare module 'express-session' {
  interface SessionData {
    /** The demo's first factor: the username that signed in. */
    demoUser?: string;
  }
}

export const DEMO_PASSWORD = 'demo1234';

/** Fake numbers: nothing is ever sent to them outside this process. */
export const DEMO_USERS: DemoUser[] = [
  {
    username: 'alice',
    password: DEMO_PASSWORD,
    id: 'u-alice',
    name: 'Alice',
    phone: '+32470123401',
    story: 'The SMS arrives and is reported delivered.',
  },
  {
    username: 'bob',
    password: DEMO_PASSWORD,
    id: 'u-bob',
    name: 'Bob',
    phone: '+32470123402',
    story: 'Every SMS fails at the provider: the code comes by voice call, automatically.',
  },
  {
    username: 'carol',
    password: DEMO_PASSWORD,
    id: 'u-carol',
    name: 'Carol',
    phone: '+31612345678',
    story: 'The SMS is accepted, then reported undelivered: a voice call follows.',
  },
  {
    username: 'dave',
    password: DEMO_PASSWORD,
    id: 'u-dave',
    name: 'Dave',
    phone: '',
    story: 'No phone on file yet: he adds one (enrollment) before he gets in.',
  },
];

/** How recent a code must be for the demo's sensitive action (`requireSecondFactor.within`). */
export const DEMO_STEP_UP_MS = 2 * 60_000;

/** Real Smstools credentials: codes go to `phone`, your own number. */
export interface RealSmstools {
  clientId: string;
  clientSecret: string;
  sender: string;
  /** The number that receives the codes (international format, e.g. +32470000000). */
  phone: string;
  webhookSecret?: string;
}

export interface DemoOptions {
  /** @default 3000; 0 picks a free port */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** "Call me instead" unlocks this long after the SMS. @default 30_000 */
  voiceAfterMs?: number;
  /** Wait before "resend". @default 30_000 */
  resendCooldownMs?: number;
  /** How long the fake provider waits before posting a delivery report. @default 1_500 */
  deliveryReportDelayMs?: number;
  /** Send real messages through Smstools instead of the fake. */
  real?: RealSmstools;
  /** Where the demo narrates what happens (events, masked numbers, never a code). @default console.log */
  log?: (line: string) => void;
  /** How long a code lives (`CODE_TTL_MS` for `npm run demo`). @default 300_000 */
  codeTtlMs?: number;
  /** More `twoFactor()` options over the demo's own (tests: a short lockout, an injected clock). */
  twoFactor?: Partial<TwoFactorOptions>;
}

export interface Demo {
  url: string;
  mode: 'fake' | 'real';
  users: DemoUser[];
  /** The fake Smstools server (fake mode only). */
  fake: FakeSmstools | undefined;
  close(): Promise<void>;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest();
const passwordMatches = (given: unknown, expected: string) =>
  typeof given === 'string' && timingSafeEqual(sha256(given), sha256(expected));

function describeEvent(event: TwoFactorEvent): string {
  const parts = [event.type, `user=${event.userId}`];
  if (event.phone) parts.push(`phone=${event.phone}`);
  if (event.channel) parts.push(`channel=${event.channel}`);
  if (event.reason) parts.push(`reason=${event.reason}`);
  if (event.providerCode) parts.push(`provider=${event.providerCode}`);
  if (event.attemptsLeft !== undefined) parts.push(`attemptsLeft=${event.attemptsLeft}`);
  return `[2fa] ${parts.join(' ')}`;
}

/** Refuses cross-site form posts to the demo's own routes (the 2FA routes check this themselves). */
function sameSite(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === undefined || site === 'same-origin' || site === 'none';
}

/**
 * Listens on `port`, or fails with the server's own error (`EADDRINUSE` for a port in use):
 * Express 5 hands a listen error to the callback, which must not read a null address.
 */
function listen(app: express.Express, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve(server)));
    server.once('error', reject);
  });
}

/** Starts the demo (and, in fake mode, the fake Smstools server in the same process). */
export async function createDemo(options: DemoOptions = {}): Promise<Demo> {
  const log = options.log ?? ((line: string) => console.log(line));
  const real = options.real;
  const mode = real ? 'real' : 'fake';
  const webhookSecret = real ? real.webhookSecret : randomBytes(24).toString('base64url');
  // A copy per demo: enrollment and phone changes write to it (`enroll.save`).
  const users = real
    ? [{ ...(DEMO_USERS[0] as DemoUser), phone: real.phone, story: 'Codes go to your phone.' }]
    : DEMO_USERS.map((u) => ({ ...u }));
  /** Bumped on every phone change: every other verified browser of the user then ends. */
  const versions = new Map<string, number>();
  const realCountry = real ? parsePhoneNumberFromString(real.phone)?.country : undefined;
  if (real && !realCountry)
    throw new Error(`DEMO_PHONE must be a valid international number, e.g. +32470000000`);

  const fake = real
    ? undefined
    : await startFakeSmstools({
        failSmsTo: [DEMO_USERS[1]?.phone as string],
        undeliverableTo: [DEMO_USERS[2]?.phone as string],
      });
  const transport = real
    ? smstools({
        clientId: real.clientId,
        clientSecret: real.clientSecret,
        sender: real.sender,
        ...(real.webhookSecret ? { webhookSecret: real.webhookSecret } : {}),
      })
    : smstools({ ...(fake as FakeSmstools).transportOptions(), sender: 'DemoApp', webhookSecret });

  const stats = demoStats(); // the funnel at /stats, from the middleware's OpenTelemetry metrics
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(
    session({
      name: 'demo.sid',
      secret: randomBytes(32).toString('base64url'),
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'lax', secure: false },
    }),
  );
  const userOf = (req: Request) => users.find((u) => u.username === req.session.demoUser);

  const tfa = twoFactor({
    secret: randomBytes(32).toString('base64url'),
    getUser: (req) => {
      const user = userOf(req);
      return user
        ? {
            id: user.id,
            phone: user.phone || null,
            sessionId: req.sessionID,
            version: versions.get(user.id) ?? 0,
          }
        : null;
    },
    // Adding and changing the number: only after a code sent to it was typed back.
    enroll: {
      save: (user, phone) => {
        const record = users.find((u) => u.id === user.id);
        if (record) record.phone = phone;
        versions.set(user.id, (versions.get(user.id) ?? 0) + 1);
      },
    },
    transport,
    allowedCountries: real ? [realCountry as string] : ['BE', 'NL'],
    appName: 'the demo',
    loginPath: '/login',
    cookie: { secure: false }, // plain http on localhost; keep the default (secure) in production
    voice: { afterMs: options.voiceAfterMs ?? 30_000, auto: true },
    resendCooldownMs: options.resendCooldownMs ?? 30_000,
    // Generous budgets, so trying the demo a few times does not hit the per-phone limit.
    limits: { phonePerHour: 50, phonePerDay: 200, ipPerHour: 200, prefixPerHour: 100 },
    onEvent: (event) => log(describeEvent(event)),
    logger: { warn: (m) => log(m), error: (m) => log(m) },
    warnings: { memoryStore: false },
    // SMS should not be the only factor on offer (NIST SP 800-63B): link the others from the page.
    // And a way out of the page: the demo's own sign-out.
    page: {
      alternative: { href: '/other-ways', text: 'Use another way to sign in' },
      signOut: { action: '/logout' },
    },
    metrics: { meterProvider: stats.meterProvider },
    // A way in when the phone is lost, and "Don't ask again on this device" (30 days).
    recovery: demoRecovery(),
    rememberDevice: {},
    ...(options.codeTtlMs === undefined ? {} : { codeTtlMs: options.codeTtlMs }),
    ...options.twoFactor,
  });
  stats.mount(app, () => tfa.health());

  // Each demo page gets its own nonce and a strict CSP.
  const page = (res: Response, status: number, render: (nonce: string) => string) => {
    const nonce = randomBytes(16).toString('base64');
    res.setHeader(
      'Content-Security-Policy',
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    );
    res.setHeader('Cache-Control', 'no-store');
    res.status(status).type('html').send(render(nonce));
  };

  app.get('/', (req, res) => res.redirect(303, userOf(req) ? '/account' : '/login'));
  app.get('/favicon.ico', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=86400');
    res.type('image/svg+xml').send(FAVICON_SVG);
  });
  app.get('/login', (req, res) => {
    if (userOf(req)) return res.redirect(303, '/account');
    const signedOut = 'signed-out' in (req.query as object);
    page(res, 200, (nonce) => loginPage(nonce, users, { mode, signedOut }));
  });
  app.post('/login', express.urlencoded({ extended: false, limit: '2kb' }), (req, res, next) => {
    if (!sameSite(req)) return void res.status(403).send('Cross-site request refused.');
    const { username, password } = (req.body ?? {}) as Record<string, unknown>;
    const user = users.find((u) => u.username === username);
    if (!user || !passwordMatches(password, user.password)) {
      const shown = typeof username === 'string' ? username.slice(0, 64) : '';
      return page(res, 401, (nonce) =>
        loginPage(nonce, users, { mode, username: shown, error: 'Wrong username or password.' }),
      );
    }
    // A new session id at login: a planted pre-login session never becomes a signed-in one.
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.demoUser = user.username;
      log(`[demo] ${user.username} signed in (first factor)`);
      res.redirect(303, '/account');
    });
  });
  app.get('/other-ways', (_req, res) => page(res, 200, (nonce) => otherWaysPage(nonce)));
  mountDeviceRoutes(app, tfa, (req) => userOf(req)?.id, sameSite);
  app.post('/logout', (req, res) => {
    if (!sameSite(req)) return void res.status(403).send('Cross-site request refused.');
    tfa.clear(res);
    req.session.destroy(() => {
      res.clearCookie('demo.sid');
      res.redirect(303, '/login?signed-out');
    });
  });

  // The fake phone: no login, it is "your phone" in the demo.
  const messages = () => fake?.messages ?? [];
  app.get('/phone', (_req, res) => page(res, 200, (nonce) => phonePage(nonce, messages(), mode, users)));
  app.get('/phone/inbox', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(inboxHtml(messages(), mode, users));
  });

  app.use(tfa); // /2fa, /2fa/send, …, /2fa/webhooks/smstools (before any global body parser)
  app.get('/account', tfa.requireSecondFactor, async (req, res) => {
    const user = userOf(req) as DemoUser;
    const info = req.secondFactor ?? { method: 'sms', verifiedAt: Date.now() };
    const extra = await lifecycleSection(tfa, user.id); // recovery codes, remembered devices
    page(res, 200, (nonce) => accountPage(nonce, user, info, extra));
  });
  // A sensitive action: only with a code typed in the last two minutes (step-up).
  app.get('/account/sensitive', tfa.requireSecondFactor.within(DEMO_STEP_UP_MS), (req, res) => {
    const info = req.secondFactor ?? { method: 'sms', verifiedAt: Date.now() };
    page(res, 200, (nonce) => sensitivePage(nonce, userOf(req) as DemoUser, info, DEMO_STEP_UP_MS));
  });

  let server: Server;
  try {
    server = await listen(app, options.port ?? 3000, options.host ?? '127.0.0.1');
  } catch (error) {
    await fake?.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const url = `http://${address.address}:${address.port}`;
  if (fake && webhookSecret) {
    fake.webhook = {
      url: `${url}/2fa/webhooks/smstools`,
      secret: webhookSecret,
      delayMs: options.deliveryReportDelayMs ?? 1_500,
    };
  }

  return {
    url,
    mode,
    users,
    fake,
    async close() {
      await fake?.close(); // cancels delivery reports still waiting
      await stats.shutdown();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
