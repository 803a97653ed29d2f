// Validation and payload rules of the fake Smstools server, kept apart from the HTTP plumbing.
// Every rule follows docs/reference "Smstools HTTP API" §6 and the fidelity check of §8. Where the
// official pages are silent the fake says so ("undocumented") and picks the strict behaviour, so
// that an app passing its tests here does not depend on a leniency the real API may not have;
// plain guesses are marked "guess".
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FakeDeliveryStatus, FakeSmstoolsFailure, FakeSmstoolsMessage } from './fake-smstools-types.js';

/** A refusal as Smstools words it: `{ error: "<code>", errorMsg }`, or free text without errorMsg. */
export interface FakeApiError {
  /** A string such as `"104"` (what the docs show); a number only when a failure forces one. */
  error: string | number;
  errorMsg?: string;
}

/** The error texts the fake answers with (paraphrasing Smstools' handling_errors page). */
export const FAKE_ERROR_MESSAGES: Record<string, string> = {
  '104': 'Invalid credentials',
  '105': 'Something went wrong on our side, please try again later',
  '106': 'Destination number is missing or invalid',
  '108': 'Not enough credits to send this message',
  '109': 'Sender name cannot be empty',
  '110': 'A sender number must start with +',
  '111': 'Invalid sender: use max 11 characters or 14 digits',
  '112': 'Message is required',
  '114': 'Empty request',
  '118': 'Message is too long',
  '121': 'Date is invalid or in the past',
  '131': 'This number is on the opt-out list',
  '135': 'Limit must be between 1 and 2000',
  '136': 'Page must be greater than 0',
  '200': 'Your IP address is not allowed',
  '1002': 'Too many failed login attempts',
};

export const apiError = (code: string, errorMsg = FAKE_ERROR_MESSAGES[code]): FakeApiError =>
  errorMsg === undefined ? { error: code } : { error: code, errorMsg };

/** The real 106 text names the number; the fake does too, so leaks of `errorMsg` show up in tests. */
const badNumber = (raw: unknown): FakeApiError =>
  apiError('106', typeof raw === 'string' ? `Destination number ${raw} is invalid` : undefined);

/** The nine GSM 03.38 extension characters, which take two septets. */
const GSM_EXTENSION = new Set(['€', '\\', '}', '[', '^', '~', ']', '{', '|']);

/** Length as Smstools counts it: extension characters count 2, everything else 1 per code point (guess). */
export function gsmLength(text: string): number {
  let length = 0;
  for (const char of text) length += GSM_EXTENSION.has(char) ? 2 : 1;
  return length;
}

/** Parts a GSM-7 text takes: 160 characters in one part, 153 per part beyond. */
export const smsParts = (length: number): number => (length <= 160 ? 1 : Math.ceil(length / 153));

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** 30 lowercase `[a-z0-9]` characters, like the ids recorded from the live API. */
export function fakeMessageId(): string {
  let id = '';
  for (const byte of randomBytes(30)) id += ID_ALPHABET[byte % ID_ALPHABET.length];
  return id;
}

/** Digits only for a stored number: `+32470…` → `32470…`. Numbers in sets may be given either way. */
export const digitsOf = (phone: string): string => phone.replace(/\D/g, '');

export interface SendRules {
  channel: 'sms' | 'voice';
  maxLength: number;
  requirePlusOnNumericSender: boolean;
  acceptDoubleZero: boolean;
  optOuts: ReadonlySet<string>;
  failSmsTo: ReadonlySet<string>;
  now: number;
}

export interface ValidSend {
  to: string[];
  toWasArray: boolean;
  message: string;
  sender: string | undefined;
  date: string | undefined;
  reference: string | undefined;
  language: string | undefined;
  gender: string | undefined;
  test: boolean;
}

const inSet = (set: ReadonlySet<string>, digits: string) => set.has(digits) || set.has(`+${digits}`);

/** `+3247…` or `3247…` (and `003247…` only when allowed) → digits; anything else → undefined. */
function parseNumber(raw: unknown, acceptDoubleZero: boolean): string | undefined {
  if (typeof raw !== 'string') return undefined;
  let digits = raw.startsWith('+') ? raw.slice(1) : raw;
  if (digits.startsWith('00')) {
    if (!acceptDoubleZero) return undefined;
    digits = digits.slice(2);
  }
  return /^[1-9]\d{7,14}$/.test(digits) ? digits : undefined;
}

/**
 * Runs the §6 checks, up to the opt-out list; the caller checks the balance. The order of the
 * checks is undocumented (a request with two faults may get another code from the real API).
 */
export function validateSend(body: Record<string, unknown>, rules: SendRules): ValidSend | FakeApiError {
  if (Object.keys(body).length === 0) return apiError('114');
  const { message, to, sender, date, reference, language, gender } = body;
  // Undocumented which of 102 ("no message provided") and 112 ("message required") comes back.
  if (typeof message !== 'string' || message === '') return apiError('112');

  // Undocumented which of 103 ("phone number required or invalid") and 106 comes back; 106 names the number.
  const rawNumbers = Array.isArray(to) ? to : [to];
  if (to === undefined || to === '' || rawNumbers.length === 0) return apiError('106');
  const numbers: string[] = [];
  for (const raw of rawNumbers) {
    const digits = parseNumber(raw, rules.acceptDoubleZero);
    if (digits === undefined) return badNumber(raw);
    if (rules.channel === 'sms' && inSet(rules.failSmsTo, digits)) return badNumber(raw);
    numbers.push(digits);
  }

  // The voice page marks sender required, the official SDK and n8n node send none: undocumented
  // which is right, so the fake takes a call without one (the package always sends it anyway).
  const hasSender = sender !== undefined && sender !== '';
  if (!hasSender && rules.channel === 'sms') return apiError('109');
  if (hasSender) {
    const problem = senderProblem(sender, rules.requirePlusOnNumericSender);
    if (problem) return problem;
  }

  if (rules.channel === 'voice') {
    // guess: the real answer to an unknown language or gender is undocumented.
    if (language !== undefined && !['en', 'nl', 'fr', 'de'].includes(language as string)) {
      return { error: 'invalid language' };
    }
    if (gender !== undefined && gender !== 'Female' && gender !== 'Male') return { error: 'invalid gender' };
  } else if (gsmLength(message) > rules.maxLength) {
    return apiError('118');
  }

  if (date !== undefined && date !== '' && !isFutureDate(date, rules.now)) return apiError('121');
  for (const digits of numbers) if (inSet(rules.optOuts, digits)) return apiError('131');

  return {
    to: numbers,
    toWasArray: Array.isArray(to),
    message,
    sender: hasSender ? (sender as string) : undefined,
    date: typeof date === 'string' && date !== '' ? date : undefined,
    reference: typeof reference === 'string' ? reference : undefined,
    language: rules.channel === 'voice' ? ((language as string | undefined) ?? 'en') : undefined,
    gender: rules.channel === 'voice' ? ((gender as string | undefined) ?? 'Female') : undefined,
    test: body.test === true || body.test === 'true',
  };
}

function senderProblem(sender: unknown, requirePlus: boolean): FakeApiError | undefined {
  if (typeof sender !== 'string') return apiError('111');
  if (/^\+?\d+$/.test(sender)) {
    if (sender.length > 14) return apiError('111');
    if (requirePlus && !sender.startsWith('+')) return apiError('110');
    return undefined;
  }
  return /^[A-Za-z0-9 ]{1,11}$/.test(sender) ? undefined : apiError('111');
}

/** `yyyy-MM-dd HH:mm`, read as UTC (guess: Smstools probably means Europe/Brussels), not in the past. */
function isFutureDate(date: unknown, now: number): boolean {
  if (typeof date !== 'string') return false;
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})$/.exec(date);
  if (!match) return false;
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const at = Date.UTC(year, month - 1, day, hour, minute);
  const check = new Date(at);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59)
    return false;
  return at + 60_000 > now;
}

/**
 * Delivery codes of the Smstools webhooks page: 0 submitted, 1 delivered, 2 not delivered, 3
 * buffered, 4 rejected, 9 unknown. The texts that go with 3, 4 and 9, the payload's time zone and
 * whether a report echoes the send's `reference` are undocumented: the fake sends the community
 * parsers' texts, UTC, and no `reference` (an app must not depend on getting it back). It does
 * send `receiver`, which both community parsers read.
 */
const DELIVERY: Record<FakeDeliveryStatus, { code: string; status: string }> = {
  submitted: { code: '0', status: 'submitted' },
  delivered: { code: '1', status: 'delivered' },
  'not delivered': { code: '2', status: 'not delivered' },
  buffered: { code: '3', status: 'submitted' },
  rejected: { code: '4', status: 'not delivered' },
  unknown: { code: '9', status: 'submitted' },
};

const pad = (n: number) => String(n).padStart(2, '0');
/** `YYYY-MM-DD HH:MM:SS` in UTC. */
export function smstoolsDateTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  );
}

/** The `delivery_report` JSON of §2.4 (community-sourced shape; codes are strings). */
export function deliveryReportBody(fields: {
  webhookId: string;
  username: string;
  messageId: string;
  receiver: string;
  status: FakeDeliveryStatus;
  detail?: string;
  at: number;
}): string {
  const { code, status } = DELIVERY[fields.status];
  return JSON.stringify({
    webhook_id: fields.webhookId,
    webhook_type: 'delivery_report',
    username: fields.username,
    message: {
      messageid: fields.messageId,
      receiver: fields.receiver,
      delivery_code: code,
      delivery_status: status,
      // guess: detail "10" is "receiver number invalid or unknown"; empty when there is nothing to add.
      delivery_code_detail: fields.detail ?? (fields.status === 'not delivered' ? '10' : ''),
      delivery_status_datetime: smstoolsDateTime(fields.at),
    },
  });
}

/** `X-Smstools-Signature` and `X-Smstools-Timestamp` for a body, as the community parsers verify them. */
export function signWebhook(secret: string, body: string, unixSeconds: number): Record<string, string> {
  const t = String(unixSeconds);
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return { 'x-smstools-signature': `t=${t},v1=${v1}`, 'x-smstools-timestamp': t };
}

// ---------------------------------------------------------------------------------------------
// HTTP answers

const JSON_TYPE = 'application/json; charset=utf-8';
const MAX_BODY_BYTES = 1024 * 1024;
const HTML_502 =
  '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>';

export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** D-hist shape: numeric `ID`, not the messageid. */
export function historyAnswer(
  messages: readonly FakeSmstoolsMessage[],
  query: Record<string, string>,
  refusal: (error: FakeApiError) => Answer,
): Answer {
  const limit = Number(query.limit ?? 1000);
  const page = Number(query.page ?? 1);
  if (!Number.isInteger(limit) || limit < 1 || limit > 2000) return refusal(apiError('135'));
  if (!Number.isInteger(page) || page < 1) return refusal(apiError('136'));
  const sms = messages.filter((m) => m.channel === 'sms');
  const shown = sms.slice((page - 1) * limit, page * limit).map((m) => ({
    ID: sms.indexOf(m) + 1,
    message: m.message,
    to: m.to,
    sender: m.sender ?? '',
    date: smstoolsDateTime(m.at),
    amount: 1,
    type: 'single',
    status: m.status === 'accepted' ? 'SUBMITTED' : m.status.toUpperCase(),
  }));
  return { status: 200, body: { total: sms.length, shown: shown.length, page, limit, messages: shown } };
}

/** The answer to a forced failure ('slow' and 'reset' are handled by the server). */
export function forcedAnswer(
  failure: Exclude<FakeSmstoolsFailure, 'slow' | 'reset'>,
  body: unknown,
  refusal: (error: FakeApiError) => Answer,
): Answer {
  if (failure === 'no-messageid') return { status: 200, body: {} };
  if (failure === 'invalid-json') return { status: 200, body: '{"messageid":"k3j5h2', headers: {} };
  if (failure === 'html-5xx') return html(502);
  if (failure === '429') return tooMany(1);
  if ('error' in failure) {
    const to = typeof body === 'object' && body !== null ? (body as { to?: unknown }).to : undefined;
    const code = String(failure.error);
    const errorMsg =
      failure.errorMsg ??
      (code === '106' && typeof to === 'string' ? `Destination number ${to} is invalid` : undefined);
    const answer = refusal({ ...apiError(code, errorMsg), error: failure.error });
    return failure.status === undefined ? answer : { ...answer, status: failure.status };
  }
  if (failure.mode === 'html-5xx') return html(failure.status ?? 502);
  if (failure.mode === '429') return tooMany(failure.retryAfterSeconds ?? 1);
  return { status: 200, body: {} }; // unreachable: 'slow' is handled by the caller
}

const html = (status: number): Answer => ({
  status,
  body: HTML_502,
  headers: { 'content-type': 'text/html' },
});
const tooMany = (seconds: number): Answer => ({
  status: 429,
  body: { error: 'Too Many Requests' },
  headers: { 'retry-after': String(seconds) },
});

export function send(res: ServerResponse, answer: Answer): void {
  const text =
    typeof answer.body === 'string'
      ? answer.body
      : answer.body === undefined
        ? ''
        : JSON.stringify(answer.body);
  res.writeHead(answer.status, { 'content-type': JSON_TYPE, ...answer.headers });
  res.end(text);
}

export const NOT_JSON = Symbol('not JSON');
/** An empty body reads as `undefined` (114 on send); text that is not JSON as NOT_JSON. */
export function parseJson(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** The body as text, or undefined beyond 1 MiB. */
export async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
