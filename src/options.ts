import type { Request } from 'express';
import { isSupportedCountry } from 'libphonenumber-js';
import { defined, fn, integer, object, type Plain, path, rejectUnknownKeys } from './config-checks.js';
import * as C from './constants.js';
import { TwoFactorConfigError } from './errors.js';
import type { TwoFactorEvent } from './events.js';
import {
  type HealthConfig,
  type HealthOptions,
  type MetricsOptions,
  parseHealth,
  parseMetrics,
} from './health/options.js';
import { type EnrollConfig, type EnrollOptions, parseEnroll } from './lifecycle/enroll/options.js';
import {
  parseRecovery,
  parseRememberDevice,
  type RecoveryConfig,
  type RecoveryOptions,
  type RememberConfig,
  type RememberDeviceOptions,
} from './lifecycle/options.js';
import { LOCALES, type Locale, type MessageContext } from './messages.js';
import type { PageOptions } from './page/options.js';
import { parseLimits, parseVoice, type SendLimits, type VoiceConfig } from './send-options.js';
import { MEMORY_STORE, memoryStore } from './stores/memory-store.js';
import { STORE_METHODS, type Store } from './stores/store.js';
import type { SmsTransport } from './transports/transport.js';

/** Who passed the first factor, as the app's `getUser` reports it. */
export interface User {
  /** The user's id: a string or a number (`String(user._id)` for a MongoDB ObjectId). */
  id: string | number;
  /**
   * The number on file, in E.164 (`+32470123401`). Codes go nowhere else. `null` or absent when the
   * user has none: the challenge page then says so and nothing is sent.
   */
  phone?: string | null;
  /** Binds the verified state to the first-factor session (e.g. `req.sessionID`). */
  sessionId?: string;
  /** Bump it on a password or phone change to invalidate every verified state of the user. */
  version?: string | number;
}

/** A `getUser` result that passed the checks, its id as a string. */
export interface CheckedUser extends Omit<User, 'id'> {
  id: string;
}

/** What `beforeSend` is asked about: one SMS or call about to go out. */
export interface SendAttempt {
  userId: string;
  /** The full number in E.164: the app's own data, for a lookup (line type, SIM swap). Never log it. */
  phone: string;
  /** ISO 3166 alpha-2 of the destination. */
  country: string;
  channel: 'sms' | 'voice';
  /** The client's rate-limit key (IPv4, or the IPv6 /64); the challenge's client for a call a delivery report placed. */
  ip: string;
}

export interface Logger {
  warn(message: string): void;
  error(message: string): void;
}

export interface TwoFactorOptions {
  /** Signs cookies and keys code hashes. ≥ 32 characters; an array rotates (first signs, all verify). */
  secret: string | string[];
  /** The user who passed the first factor, or `null`. */
  getUser: (req: Request) => User | null | undefined | Promise<User | null | undefined>;
  /** Sends the codes: `smstools({...})`, or `memoryTransport()` in tests. */
  transport: SmsTransport;
  /** @default memoryStore() (per process: use `redisStore()` with several instances) */
  store?: Store;
  /**
   * Full URL path of the routes. Unset, they answer at `/2fa` below wherever tfa is mounted
   * (`/admin/2fa` for `router.use(tfa)` under `/admin`). @default '/2fa'
   */
  path?: string;
  /** Digits per code, 6..10. @default 6 */
  codeLength?: number;
  /** Code lifetime in ms, at most 600_000 (NIST SP 800-63B). @default 300_000 */
  codeTtlMs?: number;
  /** Wrong codes per challenge before it is dead, 1..10. @default 5 */
  maxAttempts?: number;
  /** Wait before a resend, in ms; doubles with every send of one challenge. @default 30_000 */
  resendCooldownMs?: number;
  /** SMS and voice sends per challenge. @default 5 */
  maxSendsPerChallenge?: number;
  /**
   * "Call me instead": unlocked `afterMs` after the SMS. `auto` calls by itself when Smstools
   * refuses the number for SMS, reports the SMS not delivered, or (with delivery reports) sends no
   * report within `noReportMs`; never when the provider or the account is failing.
   * @default { afterMs: 30_000, auto: true, noReportMs: 60_000 }
   */
  voice?: { afterMs?: number; auto?: boolean; noReportMs?: number | false } | false;
  /** Lifetime of the verified state in ms, at most 24 h. @default 43_200_000 (12 h) */
  verifiedTtlMs?: number;
  /** Account-level consecutive failures. @default { threshold: 5, baseMs: 60_000, hardLimit: 100 } */
  lockout?: { threshold?: number; baseMs?: number; hardLimit?: number };
  /**
   * Send budgets, each over any 60 minutes or 24 hours (sliding). `globalPerHour`/`globalPerDay`
   * cap the sends of the whole app (off unless set).
   * @default { phonePerHour: 5, phonePerDay: 10, ipPerHour: 20, prefixPerHour: 10 }
   */
  limits?: {
    phonePerHour?: number;
    phonePerDay?: number;
    ipPerHour?: number;
    prefixPerHour?: number;
    globalPerHour?: number;
    globalPerDay?: number;
  };
  /** ISO 3166 alpha-2 countries codes may go to. Required unless `allowAllCountries: true`. */
  allowedCountries?: string[];
  /** The explicit opt-out of the country allow-list. @default false */
  allowAllCountries?: boolean;
  /** Named in the default texts. @default 'your account' (translated) */
  appName?: string;
  /** When set, the SMS ends with the WebOTP line `@domain #code`. */
  webOtpDomain?: string;
  /** Custom SMS and voice texts. */
  messages?: { sms?: (ctx: MessageContext) => string; voice?: (ctx: MessageContext) => string };
  /** Language of the default texts and the voice. @default the transport's language, else 'en' */
  locale?: Locale;
  /**
   * Cookie settings. `secure: 'auto'` makes the cookies Secure (with the `__Host-` prefix when no
   * `domain` is set) on requests Express sees as HTTPS (`req.secure`, which follows `trust proxy`)
   * and plain on HTTP. @default { name: '2fa', secure: 'auto', sameSite: 'lax' }, always httpOnly
   */
  cookie?: { name?: string; secure?: boolean | 'auto'; sameSite?: 'lax' | 'strict'; domain?: string };
  /** Where the guard sends browsers that have no first factor (else 401). */
  loginPath?: string;
  /** Monitoring hook; events carry a masked number, never the code. */
  onEvent?: (event: TwoFactorEvent) => void;
  /**
   * Called before every SMS or call, after the budgets: return `false` to refuse the send (e.g. a
   * VoIP number, a recent SIM swap), with 422 `ERR_2FA_DESTINATION_BLOCKED` and no provider call.
   * Anything but `true` or `false`, a throw, or no answer within 5 s refuses it with 503.
   */
  beforeSend?: (send: SendAttempt) => boolean | Promise<boolean>;
  /** The clock for every time decision. @default Date.now */
  now?: () => number;
  /** A store call slower than this fails closed with 503. @default 2000 */
  storeTimeoutMs?: number;
  /** Where warnings and provider errors go. @default process.emitWarning / console.error */
  logger?: Logger;
  /** Opt out of startup warnings: the memory store in production, an SMS text of several billed parts. */
  warnings?: { memoryStore?: boolean; smsLength?: boolean };
  /** Texts, title and look of the challenge page. */
  page?: PageOptions;
  /** OpenTelemetry metrics. @default the global meter provider (a no-op until the app registers one) */
  metrics?: MetricsOptions;
  /** `tfa.health()` timeouts and the low-balance warning. @default { timeoutMs: 1_000 } */
  health?: HealthOptions;
  /** Enrollment and phone change: `GET /2fa/enroll`, `POST /2fa/enroll/send`, `/2fa/enroll/verify`. Off unless set. */
  enroll?: EnrollOptions;
  /** Recovery codes, kept by the app (`load`, `save`): a way in when the phone is lost. Off unless set. */
  recovery?: RecoveryOptions;
  /** The page's "Don't ask again on this device" box. @default false */
  rememberDevice?: RememberDeviceOptions | false;
}

/** The fully resolved options: every default applied, every value checked. */
export interface Config {
  secrets: string[];
  getUser: TwoFactorOptions['getUser'];
  transport: SmsTransport;
  store: Store;
  usesMemoryStore: boolean;
  path: string;
  /** No `path` option: the routes answer at `path` below wherever tfa is mounted. */
  pathFollowsMount: boolean;
  codeLength: number;
  codeTtlMs: number;
  maxAttempts: number;
  resendCooldownMs: number;
  maxSendsPerChallenge: number;
  voice: VoiceConfig | false;
  verifiedTtlMs: number;
  lockout: { threshold: number; baseMs: number; hardLimit: number };
  limits: SendLimits;
  allowedCountries: Set<string> | 'all';
  appName: string | undefined;
  webOtpDomain: string | undefined;
  messages: NonNullable<TwoFactorOptions['messages']>;
  locale: Locale;
  cookie: { name: string; secure: boolean | 'auto'; sameSite: 'lax' | 'strict'; domain: string | undefined };
  loginPath: string | undefined;
  onEvent: TwoFactorOptions['onEvent'];
  beforeSend: TwoFactorOptions['beforeSend'];
  now: () => number;
  storeTimeoutMs: number;
  logger: Logger;
  warnings: { memoryStore: boolean; smsLength: boolean };
  page: PageOptions;
  metrics: MetricsOptions;
  health: HealthConfig;
  enroll: EnrollConfig | undefined;
  recovery: RecoveryConfig | undefined;
  rememberDevice: RememberConfig | false;
}

const OPTION_KEYS = [
  'secret',
  'getUser',
  'transport',
  'store',
  'path',
  'codeLength',
  'codeTtlMs',
  'maxAttempts',
  'resendCooldownMs',
  'maxSendsPerChallenge',
  'voice',
  'verifiedTtlMs',
  'lockout',
  'limits',
  'allowedCountries',
  'allowAllCountries',
  'appName',
  'webOtpDomain',
  'messages',
  'locale',
  'cookie',
  'loginPath',
  'onEvent',
  'beforeSend',
  'now',
  'storeTimeoutMs',
  'logger',
  'warnings',
  'page',
  'metrics',
  'health',
  'enroll',
  'recovery',
  'rememberDevice',
] as const satisfies readonly (keyof TwoFactorOptions)[];

export const DEFAULTS = {
  path: '/2fa',
  codeLength: C.DEFAULT_CODE_LENGTH,
  codeTtlMs: C.DEFAULT_CODE_TTL_MS,
  maxAttempts: C.DEFAULT_MAX_ATTEMPTS,
  resendCooldownMs: C.DEFAULT_RESEND_COOLDOWN_MS,
  maxSendsPerChallenge: C.DEFAULT_MAX_SENDS_PER_CHALLENGE,
  voice: { afterMs: C.DEFAULT_VOICE_AFTER_MS, auto: true, noReportMs: C.DEFAULT_NO_REPORT_MS },
  verifiedTtlMs: C.DEFAULT_VERIFIED_TTL_MS,
  lockout: {
    threshold: C.DEFAULT_LOCKOUT_THRESHOLD,
    baseMs: C.DEFAULT_LOCKOUT_BASE_MS,
    hardLimit: C.DEFAULT_LOCKOUT_HARD_LIMIT,
  },
  limits: C.DEFAULT_LIMITS,
  allowAllCountries: false,
  cookieName: '2fa',
  cookieSecure: 'auto',
  sameSite: 'lax',
  storeTimeoutMs: C.DEFAULT_STORE_TIMEOUT_MS,
} as const;

const MIN_SECRET_LENGTH = 32;
const WEB_OTP_DOMAIN =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?$/i;
const COOKIE_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what must be refused
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

const defaultLogger: Logger = {
  warn: (message) => process.emitWarning(message, { type: 'ExpressSms2faWarning' }),
  error: (message) => console.error(message),
};

function parseSecrets(value: unknown): string[] {
  const fix = `generate one with \`node -e "console.log(require('crypto').randomBytes(32).toString('base64url'))"\``;
  const secrets = Array.isArray(value) ? value : [value];
  if (value === undefined || secrets.length === 0)
    throw new TwoFactorConfigError('secret', `is required: ${fix}`);
  for (const s of secrets) {
    if (typeof s !== 'string' || s.length < MIN_SECRET_LENGTH) {
      throw new TwoFactorConfigError(
        'secret',
        `must be a string of at least ${MIN_SECRET_LENGTH} characters: ${fix}`,
      );
    }
  }
  return secrets as string[];
}

function parseStore(value: unknown, now: () => number): Store {
  // Per-IP send counters may go when the store is full; lockouts, challenges and other budgets stay.
  if (value === undefined) return memoryStore({ now });
  const missing = STORE_METHODS.filter((m) => typeof (value as Plain | null)?.[m] !== 'function');
  if (missing.length > 0) {
    throw new TwoFactorConfigError(
      'store',
      `lacks ${missing.join(', ')}: use memoryStore(), redisStore() or a Store`,
    );
  }
  return value as Store;
}

function parseCountries(options: Plain): Set<string> | 'all' {
  const all = options.allowAllCountries ?? DEFAULTS.allowAllCountries;
  if (typeof all !== 'boolean') throw new TwoFactorConfigError('allowAllCountries', 'must be a boolean');
  const list = options.allowedCountries;
  if (all) {
    if (list !== undefined) {
      throw new TwoFactorConfigError('allowedCountries', 'cannot be combined with `allowAllCountries: true`');
    }
    return 'all';
  }
  if (!Array.isArray(list) || list.length === 0) {
    throw new TwoFactorConfigError(
      'allowedCountries',
      "is required (SMS pumping defence): list the countries you serve, e.g. ['BE', 'NL'], or set `allowAllCountries: true`",
    );
  }
  for (const c of list) {
    if (typeof c !== 'string' || !/^[A-Z]{2}$/.test(c) || !isSupportedCountry(c)) {
      throw new TwoFactorConfigError(
        'allowedCountries',
        `has ${JSON.stringify(c)}: use ISO 3166 alpha-2 codes like 'BE'`,
      );
    }
  }
  return new Set(list as string[]);
}

function parseLockout(value: unknown): Config['lockout'] {
  const lockout = object('lockout', value, ['threshold', 'baseMs', 'hardLimit']);
  const threshold = integer('lockout.threshold', lockout.threshold, DEFAULTS.lockout.threshold, 1, 50);
  const hardLimit = integer(
    'lockout.hardLimit',
    lockout.hardLimit,
    Math.max(DEFAULTS.lockout.hardLimit, threshold),
    threshold,
    C.MAX_LOCKOUT_HARD_LIMIT,
  );
  return {
    threshold,
    baseMs: integer('lockout.baseMs', lockout.baseMs, DEFAULTS.lockout.baseMs, 0, C.HOUR),
    hardLimit,
  };
}

function parseCookie(value: unknown): Config['cookie'] {
  const cookie = object('cookie', value, ['name', 'secure', 'sameSite', 'domain']);
  const name = cookie.name ?? DEFAULTS.cookieName;
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) {
    throw new TwoFactorConfigError('cookie.name', 'must be a cookie token (letters, digits, `-`, `_`)');
  }
  const secure = cookie.secure ?? DEFAULTS.cookieSecure;
  if (typeof secure !== 'boolean' && secure !== 'auto') {
    throw new TwoFactorConfigError(
      'cookie.secure',
      "must be 'auto' (Secure over HTTPS as Express sees it, the default), true or false",
    );
  }
  const sameSite = cookie.sameSite ?? DEFAULTS.sameSite;
  if (sameSite !== 'lax' && sameSite !== 'strict') {
    throw new TwoFactorConfigError('cookie.sameSite', "must be 'lax' or 'strict'");
  }
  const domain = cookieDomain(cookie.domain);
  return { name, secure, sameSite, domain };
}

/** The `cookie` package's own domain rule: what passes here never makes `res.cookie()` throw mid-send. */
const COOKIE_DOMAIN = /^\.?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function cookieDomain(domain: unknown): string | undefined {
  if (domain === undefined) return undefined;
  if (typeof domain !== 'string' || !COOKIE_DOMAIN.test(domain)) {
    throw new TwoFactorConfigError(
      'cookie.domain',
      "must be a host name such as 'example.com' (letters, digits, dashes and dots), or left out for a host-only cookie",
    );
  }
  return domain;
}

/** `page.signOut`: a path on this site (the page's CSP allows forms to post only there). */
function parseSignOut(value: unknown): PageOptions['signOut'] {
  if (value === undefined) return undefined;
  const { action, method = 'post', label } = object('page.signOut', value, ['action', 'method', 'label']);
  if (
    typeof action !== 'string' ||
    !action.startsWith('/') ||
    /^\/[/\\]/.test(action) ||
    CONTROL_CHARACTER.test(action)
  ) {
    throw new TwoFactorConfigError('page.signOut.action', "must be a path on this site, e.g. '/logout'");
  }
  if (method !== 'post' && method !== 'get') {
    throw new TwoFactorConfigError('page.signOut.method', "must be 'post' or 'get'");
  }
  if (label !== undefined && (typeof label !== 'string' || label.trim() === '')) {
    throw new TwoFactorConfigError('page.signOut.label', "must be a non-empty text, e.g. 'Sign out'");
  }
  return { action, method, ...(label === undefined ? {} : { label: label as string }) };
}

function parsePage(value: unknown): PageOptions {
  const raw = object('page', value, ['title', 'texts', 'css', 'render', 'alternative', 'signOut']);
  const signOut = parseSignOut(raw.signOut);
  const page = (signOut ? { ...raw, signOut } : raw) as PageOptions;
  if (page.alternative === undefined) return page;
  const { href, text } = object('page.alternative', page.alternative, ['href', 'text']);
  const fix = "must be { href: '/login/passkey' or 'https://…', text: 'Use a passkey instead' }";
  // Browsers drop tab, CR and LF from URLs ('/\t/evil.example' becomes '//evil.example'): none may appear.
  const clean = typeof href === 'string' && !CONTROL_CHARACTER.test(href);
  const sitePath = clean && href.startsWith('/') && !/^\/[/\\]/.test(href);
  const httpsUrl = clean && URL.canParse(href) && new URL(href).protocol === 'https:';
  if (!(sitePath || httpsUrl)) throw new TwoFactorConfigError('page.alternative.href', fix);
  if (typeof text !== 'string' || text.trim() === '')
    throw new TwoFactorConfigError('page.alternative.text', fix);
  return { ...page, alternative: { href: href as string, text } };
}

function parseLocale(value: unknown, transport: SmsTransport): Locale {
  const locale = value ?? (LOCALES.includes(transport.language as Locale) ? transport.language : 'en');
  if (!LOCALES.includes(locale as Locale)) {
    throw new TwoFactorConfigError('locale', `must be one of ${LOCALES.join(', ')}`);
  }
  return locale as Locale;
}

function optionalString(name: string, value: unknown, test: (s: string) => boolean, fix: string) {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !test(value)) throw new TwoFactorConfigError(name, fix);
  return value;
}

/** The routes need a path of their own: `/` would shadow the whole app. */
function routesPath(value: unknown): string {
  const parsed = path('path', value);
  if (parsed === '/')
    throw new TwoFactorConfigError('path', "must not be '/': the routes need their own path, e.g. '/2fa'");
  return parsed;
}

/** Looks like Express called us: `app.use(twoFactor)` instead of `app.use(twoFactor({...}))`. */
function looksLikeRequest(value: unknown): boolean {
  const v = value as Plain | null;
  return typeof v === 'object' && v !== null && 'headers' in v && 'method' in v && 'url' in v;
}

/** Resolves and checks every option once, at construction. */
export function parseOptions(input: unknown): Config {
  if (looksLikeRequest(input)) {
    throw new TwoFactorConfigError(
      'options',
      'looks like an HTTP request: write `app.use(twoFactor({ ... }))`, not `app.use(twoFactor)`',
    );
  }
  if (typeof input !== 'object' || input === null) {
    throw new TwoFactorConfigError(
      'options',
      'must be an object: twoFactor({ secret, getUser, transport, ... })',
    );
  }
  const options = defined(input);
  rejectUnknownKeys(options, OPTION_KEYS, '');

  const now =
    options.now === undefined ? Date.now : fn<() => number>('now', options.now, '() => number (ms)');
  const transport = options.transport as SmsTransport | undefined;
  if (typeof transport?.sendSms !== 'function') {
    throw new TwoFactorConfigError(
      'transport',
      'is required: smstools({ clientId, clientSecret, sender }) or memoryTransport()',
    );
  }
  const store = parseStore(options.store, now);
  const messages = object('messages', options.messages, ['sms', 'voice']);
  for (const [k, v] of Object.entries(messages)) fn(`messages.${k}`, v, '(ctx) => string');
  const warnings = object('warnings', options.warnings, ['memoryStore', 'smsLength']);
  const logger = options.logger === undefined ? defaultLogger : (options.logger as Logger);
  if (typeof logger?.warn !== 'function' || typeof logger.error !== 'function') {
    throw new TwoFactorConfigError('logger', 'must have warn(message) and error(message) functions');
  }

  return {
    secrets: parseSecrets(options.secret),
    getUser: fn('getUser', options.getUser, '(req) => ({ id, phone, sessionId }) or null'),
    transport,
    store,
    usesMemoryStore: MEMORY_STORE in store,
    path: options.path === undefined ? DEFAULTS.path : routesPath(options.path),
    pathFollowsMount: options.path === undefined,
    codeLength: integer(
      'codeLength',
      options.codeLength,
      DEFAULTS.codeLength,
      C.MIN_CODE_LENGTH,
      C.MAX_CODE_LENGTH,
    ),
    codeTtlMs: integer('codeTtlMs', options.codeTtlMs, DEFAULTS.codeTtlMs, 10 * C.SECOND, C.MAX_CODE_TTL_MS),
    maxAttempts: integer('maxAttempts', options.maxAttempts, DEFAULTS.maxAttempts, 1, C.MAX_MAX_ATTEMPTS),
    resendCooldownMs: integer(
      'resendCooldownMs',
      options.resendCooldownMs,
      DEFAULTS.resendCooldownMs,
      C.SECOND,
      C.HOUR,
    ),
    maxSendsPerChallenge: integer(
      'maxSendsPerChallenge',
      options.maxSendsPerChallenge,
      DEFAULTS.maxSendsPerChallenge,
      1,
      20,
    ),
    voice: parseVoice(options.voice),
    verifiedTtlMs: integer('verifiedTtlMs', options.verifiedTtlMs, DEFAULTS.verifiedTtlMs, C.MINUTE, C.DAY),
    lockout: parseLockout(options.lockout),
    limits: parseLimits(options.limits),
    allowedCountries: parseCountries(options),
    appName: optionalString(
      'appName',
      options.appName,
      (s) => s.length > 0 && s.length <= 40,
      'must be 1 to 40 characters',
    ),
    webOtpDomain: optionalString(
      'webOtpDomain',
      options.webOtpDomain,
      (s) => WEB_OTP_DOMAIN.test(s),
      'must be a host name like `example.com`, without a scheme',
    ),
    messages: messages as Config['messages'],
    locale: parseLocale(options.locale, transport),
    cookie: parseCookie(options.cookie),
    loginPath: options.loginPath === undefined ? undefined : path('loginPath', options.loginPath),
    onEvent: options.onEvent === undefined ? undefined : fn('onEvent', options.onEvent, '(event) => void'),
    beforeSend:
      options.beforeSend === undefined
        ? undefined
        : fn('beforeSend', options.beforeSend, '({ userId, phone, country, channel, ip }) => boolean'),
    now,
    storeTimeoutMs: integer(
      'storeTimeoutMs',
      options.storeTimeoutMs,
      DEFAULTS.storeTimeoutMs,
      10,
      60 * C.SECOND,
    ),
    logger,
    warnings: { memoryStore: warnings.memoryStore !== false, smsLength: warnings.smsLength !== false },
    page: parsePage(options.page),
    metrics: parseMetrics(options.metrics),
    health: parseHealth(options.health),
    enroll: parseEnroll(options.enroll),
    recovery: parseRecovery(options.recovery),
    rememberDevice: parseRememberDevice(options.rememberDevice),
  };
}
