/** One message to one number. `to` is always the E.164 number on file, as a string. */
export interface SmsMessage {
  to: string;
  text: string;
  /** A correlation id (≤ 75 characters) the provider may echo in delivery reports. */
  reference?: string;
}

export interface VoiceMessage extends SmsMessage {
  /** Text-to-speech language, e.g. `en`, `nl`, `fr`, `de`. */
  language?: string;
}

export interface SendResult {
  /** The provider's message id, used to match delivery reports. */
  id?: string;
}

/** A delivery report the transport has authenticated and parsed. */
export interface DeliveryReport {
  messageId: string;
  status: 'submitted' | 'delivered' | 'undelivered';
  /** The number the message went to, in E.164, when the report names it: matches reports that come before the send's answer. */
  receiver?: string;
}

export interface WebhookRequest {
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  /** The middleware's clock, for the signature's timestamp window. */
  now: number;
}

/** What a provider's health check found. */
export interface ProviderStatus {
  /** The account's balance, when the provider tells it (Smstools: `GET /v1/balance`). */
  balance?: number;
  /** The currency of `balance`, e.g. `EUR`. */
  currency?: string;
}

/**
 * Sends codes. Throw `TwoFactorError('ERR_2FA_SEND_FAILED', { cause })` on failure, with no code
 * or full number in the message, and never retry once the request may have reached the provider.
 * When the provider refused this number only (invalid, unknown, opted out), set
 * `destinationRefused: true` on the `cause`: then, and only then, `voice.auto` calls instead. Any
 * other failure is taken for the provider's or the account's, and no call is placed.
 */
export interface SmsTransport {
  sendSms(msg: SmsMessage): Promise<SendResult>;
  /** Optional: voice calls that read the code (the "call me instead" fallback). */
  sendVoice?(msg: VoiceMessage): Promise<SendResult>;
  /** Optional: the language the transport speaks and writes by default. */
  readonly language?: string;
  /** Optional: the transport's own deadline per send, in ms; the core gives up one second after it (else after 20 s). */
  readonly timeoutMs?: number;
  /**
   * Optional: authenticate and parse a delivery-report webhook. Returns `null` for reports that are
   * authentic but not about delivery; throws on a bad signature or a stale timestamp.
   */
  parseDeliveryReport?(req: WebhookRequest): DeliveryReport | null;
  /**
   * Optional: one cheap request that proves the provider answers these credentials (and reads the
   * balance where it can), for `tfa.health()`. Throws when it cannot; honours `signal`.
   */
  health?(options?: { signal?: AbortSignal }): Promise<ProviderStatus>;
}
