import { didYouMean } from '../config-checks.js';
import {
  DEFAULT_WEBHOOK_TOLERANCE_MS,
  MAX_WEBHOOK_TOLERANCE_MS,
  SECOND,
  TRANSPORT_TIMEOUT_MS,
} from '../constants.js';
import { TwoFactorConfigError } from '../errors.js';

/** The text-to-speech languages and voices Smstools offers (official n8n node). */
export const SMSTOOLS_VOICE_LANGUAGES = ['en', 'nl', 'fr', 'de'] as const;
export const SMSTOOLS_VOICE_GENDERS = ['Female', 'Male'] as const;
export type SmstoolsVoiceLanguage = (typeof SMSTOOLS_VOICE_LANGUAGES)[number];
export type SmstoolsVoiceGender = (typeof SMSTOOLS_VOICE_GENDERS)[number];

export interface SmstoolsOptions {
  /** API client id, from the Smstools dashboard: Advanced → API authentication. */
  clientId: string;
  /** API client secret, next to the client id. Keep it out of source control. */
  clientSecret: string;
  /** A name of at most 11 letters, digits and spaces (at least one letter), or a number of at most 14 characters starting with `+`. */
  sender: string;
  /**
   * API base, `/v1` included. Smstools' newer SDKs use `https://api.smstools.com/v1`.
   * @default 'https://api.smsgatewayapi.com/v1'
   */
  baseUrl?: string;
  /** Deadline for one send, connecting and reading the answer included, in ms (at most 15 000). @default 10_000 */
  timeoutMs?: number;
  /** Text-to-speech defaults for `sendVoice`. @default { language: 'en', gender: 'Female' } */
  voice?: { language?: SmstoolsVoiceLanguage; gender?: SmstoolsVoiceGender };
  /** The secret Smstools shows for your `delivery_report` webhook; enables `parseDeliveryReport`. */
  webhookSecret?: string;
  /** Accepted clock skew of a delivery report's signed timestamp, in ms (at most 15 minutes). @default 300_000 */
  webhookToleranceMs?: number;
  /**
   * Smstools' test mode: every send is checked as usual but nothing is sent or charged, and no
   * delivery report follows. For staging and load tests. @default false
   */
  test?: boolean;
  /** A fetch implementation (ofetch's `CreateFetchOptions.fetch`). @default globalThis.fetch */
  fetch?: typeof globalThis.fetch;
}

const DEFAULT_BASE_URL = 'https://api.smsgatewayapi.com/v1';
const DEFAULT_TIMEOUT_MS = 10 * SECOND;
/**
 * The official SDK's 15 s. A send must end before the core gives up on the transport call (20 s),
 * or the user could be told "failed" for a code that arrives.
 */
const MAX_TIMEOUT_MS = Math.min(15 * SECOND, TRANSPORT_TIMEOUT_MS);
const KNOWN_OPTIONS = [
  'clientId',
  'clientSecret',
  'sender',
  'baseUrl',
  'timeoutMs',
  'voice',
  'webhookSecret',
  'webhookToleranceMs',
  'test',
  'fetch',
];

export interface SmstoolsConfig {
  clientId: string;
  clientSecret: string;
  sender: string;
  baseUrl: string;
  timeoutMs: number;
  language: SmstoolsVoiceLanguage;
  gender: SmstoolsVoiceGender;
  webhookSecret: string | undefined;
  webhookToleranceMs: number;
  test: boolean;
  fetch: typeof globalThis.fetch | undefined;
}

const fail = (option: string, problem: string) => new TwoFactorConfigError(option, problem);
const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Validates `smstools()` options; every problem throws a TwoFactorConfigError naming the option. */
export function parseSmstoolsOptions(options: SmstoolsOptions): SmstoolsConfig {
  if (!isObject(options)) {
    throw fail('smstools', 'needs an options object: smstools({ clientId, clientSecret, sender })');
  }
  for (const key of Object.keys(options)) {
    if (KNOWN_OPTIONS.includes(key)) continue;
    const guess = didYouMean(key, KNOWN_OPTIONS);
    throw fail(key, `is not a smstools() option${guess ? `; did you mean \`${guess}\`?` : ''}`);
  }
  const credential = (name: 'clientId' | 'clientSecret'): string => {
    const value = options[name];
    const where = 'copy it from the Smstools dashboard, Advanced → API authentication';
    if (typeof value !== 'string' || value === '') throw fail(name, `must be a non-empty string: ${where}`);
    if (value.trim() !== value) throw fail(name, `has leading or trailing whitespace: ${where}`);
    return value;
  };
  const clientId = credential('clientId');
  const clientSecret = credential('clientSecret');

  const sender = parseSender(options.sender);

  const baseUrl = options.baseUrl ?? DEFAULT_BASE_URL;
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {}
  if (
    !url ||
    !['http:', 'https:'].includes(url.protocol) ||
    url.username ||
    url.password ||
    url.search ||
    url.hash
  ) {
    throw fail('baseUrl', `must be an http(s) URL without credentials or query, e.g. '${DEFAULT_BASE_URL}'`);
  }

  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw fail(
      'timeoutMs',
      `must be a positive integer of at most ${MAX_TIMEOUT_MS} ms, so a send ends before the core gives up on it`,
    );
  }

  const voice = options.voice ?? {};
  if (!isObject(voice)) throw fail('voice', "must be an object such as { language: 'nl', gender: 'Male' }");
  for (const key of Object.keys(voice)) {
    if (key !== 'language' && key !== 'gender') {
      throw fail(`voice.${key}`, 'is not a voice option; use `language` or `gender`');
    }
  }
  const language = voice.language ?? 'en';
  if (!SMSTOOLS_VOICE_LANGUAGES.includes(language)) {
    throw fail('voice.language', `must be one of ${SMSTOOLS_VOICE_LANGUAGES.join(', ')}`);
  }
  const gender = voice.gender ?? 'Female';
  if (!SMSTOOLS_VOICE_GENDERS.includes(gender)) {
    throw fail('voice.gender', `must be 'Female' or 'Male' (capitalised)`);
  }

  const { webhookSecret } = options;
  if (webhookSecret !== undefined && (typeof webhookSecret !== 'string' || webhookSecret === '')) {
    throw fail('webhookSecret', 'must be a non-empty string: the secret Smstools shows for your webhook');
  }
  const webhookToleranceMs = options.webhookToleranceMs ?? DEFAULT_WEBHOOK_TOLERANCE_MS;
  if (options.webhookToleranceMs !== undefined && webhookSecret === undefined) {
    throw fail('webhookToleranceMs', 'has no effect without `webhookSecret`; set both or neither');
  }
  if (!Number.isInteger(webhookToleranceMs) || webhookToleranceMs <= 0) {
    throw fail('webhookToleranceMs', 'must be a positive integer number of milliseconds');
  }
  if (webhookToleranceMs > MAX_WEBHOOK_TOLERANCE_MS) {
    throw fail(
      'webhookToleranceMs',
      `must be at most ${MAX_WEBHOOK_TOLERANCE_MS} ms: a longer window eases replays`,
    );
  }

  const test = options.test ?? false;
  if (typeof test !== 'boolean') {
    throw fail(
      'test',
      'must be true or false: true has Smstools check every send but send and charge nothing',
    );
  }

  if (options.fetch !== undefined && typeof options.fetch !== 'function') {
    throw fail('fetch', 'must be a fetch-compatible function');
  }
  return {
    clientId,
    clientSecret,
    sender,
    baseUrl,
    timeoutMs,
    language,
    gender,
    webhookSecret,
    webhookToleranceMs,
    test,
    fetch: options.fetch,
  };
}

/**
 * Smstools' sender rules (send_message page, error codes 110 and 111): a name of at most 11 letters,
 * digits and spaces, or a number of at most 14 characters that starts with `+`. Digits alone are a
 * number to Smstools: without the `+` every SMS and every call fails with error 110.
 */
function parseSender(sender: unknown): string {
  if (typeof sender === 'string' && /^\d+$/.test(sender)) {
    throw fail(
      'sender',
      "is a number without a leading +, which Smstools refuses on every send (error 110): write it in international form with the +, e.g. '+32470123456'",
    );
  }
  const isName = typeof sender === 'string' && /^[A-Za-z0-9 ]{1,11}$/.test(sender) && /[A-Za-z]/.test(sender);
  const isNumber = typeof sender === 'string' && /^\+\d{1,13}$/.test(sender);
  if (!isName && !isNumber) {
    throw fail(
      'sender',
      "must be a name of at most 11 letters, digits and spaces with at least one letter (e.g. 'MyApp'), " +
        "or a number of at most 14 characters starting with + (e.g. '+32470123456')",
    );
  }
  return sender as string;
}
