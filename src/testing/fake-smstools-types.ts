// Public types of the fake Smstools server (see fake-smstools.ts).
import type { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';

export type FakeDeliveryStatus =
  | 'submitted'
  | 'delivered'
  | 'not delivered'
  | 'buffered'
  | 'rejected'
  | 'unknown';

/** A forced answer. Strings are shorthands; `'slow'` stalls 30 s, then answers normally. */
export type FakeSmstoolsFailure =
  | 'html-5xx'
  | 'no-messageid'
  | 'invalid-json'
  | '429'
  | 'reset'
  | 'slow'
  | { error: string | number; status?: number; errorMsg?: string }
  | { mode: 'html-5xx'; status?: number }
  | { mode: 'slow'; delayMs: number; then?: FakeSmstoolsFailure }
  | { mode: '429'; retryAfterSeconds?: number };

export interface FakeSmstoolsWebhook {
  /** Where delivery reports are POSTed, e.g. `http://127.0.0.1:3000/2fa/webhooks/smstools`. */
  url: string;
  secret: string;
  /** Wait before each automatic report. @default 0 */
  delayMs?: number;
  /** Post a `submitted` report before the final one, as Smstools sometimes does. @default false */
  submittedFirst?: boolean;
  /**
   * Post the reports before answering the send, so they reach the app before it knows the message
   * id (Smstools can report within milliseconds; the docs promise no order). @default false
   */
  beforeAnswer?: boolean;
}

export interface FakeSmstoolsOptions {
  /** @default 'fake-client-id' */
  clientId?: string;
  /** @default 'fake-client-secret' */
  clientSecret?: string;
  /** Returned by `GET /v1/auth` and sent in webhooks. @default 'fake-user' */
  username?: string;
  /** Account balance in EUR. @default 100 */
  balance?: number;
  /** EUR per SMS part and per voice call. @default { sms: 0.07, voice: 0.15 } */
  prices?: { sms?: number; voice?: number };
  /** Longest SMS in GSM characters (118 beyond): the official error page says 459, a community list 612. @default 459 */
  maxLength?: number;
  /** HTTP status of error answers, or per code (`{ '104': 401 }`, others 400). @default 400 */
  errorStatus?: number | Record<string, number>;
  /** Answer 110 to a numeric sender without `+`, as the official error page documents. @default true */
  requirePlusOnNumericSender?: boolean;
  /** Refuse a `reference` longer than this (the real code is undocumented). @default false: not checked */
  maxReferenceLength?: number | false;
  /** Accept `00` before the country code (no evidence either way). @default false: 106 */
  acceptDoubleZero?: boolean;
  /** Numbers on the opt-out list (131). */
  optOuts?: Iterable<string>;
  /** SMS to these numbers answers 106; voice calls to them work. */
  failSmsTo?: Iterable<string>;
  /** SMS to these numbers is accepted, then reported `not delivered` (code 2, detail 10). */
  undeliverableTo?: Iterable<string>;
  webhook?: FakeSmstoolsWebhook;
  /** Called for every recorded (non-test) message. */
  onMessage?: (message: FakeSmstoolsMessage) => void;
  /** Clock for message times, dates and webhook timestamps. @default Date.now */
  now?: () => number;
}

export interface FakeSmstoolsMessage {
  id: string;
  channel: 'sms' | 'voice';
  /** Digits only, as Smstools stores them. */
  to: string;
  message: string;
  sender: string | undefined;
  language?: string;
  gender?: string;
  reference?: string;
  date?: string;
  /** The latest delivery state; `'accepted'` until a report is sent. */
  status: FakeDeliveryStatus | 'accepted';
  at: number;
}

export interface FakeSmstoolsRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Includes the credentials: never log these. */
  headers: IncomingHttpHeaders;
  /** Parsed JSON, or the raw text when it is not JSON. */
  body: unknown;
  at: number;
}

export interface FakeSmstoolsWebhookAttempt {
  messageId: string;
  status: FakeDeliveryStatus;
  body: string;
  /** The receiver's HTTP status, or undefined when the POST failed (see `error`). */
  responseStatus?: number;
  error?: string;
}

export interface FakeSmstools extends EventEmitter {
  /** The API base for `smstools({ baseUrl })`, e.g. `http://127.0.0.1:53124/v1`. Throws before start(). */
  readonly url: string;
  /** Recorded messages, oldest first (`test: true` sends are not recorded). */
  readonly messages: FakeSmstoolsMessage[];
  /** Every `/v1` request received, oldest first (the `/__fake` control routes are not listed). */
  readonly requests: FakeSmstoolsRequest[];
  /** Every delivery report posted. */
  readonly webhooks: FakeSmstoolsWebhookAttempt[];
  /** TCP connections accepted since start. */
  readonly connections: number;
  readonly clientId: string;
  readonly clientSecret: string;
  balance: number;
  /** A failure applied to every `/v1` request until cleared (after any `failNext`). */
  failMode: FakeSmstoolsFailure | undefined;
  webhook: FakeSmstoolsWebhook | undefined;
  readonly optOuts: Set<string>;
  readonly failSmsTo: Set<string>;
  readonly undeliverableTo: Set<string>;
  start(): Promise<this>;
  /** Stops the server, ends stalled answers and open keep-alive sockets, cancels pending reports. */
  close(): Promise<void>;
  /** Forces the next `times` `/v1` answers. */
  failNext(failure: FakeSmstoolsFailure, times?: number): void;
  setCredentials(clientId: string, clientSecret: string): void;
  /** `baseUrl`, `clientId`, `clientSecret` (and `webhookSecret`) to spread into `smstools({...})`. */
  transportOptions(): { baseUrl: string; clientId: string; clientSecret: string; webhookSecret?: string };
  /** Posts one delivery report now, signed with the webhook secret (or `secret`). */
  deliver(
    messageId: string,
    status?: FakeDeliveryStatus,
    options?: { duplicate?: boolean; timestamp?: number; secret?: string; detail?: string },
  ): Promise<FakeSmstoolsWebhookAttempt[]>;
  /** Resolves when every scheduled delivery report has been posted. */
  flushWebhooks(): Promise<void>;
  /** The newest message to `to` (any format), or the newest of all. */
  lastMessage(to?: string): FakeSmstoolsMessage | undefined;
  /** The code in the newest message to `to`. */
  lastCode(to?: string): string | undefined;
  /** Forgets messages, requests, reports and forced failures. */
  reset(): void;
}
