import { type Attributes, type MeterProvider, metrics as otel } from '@opentelemetry/api';
import { TwoFactorError } from '../errors.js';
import type { TwoFactorEvent } from '../events.js';
import { createInstruments, type Instruments, METER_NAME } from './instruments.js';

/**
 * What the middleware measures. Most of it is read off the event stream (`record`); the rest comes
 * from the provider calls (`providerCall`, `smsParts`), the delivery reports and refused verifies.
 * Every label value comes from a fixed list or is an ISO country code: never a number, a code, a
 * user id or an address, whatever a custom transport or a future event puts in a field.
 */
export interface Metrics {
  record(event: TwoFactorEvent): void;
  providerCall(channel: 'sms' | 'voice', ok: boolean, seconds: number): void;
  smsParts(parts: number, country: string | undefined): void;
  deliveryReport(status: string, country: string | undefined): void;
  verifyRefused(error: unknown): void;
  balance(value: number): void;
}

const REFUSAL_REASONS = new Set([
  'ip',
  'phone',
  'prefix',
  'global',
  'challenge',
  'country',
  'invalid-number',
  'vetoed',
  'user',
]);
const FAILURE_REASONS = new Set(['http', 'invalid-response', 'timeout', 'network', 'invalid-request']);
const FALLBACK_REASONS = new Set(['requested', 'sms-failed', 'undelivered', 'no-report']);
const REPORT_OUTCOMES = new Set(['delivered', 'undelivered', 'submitted']);
/** Verifies refused before the code was compared (a wrong code is counted from its event). */
const REFUSED_VERIFY: Partial<Record<string, string>> = {
  ERR_2FA_CODE_EXPIRED: 'expired',
  ERR_2FA_TOO_MANY_ATTEMPTS: 'exhausted',
  ERR_2FA_LOCKED: 'locked',
  ERR_2FA_NO_CHALLENGE: 'no-challenge',
  ERR_2FA_BAD_REQUEST: 'malformed',
  ERR_2FA_STORE_UNAVAILABLE: 'unavailable',
};

const oneOf = (allowed: Set<string>, value: unknown, otherwise: string): string =>
  typeof value === 'string' && allowed.has(value) ? value : otherwise;
const channelOf = (value: unknown): string | undefined =>
  value === 'sms' || value === 'voice' ? value : undefined;
const countryOf = (value: unknown): string | undefined =>
  typeof value === 'string' && /^[A-Z]{2}$/.test(value) ? value : undefined;

/** Attributes without the undefined ones (an exporter would show them as empty labels). */
function labels(fields: Record<string, string | undefined>): Attributes {
  const out: Attributes = {};
  for (const key in fields) if (fields[key] !== undefined) out[key] = fields[key];
  return out;
}

type Values = Map<string | undefined, unknown>;

/**
 * One call site's attribute sets, made once per distinct values by `make` and then reused, frozen
 * (an SDK only reads them): no object built and copied per event. Each value comes from a fixed list
 * or is an ISO country code, so a site has at most a few thousand sets.
 */
class LabelSets {
  readonly #make: (a?: string, b?: string, c?: string) => Attributes;
  readonly #sets: Values = new Map();

  constructor(make: (a?: string, b?: string, c?: string) => Attributes) {
    this.#make = make;
  }

  of(a?: string, b?: string, c?: string): Attributes {
    let byB = this.#sets.get(a) as Values | undefined;
    if (byB === undefined) {
      byB = new Map();
      this.#sets.set(a, byB);
    }
    let byC = byB.get(b) as Values | undefined;
    if (byC === undefined) {
      byC = new Map();
      byB.set(b, byC);
    }
    let set = byC.get(c) as Attributes | undefined;
    if (set === undefined) {
      set = Object.freeze(this.#make(a, b, c));
      byC.set(c, set);
    }
    return set;
  }
}

/**
 * Instruments from `meterProvider`, or from the globally registered one. The global provider is
 * looked up on every measurement (one property read), so an app that registers its SDK after
 * calling `twoFactor()` still gets every measurement; until then the API's no-op meter costs nothing.
 */
export function createMetrics(meterProvider?: MeterProvider): Metrics {
  let source: MeterProvider | undefined;
  let instruments: Instruments | undefined;
  const use = (): Instruments => {
    const provider = meterProvider ?? otel.getMeterProvider();
    if (provider !== source || !instruments) {
      source = provider;
      instruments = createInstruments(provider.getMeter(METER_NAME));
    }
    return instruments;
  };

  const sent = new LabelSets((channel, country) => labels({ channel, outcome: 'sent', country }));
  const fallback = new LabelSets((reason, country) => labels({ reason, country }));
  const failed = new LabelSets((channel, reason, country) =>
    labels({ channel, outcome: 'failed', reason, country }),
  );
  const refused = new LabelSets((reason, channel, country) => labels({ reason, channel, country }));
  const wrong = new LabelSets((country) => labels({ outcome: 'wrong-code', country }));
  const success = new LabelSets((channel, country) => labels({ outcome: 'success', channel, country }));
  const duration = new LabelSets((channel, country) => labels({ channel, country }));
  const parts = new LabelSets((country) => labels({ country }));
  const reports = new LabelSets((outcome, country) => labels({ outcome, country }));

  function record(event: TwoFactorEvent): void {
    const country = countryOf(event.country);
    const channel = channelOf(event.channel);
    switch (event.type) {
      case 'code.sent':
      case 'enroll.code_sent':
      case 'voice.sent': {
        const m = use();
        const voice = event.type === 'voice.sent';
        m.sends.add(1, sent.of(voice ? 'voice' : 'sms', country));
        if (voice) m.fallbacks.add(1, fallback.of(oneOf(FALLBACK_REASONS, event.reason, 'other'), country));
        return;
      }
      case 'code.send_failed': {
        const reason = oneOf(FAILURE_REASONS, event.reason, 'error');
        use().sends.add(1, failed.of(channel, reason, country));
        return;
      }
      case 'send.blocked': {
        const reason = oneOf(REFUSAL_REASONS, event.reason, 'other');
        use().refused.add(1, refused.of(reason, channel, country));
        return;
      }
      case 'verify.failed':
        use().verifications.add(1, wrong.of(country));
        return;
      case 'verify.succeeded': {
        const m = use();
        m.verifications.add(1, success.of(channel, country));
        const { sentAt } = event;
        if (typeof sentAt === 'number' && sentAt > 0 && event.at >= sentAt) {
          m.verifyDuration.record((event.at - sentAt) / 1000, duration.of(channel, country));
        }
        return;
      }
      default:
        return;
    }
  }

  return guarded({
    record,
    providerCall(channel, ok, seconds) {
      use().providerDuration.record(seconds, { channel, outcome: ok ? 'ok' : 'error' });
    },
    smsParts(count, country) {
      if (count > 0) use().parts.add(count, parts.of(countryOf(country)));
    },
    deliveryReport(status, country) {
      const outcome = oneOf(REPORT_OUTCOMES, status, 'other');
      use().reports.add(1, reports.of(outcome, countryOf(country)));
    },
    verifyRefused(error) {
      const outcome = error instanceof TwoFactorError ? REFUSED_VERIFY[error.code] : undefined;
      if (outcome) use().verifications.add(1, { outcome });
    },
    balance(value) {
      use().balance.record(value);
    },
  });
}

/** Measuring must never break a request: a throwing SDK or exporter loses that one data point. */
function guarded(metrics: Metrics): Metrics {
  const safe =
    <A extends unknown[]>(record: (...args: A) => void) =>
    (...args: A) => {
      try {
        record(...args);
      } catch {
        // nothing to do: the request goes on unmeasured
      }
    };
  return {
    record: safe(metrics.record),
    providerCall: safe(metrics.providerCall),
    smsParts: safe(metrics.smsParts),
    deliveryReport: safe(metrics.deliveryReport),
    verifyRefused: safe(metrics.verifyRefused),
    balance: safe(metrics.balance),
  };
}
