import type { Config } from './options.js';

export type TwoFactorEventType =
  | 'code.sent'
  | 'code.send_failed'
  | 'voice.sent'
  | 'verify.succeeded'
  | 'verify.failed'
  | 'challenge.exhausted'
  | 'user.locked'
  | 'send.blocked'
  | 'global_limit.reached'
  | 'destination.missing'
  | 'enroll.code_sent'
  | 'phone.changed'
  | 'delivery.failed'
  | 'provider.balance_low'
  | 'recovery.generated'
  | 'recovery.used'
  | 'device.remembered'
  | 'device.revoked';

/** A monitoring event. It never holds the code, the full number, a secret or a cookie. */
export interface TwoFactorEvent {
  type: TwoFactorEventType;
  /** `now()` when it happened, in ms. */
  at: number;
  /** The user the event is about; absent on provider events (`provider.balance_low`). */
  userId?: string;
  /** Masked, e.g. `+32 4•• •• •• 01`. */
  phone?: string;
  /** On `phone.changed`: the number it replaced, masked; absent on a first enrollment. */
  previousPhone?: string;
  /** On `phone.changed` that replaced a number with `enroll.notifyOld`: whether the old number's notice went out. */
  notified?: boolean;
  /** ISO 3166 alpha-2 of the destination. */
  country?: string;
  /** The client's rate-limit key: the IPv4 address of `req.ip`, or its IPv6 /64 (`2001:db8:a:b::/64`). */
  ip?: string;
  channel?: 'sms' | 'voice';
  /**
   * Why a send was blocked or failed: `phone`, `ip`, `prefix`, `global`, `challenge`, `country`,
   * `vetoed`, or a provider error kind; for `destination.missing`: `none` (no number) or
   * `invalid-number`; for `phone.changed`: `enrolled` (a first number) or `changed`. On `voice.sent`, why the call was placed: `requested` (the user asked),
   * `sms-failed` (the provider refused the number for SMS), `undelivered` (a delivery report said
   * so), `no-report` (no report came in time). On `delivery.failed`: `undelivered` or `no-report`.
   */
  reason?: string;
  /** The provider's error code, e.g. Smstools `108` (no credit). */
  providerCode?: string;
  attemptsLeft?: number;
  /** Consecutive failures of the account so far. */
  failures?: number;
  /** On `verify.succeeded`: when the challenge's first code went out (ms), so `at - sentAt` is how long the user took. */
  sentAt?: number;
  /** On `provider.balance_low`: the balance the provider reported, in its currency. */
  balance?: number;
  /** On `provider.balance_low`: the currency of `balance`, when the provider names it. */
  currency?: string;
  /** The browser's `User-Agent` (at most 256 characters), on verify events: for "was this you?" notices. */
  userAgent?: string;
  /** On `recovery.generated` and `recovery.used`: the user's unused recovery codes now. */
  codesLeft?: number;
  /** On `device.remembered` and `device.revoked`: the device's public id (as `tfa.devices.list` shows it). */
  deviceId?: string;
}

const MAX_USER_AGENT = 256;

/** `{ userAgent }` for an event, or nothing when the request has none. */
export function userAgentOf(req: { get(name: string): string | undefined }): { userAgent?: string } {
  const agent = req.get('user-agent');
  return agent ? { userAgent: agent.slice(0, MAX_USER_AGENT) } : {};
}

export type Emit = (event: Omit<TwoFactorEvent, 'at'>) => void;

/**
 * Hands each event to `listen` (the metrics) and to `onEvent`, without ever letting either break a
 * request, sync or async.
 */
export function createEmitter(config: Config, listen: (event: TwoFactorEvent) => void = () => {}): Emit {
  const { onEvent, logger, now } = config;
  return (event) => {
    // Copied with Object.assign, then `at` set: on Node 20, `{ ...event, at }` (and a spread copy
    // given a property afterwards) takes a slow path in V8 on every call, 3–6 µs against 0.3 µs.
    const timed = Object.assign({}, event) as TwoFactorEvent;
    timed.at = now();
    try {
      listen(timed);
    } catch {
      logger.error(`express-sms-2fa: recording metrics failed for ${event.type}`);
    }
    if (!onEvent) return;
    try {
      const result: unknown = onEvent(timed);
      if (result instanceof Promise)
        result.catch(() => logger.error(`express-sms-2fa: onEvent rejected for ${event.type}`));
    } catch {
      logger.error(`express-sms-2fa: onEvent threw for ${event.type}`);
    }
  };
}
