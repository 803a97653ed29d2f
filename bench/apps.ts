// The Express apps the benchmark servers run: written the way a user would, without the test helpers.
import type { MeterProvider as OtelMeterProvider } from '@opentelemetry/api';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import type { SmsTransport, Store, TwoFactor, TwoFactorOptions } from '../src/index.js';
// The package's build (bench/dist/), or its sources with BENCH_SRC=1.
import { extractCode, memoryStore, memoryTransport, twoFactor } from './pkg.js';

declare module 'express-session' {
  interface SessionData {
    user?: { id: string; phone: string };
    /** The hand-rolled guard's flag, set by the app's own verify step. */
    twoFactorOk?: boolean;
  }
}

export const SECRET = 'bench-secret-that-is-long-enough-0123456789';
const SESSION_SECRET = 'bench-session-secret-0123456789-abcdefghij';

/** User `n`: id `u<n>`, a valid Belgian mobile number of its own (so per-number budgets never collide). */
export const userId = (n: number) => `u${n}`;
export const phoneOf = (n: number) => `+32470${String(n).padStart(6, '0')}`;

export interface AppSpec {
  /** `session`: express-session login (the common app). `header`: the user comes from `x-user` (no session store). */
  auth: 'session' | 'header';
  store: Store;
  /** A second middleware instance on another store, mounted at `/r/2fa` (the redis case). */
  second?: Store;
  /** A second instance on the same store with this meter provider, mounted at `/m/2fa` (the metrics case). */
  metered?: OtelMeterProvider;
  transport: SmsTransport;
  /** Latest code per number, when the transport records them (for the bench client). */
  codes?: Map<string, string>;
  now?: () => number;
  /** Extra options for twoFactor(). */
  options?: Partial<TwoFactorOptions>;
  /** Called for every error that reaches the app's error handler or the logger. */
  onError: (what: string) => void;
  /** Mounts routes before every other middleware (the better-auth peer). */
  before?: (app: express.Express) => void;
}

/**
 * Options raised for benchmarking: budgets at their maximum (every request comes from 127.0.0.1),
 * 10 attempts per challenge and a lockout threshold of 50, so a fresh user's 10 wrong codes are all
 * evaluated. Everything else is the default.
 */
export function benchOptions(spec: AppSpec): TwoFactorOptions {
  return {
    secret: SECRET,
    getUser:
      spec.auth === 'session'
        ? (req) => {
            const user = req.session.user;
            return user ? { id: user.id, phone: user.phone, sessionId: req.sessionID } : null;
          }
        : (req) => {
            const n = Number(req.headers['x-user']);
            return Number.isInteger(n) && n >= 0
              ? { id: userId(n), phone: phoneOf(n), sessionId: `s${n}` }
              : null;
          },
    transport: spec.transport,
    store: spec.store,
    allowedCountries: ['BE'],
    maxAttempts: 10,
    lockout: { threshold: 50, hardLimit: 100 },
    limits: { phonePerHour: 1000, phonePerDay: 10_000, ipPerHour: 1_000_000, prefixPerHour: 1_000_000 },
    warnings: { memoryStore: false },
    logger: { warn: (m) => spec.onError(`warn: ${m}`), error: (m) => spec.onError(`error: ${m}`) },
    ...(spec.now ? { now: spec.now } : {}),
    ...spec.options,
  };
}

/** A transport that keeps only the newest code per number (memoryTransport keeps every message forever). */
export function codeTransport(codes: Map<string, string> | null): SmsTransport {
  let sequence = 0;
  return {
    async sendSms(msg) {
      if (codes) codes.set(msg.to, extractCode(msg.text) ?? '');
      return { id: `bench-${++sequence}` };
    },
  };
}

/** memoryTransport, with the newest code per number copied out and the message list emptied. */
export function drainedMemoryTransport(codes: Map<string, string>): SmsTransport {
  const inner = memoryTransport();
  return {
    async sendSms(msg) {
      const result = await inner.sendSms(msg);
      codes.set(msg.to, inner.lastCode(msg.to) ?? '');
      inner.clear();
      return result;
    },
  };
}

/** The common hand-rolled guard: a flag in the session, set by the app's own verify step. */
export const handRolled = (req: Request, res: Response, next: NextFunction) => {
  if (!req.session.twoFactorOk) {
    res.sendStatus(401);
    return;
  }
  next();
};

/** A middleware that does nothing but call `next()`: the pure cost of Express's extra layer. */
export const syncNoop = (_req: Request, _res: Response, next: NextFunction) => {
  next();
};

/** A middleware that does nothing but continue after one `await`. */
export const asyncNoop = async (_req: Request, _res: Response, next: NextFunction) => {
  await undefined;
  next();
};

export interface BenchApp {
  app: express.Express;
  tfa: TwoFactor;
  /** express-session's store (its default MemoryStore), with `auth: 'session'`: the scale case empties it between runs. */
  sessions?: session.MemoryStore;
}

/**
 * Every variant of a case is a route of one app in one process, so they share one JIT, one heap
 * and one scheduling fate (separate processes differed by up to 2× on this machine for identical
 * code). The guard case's routes are registered back to back: a route further down the list pays
 * for one more non-matching path test (well under a microsecond).
 */
export function buildApp(spec: AppSpec): BenchApp {
  const app = express();
  app.disable('x-powered-by');
  spec.before?.(app);
  const tfa = twoFactor(benchOptions(spec));
  const second = spec.second
    ? twoFactor({
        ...benchOptions(spec),
        store: spec.second,
        path: '/r/2fa',
        cookie: { name: 'r2fa' },
      })
    : undefined;
  const metered = spec.metered
    ? twoFactor({
        ...benchOptions(spec),
        path: '/m/2fa',
        cookie: { secure: false, name: 'm2fa' },
        metrics: { meterProvider: spec.metered },
      })
    : undefined;
  const sessions = spec.auth === 'session' ? new session.MemoryStore() : undefined;
  if (sessions) {
    app.use(session({ secret: SESSION_SECRET, resave: false, saveUninitialized: false, store: sessions }));
    app.post('/login', (req, res) => {
      const n = Number(req.query.u);
      req.session.user = { id: userId(n), phone: phoneOf(n) };
      res.status(200).send('ok');
    });
    app.post('/logout', (req, res) => {
      tfa.clear(res);
      second?.clear(res);
      metered?.clear(res);
      req.session.destroy(() => res.status(200).send('bye'));
    });
    // What a hand-rolled second factor would do after its own verify step.
    app.post('/__bench/mark', (req, res) => {
      req.session.twoFactorOk = true;
      res.status(204).end();
    });
  }
  app.get('/__bench/code', (req, res) => {
    const code = spec.codes?.get(phoneOf(Number(req.query.u)));
    if (code) res.type('text').send(code);
    else res.sendStatus(404);
  });
  // The baseline of the verify case: express.json() and a small handler, no second factor.
  app.post('/echo', express.json(), (req, res) => {
    res.json({ received: typeof (req.body as { code?: unknown } | undefined)?.code === 'string' });
  });
  // The baseline of the send case: the same provider call, without the second factor around it.
  app.post('/bare-send', express.json(), async (req, res, next) => {
    try {
      await spec.transport.sendSms({
        to: phoneOf(Number(req.headers['x-user'])),
        text: 'Your code is 123456.',
      });
      res.json({ status: 'sent' });
    } catch (error) {
      next(error);
    }
  });
  app.use(tfa);
  if (second) app.use(second);
  if (metered) app.use(metered);
  // The guard case: the same handler bare, behind requireSecondFactor, behind a session flag.
  const ok = (_req: Request, res: Response) => {
    res.json({ ok: true });
  };
  app.get('/bare', ok);
  app.get('/guarded', tfa.requireSecondFactor, ok);
  app.get('/flagged', handRolled, ok);
  // An async middleware that only awaits: the cost of the hop itself, with nothing checked.
  app.get('/awaited', asyncNoop, ok);
  // A synchronous no-op: the cost of the router's second layer alone, no promise (s12-guard).
  app.get('/sync', syncNoop, ok);
  // The A/A control: the bare route again, registered after the others (it pays more non-matching
  // route tests), to measure what the harness alone makes of two identical routes.
  app.get('/bare-again', ok);
  // The guard's own A/A: the same guard on a route of its own, registered last (s12-guard).
  app.get('/guarded-again', tfa.requireSecondFactor, ok);
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    spec.onError(`500: ${error instanceof Error ? error.message : String(error)}`);
    res.status(500).json({ error: 'internal' });
  });
  return { app, tfa, ...(sessions ? { sessions } : {}) };
}

/** The memory store, sized for a benchmark (the default `max` is 100 000 entries). */
export const benchMemoryStore = (max: number, now?: () => number) =>
  memoryStore({ max, ...(now ? { now } : {}) });

/**
 * An OpenTelemetry SDK meter provider as an app registers it: a periodic reader (every 5 s, more
 * often than the SDK's 60 s default) and an exporter that keeps only the latest batch, so memory
 * stays flat. `points()` exports now and sums each instrument's data points, for a sanity check.
 */
export function benchMeterProvider() {
  let latest: ResourceMetrics | undefined;
  const exporter: PushMetricExporter = {
    export(metrics, done) {
      latest = metrics;
      done({ code: 0 });
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 5_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    meterProvider,
    async points(): Promise<Record<string, number>> {
      await reader.forceFlush();
      const totals: Record<string, number> = {};
      for (const scope of latest?.scopeMetrics ?? []) {
        for (const metric of scope.metrics) {
          for (const point of metric.dataPoints) {
            const v = point.value as number | { count: number };
            totals[metric.descriptor.name] =
              (totals[metric.descriptor.name] ?? 0) + (typeof v === 'number' ? v : v.count);
          }
        }
      }
      return totals;
    },
  };
}
