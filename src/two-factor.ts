import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createKeys } from './challenge.js';
import { type Runtime, resolveUser } from './context.js';
import { createCookieJar } from './cookie.js';
import { formTokenMatches } from './crypto.js';
import { TwoFactorError } from './errors.js';
import { createEmitter } from './events.js';
import { createGuard, isVerified, type SecondFactorGuard } from './guard.js';
import { createHealth, type HealthReport } from './health/health.js';
import { FORM_TOKEN_FIELD } from './host/csrf.js';
import { createMount, type RouteMatch } from './host/mount.js';
import { createProxyChecks } from './host/proxies.js';
import { createWarnOnce } from './host/warn-once.js';
import {
  isCrossSite,
  isHtmlClient,
  isProvenSameOrigin,
  noStore,
  readBody,
  readRawBody,
  safeReturnTo,
  sendError,
  sendJson,
  sendJsonText,
} from './http.js';
import { listDevices, revokeAllDevices, revokeDevice } from './lifecycle/devices/devices.js';
import type { RememberedDevice } from './lifecycle/devices/records.js';
import { showEnrollPage } from './lifecycle/enroll/page.js';
import { ENROLL_PAGE, ENROLL_POST_ROUTES } from './lifecycle/enroll/routes.js';
import { verifiedEnough, withinOfRequest, withWithin } from './lifecycle/fresh.js';
import { countRecoveryCodes, generateForApp } from './lifecycle/recovery/recovery.js';
import { createLifecycle, queryReturnTo } from './lifecycle/routes.js';
import { resetFailures } from './lockout.js';
import { createMetrics } from './metrics/metrics.js';
import { measuredTransport } from './metrics/transport.js';
import { parseOptions, type TwoFactorOptions } from './options.js';
import { flashError } from './routes/flash.js';
import { load } from './routes/load.js';
import { showPage } from './routes/page.js';
import type { PostRoute, Refusal, RouteResult } from './routes/result.js';
import { sendAgain, startChallenge } from './routes/send.js';
import { browserState, statusBody } from './routes/state.js';
import { attemptVerify } from './routes/verify.js';
import { receiveReport } from './routes/webhook.js';
import { checkSmsText } from './sms-length.js';
import { guardStore } from './stores/guarded-store.js';

export interface TwoFactor extends RequestHandler {
  /**
   * Protects a route: verified requests pass; others are sent to the challenge page or get 401.
   * `requireSecondFactor.within(ms)` protects a sensitive one: only a verification at most `ms` old passes.
   */
  requireSecondFactor: SecondFactorGuard;
  /**
   * The delivery-report handler alone, to mount before your body parsers:
   * `app.post('/2fa/webhooks/smstools', tfa.webhook)`.
   */
  webhook: RequestHandler;
  /** Whether this request carries a valid verified state for its current user. */
  isVerified(req: Request): Promise<boolean>;
  /** Ends the verified state in this browser (call it on logout). */
  clear(res: Response): void;
  /** Lifts an account lock and resets the user's consecutive-failure count. */
  unlock(userId: string): Promise<void>;
  /** Store and provider reachability and latency, for readiness probes. Never throws; bounded by `health.timeoutMs`. */
  health(): Promise<HealthReport>;
  /** Recovery codes (the `recovery` option). */
  recovery: {
    /** A new set for the user, returned once; `recovery.save` gets only their hashes, and the old set stops working. */
    generate(userId: string | number): Promise<string[]>;
    /** How many unused codes the user has left (from `recovery.load`). */
    count(userId: string | number): Promise<number>;
  };
  /** Remembered devices (the `rememberDevice` option). */
  devices: {
    /** The user's remembered devices, most recently used first. */
    list(userId: string | number): Promise<RememberedDevice[]>;
    /** Forgets one device; resolves `true` when there was one to forget. */
    revoke(userId: string | number, id: string): Promise<boolean>;
    /** Forgets every device of the user; resolves how many. */
    revokeAll(userId: string | number): Promise<number>;
  };
}

const POST_ROUTES: Record<string, PostRoute> = {
  '/send': (rt, req, res, user, _body, returnTo) => startChallenge(rt, req, res, user, returnTo),
  '/resend': (rt, req, _res, user) => sendAgain(rt, req, user, 'sms'),
  '/voice': (rt, req, _res, user) => sendAgain(rt, req, user, 'voice'),
  '/verify': (rt, req, res, user, body) =>
    attemptVerify(rt, req, res, user, body.code).then(
      (result) => {
        if ('refused' in result) rt.metrics.verifyRefused(result.refused);
        return result;
      },
      (error: unknown) => {
        rt.metrics.verifyRefused(error);
        throw error;
      },
    ),
};

let warnedMemoryStore = false;

/**
 * SMS one-time-code second factor. Mount the result with `app.use()`; protect routes with its guard.
 * @example
 * const tfa = twoFactor({ secret, getUser: (req) => req.session.user ?? null, transport, allowedCountries: ['BE'] });
 * app.use(tfa);
 * app.get('/account', tfa.requireSecondFactor, (req, res) => res.send('ok'));
 */
export function twoFactor(options: TwoFactorOptions): TwoFactor {
  // `app.use(twoFactor)` passes a request here; parseOptions recognises it and says so.
  const config = parseOptions(options);
  checkSmsText(config);
  if (
    config.usesMemoryStore &&
    config.warnings.memoryStore &&
    process.env.NODE_ENV === 'production' &&
    !warnedMemoryStore
  ) {
    warnedMemoryStore = true;
    config.logger.warn(
      'express-sms-2fa: the memory store keeps codes and lockouts in this process only; with several instances or restarts use redisStore() (disable with warnings: { memoryStore: false })',
    );
  }
  const metrics = createMetrics(config.metrics.meterProvider);
  const emit = createEmitter(config, metrics.record);
  const health = createHealth(config, metrics, emit);
  const rt: Runtime = {
    // Every provider call is timed and every SMS counted in billed parts on its way out.
    config: { ...config, transport: measuredTransport(config.transport, metrics, health.afterSend) },
    store: guardStore(config.store, config.storeTimeoutMs),
    cookies: createCookieJar(config),
    keys: createKeys(config),
    emit,
    metrics,
    warnOnce: createWarnOnce(config.logger),
  };
  const postRoutes: Record<string, PostRoute> = config.enroll
    ? { ...POST_ROUTES, ...ENROLL_POST_ROUTES }
    : POST_ROUTES;
  /** The page a form post of `sub` comes back to: the enrollment page for its routes, else the challenge page. */
  const pageOf = (routes: string, sub: string) =>
    sub.startsWith(`${ENROLL_PAGE}/`) ? `${routes}${ENROLL_PAGE}` : routes;
  const checkHostRequest = createProxyChecks(config, rt.warnOnce);
  const mount = createMount(config, rt.warnOnce);
  // Recovery codes and remembered devices: their routes, when configured (API.md §8).
  const lifecycle = createLifecycle(rt);

  async function handlePost(req: Request, res: Response, { routes, sub }: RouteMatch): Promise<void> {
    let formMode = false;
    let returnTo = '/';
    // A step-up's hint (`/2fa/send?within=ms`): a browser verified longer ago than that is asked again.
    const within = withinOfRequest(req);
    const page = pageOf(routes, sub);
    try {
      // Without a first factor every route answers the same 401, whatever the request looks like.
      const user = await resolveUser(rt, req);
      if (!user) throw new TwoFactorError('ERR_2FA_UNAUTHENTICATED');
      if (isCrossSite(req)) throw new TwoFactorError('ERR_2FA_FORBIDDEN_ORIGIN');
      const body = await readBody(req);
      formMode = body.kind === 'form' && isHtmlClient(req);
      returnTo = safeReturnTo(body.fields.returnTo);
      // JSON cannot be sent cross-site without a CORS preflight we never grant. A form or an empty
      // body can: it needs its token, unless the browser itself vouches for the origin.
      const token = body.fields[FORM_TOKEN_FIELD];
      const tokenOk =
        typeof token === 'string' && formTokenMatches(config.secrets, user.id, user.sessionId ?? '', token);
      if (body.kind !== 'json' && !tokenOk && !isProvenSameOrigin(req)) {
        throw new TwoFactorError('ERR_2FA_FORBIDDEN_ORIGIN', {
          message: `Send JSON, or a form with its ${FORM_TOKEN_FIELD} token.`,
        });
      }
      // Already verified (Back button, a second tab): nothing to send; say where to go instead.
      const verified = sub === '/send' && verifiedEnough(rt, req, user, within);
      const own = lifecycle.posts[sub];
      const result: RouteResult | Refusal = verified
        ? ({ verified: true, returnTo } as const)
        : own
          ? await own({ req, res, user, body: body.fields, returnTo, routes, formMode })
          : await (postRoutes[sub] as PostRoute)(rt, req, res, user, body.fields, returnTo, routes);
      if ('refused' in result) {
        refuse(res, result.refused, formMode, routes, sub, page, returnTo, within);
        return;
      }
      if ('answered' in result) return;
      if (sub === '/verify' && 'verified' in result && lifecycle.afterVerify)
        await lifecycle.afterVerify(req, res, user, body.fields);
      if ('verified' in result) {
        if (formMode) res.redirect(303, result.returnTo);
        else if (verified) sendJson(res, 200, { status: 'verified', returnTo: result.returnTo });
        // The right code's answer: one string serialized, not an object (the same text).
        else sendJsonText(res, 200, `{"verified":true,"returnTo":${JSON.stringify(result.returnTo)}}`);
      } else if (formMode) {
        res.redirect(
          303,
          withWithin(page === routes ? page : `${page}?returnTo=${encodeURIComponent(returnTo)}`, within),
        );
      } else {
        sendJson(res, 200, { ...result.view, status: 'sent' });
      }
    } catch (error) {
      if (!(error instanceof TwoFactorError)) throw error;
      refuse(res, error, formMode, routes, sub, page, returnTo, within);
    }
  }

  /** A POST refused with `error`, thrown or handed back: the JSON error, or for a form the page with it. */
  function refuse(
    res: Response,
    error: TwoFactorError,
    formMode: boolean,
    routes: string,
    sub: string,
    page: string,
    returnTo: string,
    within: number | undefined,
  ): void {
    if (formMode && error.code !== 'ERR_2FA_UNAUTHENTICATED') {
      // The error goes to the page in a one-time cookie, not the address: a reload does not repeat it.
      flashError(rt, res, error);
      const back = lifecycle.formBack(sub, routes, returnTo, error, within);
      res.redirect(303, back ?? withWithin(`${page}?returnTo=${encodeURIComponent(returnTo)}`, within));
    } else {
      sendError(res, error, config.locale);
    }
  }

  async function handleGet(req: Request, res: Response, { routes, sub }: RouteMatch): Promise<void> {
    try {
      const user = await resolveUser(rt, req);
      if (!user) {
        if (sub === '/' && isHtmlClient(req) && config.loginPath) res.redirect(303, config.loginPath);
        else sendError(res, new TwoFactorError('ERR_2FA_UNAUTHENTICATED'), config.locale);
        return;
      }
      const own = lifecycle.gets[sub];
      if (own) {
        await own({ req, res, user, body: {}, returnTo: queryReturnTo(req), routes, formMode: true });
        return;
      }
      const within = withinOfRequest(req);
      // Verified, or (not for a step-up) a remembered device that lets this session in: one store read.
      const admitted = async () => within === undefined && (await lifecycle.admit?.(req, res, user)) != null;
      if (sub === '/' && (verifiedEnough(rt, req, user, within) || (await admitted()))) {
        res.redirect(303, safeReturnTo((req.query as Record<string, unknown>).returnTo));
        return;
      }
      if (sub === ENROLL_PAGE) {
        await showEnrollPage(rt, req, res, user, routes);
        return;
      }
      if (sub === '/') {
        await showPage(rt, req, res, user, routes);
        return;
      }
      const state = browserState(rt, await load(rt, req, user));
      res.status(200).json(statusBody(state, verifiedEnough(rt, req, user, within)));
    } catch (error) {
      if (error instanceof TwoFactorError) sendError(res, error, config.locale);
      else throw error;
    }
  }

  /** A delivery report: its signature covers the raw bytes, so a body parser must not have eaten them. */
  async function handleWebhook(req: Request, res: Response, route: string): Promise<void> {
    try {
      const raw = await readRawBody(req);
      if (raw === null) {
        rt.warnOnce(
          'webhook-body-parsed',
          `a delivery report reached twoFactor() after a body parser had read it, so its signature cannot be checked and it was refused (400): mount app.post('${route}', tfa.webhook) before your body parsers, or keep the raw bytes as req.rawBody (express.json({ verify: (req, res, buf) => { req.rawBody = buf } }))`,
          'error',
        );
        throw new TwoFactorError('ERR_2FA_BAD_REQUEST', {
          message: 'The report was read by a body parser before its signature could be checked.',
        });
      }
      await receiveReport(rt, req, raw);
      res.status(204).end();
    } catch (error) {
      if (error instanceof TwoFactorError) sendError(res, error, config.locale);
      else throw error;
    }
  }

  const router = function twoFactorRouter(req: Request, res: Response, next: NextFunction): void {
    const route = mount.match(req);
    if (!route) {
      next();
      return;
    }
    const { sub } = route;
    const isGet =
      sub === '/' ||
      sub === '/status' ||
      (config.enroll !== undefined && sub === ENROLL_PAGE) ||
      sub in lifecycle.gets;
    const isPost = sub in postRoutes || sub in lifecycle.posts || sub === '/webhooks/smstools';
    if (!isGet && !isPost) {
      next();
      return;
    }
    noStore(res);
    checkHostRequest(req);
    const allowed = isGet ? ['GET', 'HEAD'] : ['POST'];
    if (!allowed.includes(req.method)) {
      res.setHeader('Allow', allowed.join(', '));
      sendError(
        res,
        new TwoFactorError('ERR_2FA_BAD_REQUEST', { status: 405, message: `Use ${allowed[0]}.` }),
        config.locale,
      );
      return;
    }
    const work = isGet
      ? handleGet(req, res, route)
      : sub === '/webhooks/smstools'
        ? handleWebhook(req, res, `${route.routes}/webhooks/smstools`)
        : handlePost(req, res, route);
    work.catch(next);
  } as TwoFactor;

  router.requireSecondFactor = createGuard(rt, mount, lifecycle.admit);
  router.webhook = function twoFactorWebhook(req: Request, res: Response, next: NextFunction): void {
    noStore(res);
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      sendError(
        res,
        new TwoFactorError('ERR_2FA_BAD_REQUEST', { status: 405, message: 'Use POST.' }),
        config.locale,
      );
      return;
    }
    handleWebhook(req, res, req.originalUrl.split('?')[0] ?? '').catch(next);
  };
  router.isVerified = (req) => isVerified(rt, req);
  router.clear = (res) => rt.cookies.clear(res);
  router.unlock = (userId) => resetFailures(rt, rt.keys.user(String(userId)));
  router.health = health.check;
  router.recovery = {
    generate: (userId) => generateForApp(rt, userId),
    count: (userId) => countRecoveryCodes(rt, userId),
  };
  router.devices = {
    list: (userId) => listDevices(rt, userId),
    revoke: (userId, id) => revokeDevice(rt, userId, id),
    revokeAll: (userId) => revokeAllDevices(rt, userId),
  };
  return router;
}
