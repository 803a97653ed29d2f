import { ofetch } from 'ofetch';
import { TwoFactorError } from '../errors.js';
import { gsmLength, MAX_SMS_LENGTH } from '../sms-length.js';
import { readBalance } from './smstools-balance.js';
import {
  parseSmstoolsOptions,
  SMSTOOLS_VOICE_LANGUAGES,
  type SmstoolsOptions,
  type SmstoolsVoiceLanguage,
} from './smstools-options.js';
import { parseDeliveryReport } from './smstools-webhook.js';
import type {
  DeliveryReport,
  ProviderStatus,
  SendResult,
  SmsMessage,
  SmsTransport,
  VoiceMessage,
  WebhookRequest,
} from './transport.js';

export type {
  SmstoolsOptions,
  SmstoolsVoiceGender,
  SmstoolsVoiceLanguage,
} from './smstools-options.js';
export { SMSTOOLS_VOICE_GENDERS, SMSTOOLS_VOICE_LANGUAGES } from './smstools-options.js';

export interface SmstoolsTransport extends SmsTransport {
  sendSms(msg: SmsMessage): Promise<SendResult>;
  sendVoice(msg: VoiceMessage): Promise<SendResult>;
  readonly language: string;
  readonly timeoutMs: number;
  /** Reads `GET /v1/balance`: reachability, credentials and the balance, for `tfa.health()`. */
  health(options?: { signal?: AbortSignal }): Promise<ProviderStatus>;
  /** Present only when `webhookSecret` is set. */
  parseDeliveryReport?: (req: WebhookRequest) => DeliveryReport | null;
}

export type SmstoolsErrorKind = 'http' | 'invalid-response' | 'timeout' | 'network' | 'invalid-request';

/**
 * Why a call to Smstools failed. Built from our own words only: it never holds the request, the
 * message text, the phone number, the credentials or the provider's `errorMsg` (which can name the number).
 */
export class SmstoolsError extends Error {
  readonly kind: SmstoolsErrorKind;
  /** The HTTP status, when Smstools answered. */
  readonly status: number | undefined;
  /** Smstools' numeric error code as a string, e.g. `'108'`. */
  readonly providerCode: string | undefined;
  /** True when a later, new attempt may succeed. The transport itself never retries a send. */
  readonly retryable: boolean;
  /**
   * True when Smstools refused this number rather than the account or the request (103, 106,
   * 131): a voice call may still reach it. Only then does `voice.auto` call instead.
   */
  readonly destinationRefused: boolean;

  constructor(
    kind: SmstoolsErrorKind,
    fields: { status?: number; providerCode?: string; retryable: boolean; detail: string },
  ) {
    const status = fields.status === undefined ? '' : ` (HTTP ${fields.status})`;
    const code = fields.providerCode === undefined ? '' : ` error ${fields.providerCode}`;
    const meaning = fields.providerCode === undefined ? '' : PROVIDER_CODES[fields.providerCode];
    super(`Smstools ${kind} failure${status}${code}: ${meaning ?? fields.detail}`);
    this.name = 'SmstoolsError';
    this.kind = kind;
    this.status = fields.status;
    this.providerCode = fields.providerCode;
    this.retryable = fields.retryable;
    this.destinationRefused =
      kind === 'http' && fields.providerCode !== undefined && DESTINATION_CODES.has(fields.providerCode);
  }
}

/** Smstools' documented error codes (handling_errors page), in our own words. */
const PROVIDER_CODES: Record<string, string> = {
  '102': 'no message provided',
  '103': 'phone number required or invalid',
  '104': 'invalid credentials: check clientId and clientSecret',
  '105': 'server trouble at Smstools, try again later',
  '106': 'destination number missing or invalid',
  '108': 'not enough balance: top up the Smstools account',
  '109': 'sender empty',
  '110': 'a sender number must start with +',
  '111': 'invalid sender: at most 11 characters or 14 digits',
  '112': 'message required',
  '114': 'empty request',
  '116': 'API access disabled after long inactivity',
  '118': 'message too long',
  '121': 'date invalid or in the past',
  '131': 'number is on the opt-out list',
  '200': 'calling IP address not allowed: check the IP allow-list',
  '1002': 'too many failed login attempts',
};

/** Codes about the number itself (invalid, unknown, opted out of SMS); every other code is the account's or the request's. */
const DESTINATION_CODES = new Set(['103', '106', '131']);
/** Codes that may clear up by themselves; everything else needs a change of account, number or config. */
const TRANSIENT_CODES = new Set(['105']);
/** Errors raised before a single byte reached the server: the only ones worth one more try. */
const PRE_SEND_ERROR_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);
/** Smstools' older and voice pages allow 75 characters; the newer SMS page 255. Keep to both. */
const MAX_REFERENCE_LENGTH = 75;
const E164 = /^\+[1-9]\d{7,14}$/;

/**
 * The Smstools transport: SMS through `POST /v1/message/send`, voice through `POST /v1/voice/send`.
 * It never retries once a request may have reached Smstools (there is no idempotency key).
 *
 * @example
 * const transport = smstools({
 *   clientId: process.env.SMSTOOLS_CLIENT_ID!,
 *   clientSecret: process.env.SMSTOOLS_CLIENT_SECRET!,
 *   sender: 'MyApp',
 *   webhookSecret: process.env.SMSTOOLS_WEBHOOK_SECRET,
 * });
 */
export function smstools(options: SmstoolsOptions): SmstoolsTransport {
  const config = parseSmstoolsOptions(options);
  // ofetch's `timeout` only covers the wait for the headers; each send also passes its own signal,
  // whose deadline covers connecting, a retried connection and reading the body.
  const client = ofetch.create(
    {
      baseURL: config.baseUrl,
      timeout: config.timeoutMs,
      retry: 0,
      // A redirect would carry X-Client-Secret (and the code) to wherever it points: treat it as a failure.
      redirect: 'manual',
      headers: {
        'X-Client-Id': config.clientId,
        'X-Client-Secret': config.clientSecret,
        Accept: 'application/json',
      },
    },
    config.fetch ? { fetch: config.fetch } : {},
  );

  async function post(path: string, body: Record<string, string | boolean>): Promise<SendResult> {
    if (config.test) body.test = true;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(timeoutReason()), config.timeoutMs);
    try {
      let response: { status: number; _data?: string } | undefined;
      for (let attempt = 1; response === undefined; attempt++) {
        try {
          response = await client.raw<string, 'text'>(path, {
            method: 'POST',
            body,
            signal: controller.signal,
            responseType: 'text',
            ignoreResponseError: true,
          });
        } catch (error) {
          // `error` is ofetch's FetchError: it holds the request options (body, headers). Keep none of it.
          const failure = classifyThrown(error, controller.signal.aborted);
          if (failure === 'pre-send' && attempt === 1 && !controller.signal.aborted) continue;
          throw sendFailed(
            failure === 'pre-send' ? networkError('connection failed before sending') : failure,
          );
        }
      }
      return readAnswer(response.status, response._data);
    } catch (error) {
      // Reading the body can also time out or break after the headers.
      if (error instanceof TwoFactorError) throw error;
      const failure = classifyThrown(error, controller.signal.aborted);
      throw sendFailed(failure === 'pre-send' ? networkError('connection failed') : failure);
    } finally {
      clearTimeout(timer);
    }
  }

  const transport: SmstoolsTransport = {
    language: config.language,
    timeoutMs: config.timeoutMs,
    async sendSms(msg) {
      const body: Record<string, string | boolean> = {
        message: checkSmsLength(checkText(msg.text)),
        to: toDigits(msg.to),
        sender: config.sender,
      };
      const reference = checkReference(msg.reference);
      if (reference !== undefined) body.reference = reference;
      return post('message/send', body);
    },
    async sendVoice(msg) {
      const body: Record<string, string | boolean> = {
        message: checkText(msg.text),
        to: toDigits(msg.to),
        sender: config.sender,
        language: voiceLanguage(msg.language, config.language),
        gender: config.gender,
      };
      const reference = checkReference(msg.reference);
      if (reference !== undefined) body.reference = reference;
      return post('voice/send', body);
    },
    health: (options) => readBalance(client, config.timeoutMs, options?.signal),
  };
  const { webhookSecret } = config;
  if (webhookSecret !== undefined) {
    transport.parseDeliveryReport = (req) =>
      parseDeliveryReport(req, webhookSecret, config.webhookToleranceMs);
  }
  return transport;
}

function sendFailed(cause: SmstoolsError): TwoFactorError {
  return new TwoFactorError('ERR_2FA_SEND_FAILED', { cause });
}

function timeoutReason(): Error {
  const reason = new Error('Smstools did not answer in time');
  reason.name = 'TimeoutError';
  return reason;
}

function networkError(detail: string): SmstoolsError {
  return new SmstoolsError('network', { retryable: true, detail });
}

/** Maps whatever fetch threw to a sanitized error, or `'pre-send'` when nothing can have been sent. */
function classifyThrown(error: unknown, timedOut: boolean): SmstoolsError | 'pre-send' {
  if (timedOut) {
    return new SmstoolsError('timeout', {
      retryable: true,
      detail: 'no complete answer before the deadline',
    });
  }
  const codes = errorCodes(error);
  if (codes.length > 0 && codes.every((code) => PRE_SEND_ERROR_CODES.has(code))) return 'pre-send';
  const known = codes.find((code) => /^[A-Z_]{3,40}$/.test(code));
  return networkError(known ? `connection error ${known}` : 'connection error');
}

/** The `code`s along undici's `cause` chain (and inside AggregateErrors), e.g. `['ECONNREFUSED']`. */
function errorCodes(error: unknown, depth = 0): string[] {
  if (typeof error !== 'object' || error === null || depth > 5) return [];
  const found: string[] = [];
  const { code, cause, errors } = error as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string') found.push(code);
  if (Array.isArray(errors)) for (const inner of errors) found.push(...errorCodes(inner, depth + 1));
  found.push(...errorCodes(cause, depth + 1));
  return found;
}

function readAnswer(status: number, text: string | undefined): SendResult {
  const json = parseJson(text);
  if (status < 200 || status > 299) {
    const providerCode = providerCodeOf(json);
    const retryable =
      status >= 500 || status === 429 || (providerCode !== undefined && TRANSIENT_CODES.has(providerCode));
    const detail = json === undefined ? 'the answer is not JSON' : 'Smstools refused the request';
    throw sendFailed(new SmstoolsError('http', { status, providerCode, retryable, detail }));
  }
  const id = messageIdOf(json);
  if (id === undefined) {
    const detail = json === undefined ? 'the answer is not JSON' : 'the answer has no messageid';
    throw sendFailed(new SmstoolsError('invalid-response', { status, retryable: false, detail }));
  }
  return { id };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined || text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `error` may be `"104"`, `104` or free text such as "error parsing json"; only numeric codes are kept. */
function providerCodeOf(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { error } = json as { error?: unknown };
  const code = typeof error === 'number' ? String(error) : typeof error === 'string' ? error.trim() : '';
  return /^\d{1,6}$/.test(code) ? code : undefined;
}

function messageIdOf(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { messageid, messageids } = json as { messageid?: unknown; messageids?: unknown };
  const id =
    typeof messageid === 'string' ? messageid : Array.isArray(messageids) ? messageids[0] : undefined;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** `+32470123401` → `'32470123401'`; anything else fails before the network is touched. */
function toDigits(to: unknown): string {
  if (typeof to !== 'string' || !E164.test(to)) {
    throw sendFailed(
      new SmstoolsError('invalid-request', {
        retryable: false,
        detail: 'the destination is not an E.164 number (+ and 8 to 15 digits)',
      }),
    );
  }
  return to.slice(1);
}

function checkText(text: unknown): string {
  if (typeof text !== 'string' || text === '')
    throw new TypeError('smstools: the message text must be a non-empty string');
  return text;
}

/** Smstools refuses longer texts with error 118; say so before the network is touched. */
function checkSmsLength(text: string): string {
  if (gsmLength(text).units <= MAX_SMS_LENGTH) return text;
  throw sendFailed(
    new SmstoolsError('invalid-request', {
      retryable: false,
      detail: `the SMS text is longer than the ${MAX_SMS_LENGTH} characters Smstools accepts`,
    }),
  );
}

function checkReference(reference: unknown): string | undefined {
  if (reference === undefined || reference === '') return undefined;
  if (typeof reference !== 'string' || reference.length > MAX_REFERENCE_LENGTH) {
    throw new TypeError(`smstools: reference must be a string of at most ${MAX_REFERENCE_LENGTH} characters`);
  }
  return reference;
}

/** `'nl-BE'` → `'nl'`; a language Smstools cannot speak falls back to the configured one. */
function voiceLanguage(
  requested: string | undefined,
  fallback: SmstoolsVoiceLanguage,
): SmstoolsVoiceLanguage {
  const primary = requested?.toLowerCase().split(/[-_]/)[0];
  return SMSTOOLS_VOICE_LANGUAGES.find((language) => language === primary) ?? fallback;
}
