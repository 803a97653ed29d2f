import { performance } from 'node:perf_hooks';
import { HOUR } from '../constants.js';
import type { Emit } from '../events.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Config } from '../options.js';
import type { ProviderStatus } from '../transports/transport.js';

export interface StoreHealth {
  ok: boolean;
  /** One store round trip (a read of a key that does not exist), in ms. */
  latencyMs: number;
  /** Why not ok: `timeout` (no answer within `health.timeoutMs`) or `error` (the store threw). */
  error?: 'timeout' | 'error';
}

export interface ProviderHealth {
  ok: boolean;
  /** One request to the provider (Smstools: `GET /v1/balance`), in ms; 0 when not checked. */
  latencyMs: number;
  /** False when the transport has no `health()` to ask: `ok` is then true, as nothing says otherwise. */
  checked: boolean;
  balance?: number;
  currency?: string;
  /** Why not ok: `timeout`, `network`, `http` (refused, e.g. bad credentials), `invalid-response` or `error`. */
  error?: string;
}

/** What `tfa.health()` answers: for readiness probes and status pages. It never holds a secret. */
export interface HealthReport {
  /** Store and provider both ok. */
  ok: boolean;
  store: StoreHealth;
  provider: ProviderHealth;
}

/** A key no record uses: reading it proves a round trip and changes nothing. */
const PROBE_KEY = 'health:probe';
/** While the balance stays low, the warning is repeated at most this often. */
const LOW_BALANCE_REMINDER_MS = HOUR;
const PROVIDER_ERRORS = new Set(['timeout', 'network', 'http', 'invalid-response']);

interface Probed<T> {
  state: 'ok' | 'failed' | 'timeout';
  value?: T;
  error?: unknown;
  latencyMs: number;
}

/** Runs `work` with a deadline (its signal aborts then); never throws, never waits past `timeoutMs`. */
async function probe<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<Probed<T>> {
  const controller = new AbortController();
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref?.();
  });
  try {
    const pending = Promise.resolve().then(() => work(controller.signal));
    pending.catch(() => {}); // a late failure after the deadline is not an unhandled rejection
    const outcome = await Promise.race([pending.then((value) => ({ value })), deadline]);
    if (outcome === 'timeout') {
      controller.abort();
      return { state: 'timeout', latencyMs: elapsed() };
    }
    return { state: 'ok', value: outcome.value, latencyMs: elapsed() };
  } catch (error) {
    return { state: 'failed', error, latencyMs: elapsed() };
  } finally {
    clearTimeout(timer);
  }
}

function providerError(probed: Probed<unknown>): string {
  if (probed.state === 'timeout') return 'timeout';
  const kind = (probed.error as { kind?: unknown } | undefined)?.kind;
  return typeof kind === 'string' && PROVIDER_ERRORS.has(kind) ? kind : 'error';
}

export interface Health {
  check(): Promise<HealthReport>;
  /** After an accepted send: reads the balance in the background when a check is due. */
  afterSend(): void;
}

/**
 * `tfa.health()` and the low-balance warning. The balance is read by every `health()` call and,
 * with `health.lowBalance` set, after a send at most once per `health.balanceCheckMs`, in the
 * background, so an app without a readiness probe still hears about it. `provider.balance_low` is
 * emitted when the balance drops under the threshold, and again at most hourly while it stays there.
 */
export function createHealth(config: Config, metrics: Metrics, emit: Emit): Health {
  const { store, transport, logger } = config;
  const { timeoutMs, lowBalance, balanceCheckMs } = config.health;
  let low = false;
  let warnedAt = Number.NEGATIVE_INFINITY;
  let readAt = Number.NEGATIVE_INFINITY;
  let reading = false;

  function observe(status: ProviderStatus | undefined): void {
    const balance = status?.balance;
    if (typeof balance !== 'number' || !Number.isFinite(balance)) return;
    metrics.balance(balance);
    if (lowBalance === undefined) return;
    const now = config.now();
    const isLow = balance < lowBalance;
    if (isLow && (!low || now - warnedAt >= LOW_BALANCE_REMINDER_MS)) {
      warnedAt = now;
      const currency = status?.currency;
      emit({ type: 'provider.balance_low', balance, ...(currency ? { currency } : {}) });
      logger.warn(
        `express-sms-2fa: the provider's balance is ${balance}${currency ? ` ${currency}` : ''}, under health.lowBalance (${lowBalance}): top it up before sends start to fail`,
      );
    }
    low = isLow;
  }

  async function readProvider(): Promise<ProviderHealth> {
    if (typeof transport.health !== 'function') return { ok: true, latencyMs: 0, checked: false };
    readAt = config.now();
    const ask = transport.health.bind(transport);
    const probed = await probe(timeoutMs, (signal) => ask({ signal }));
    if (probed.state !== 'ok') {
      return { ok: false, latencyMs: probed.latencyMs, checked: true, error: providerError(probed) };
    }
    observe(probed.value);
    const { balance, currency } = probed.value ?? {};
    return {
      ok: true,
      latencyMs: probed.latencyMs,
      checked: true,
      ...(typeof balance === 'number' && Number.isFinite(balance) ? { balance } : {}),
      ...(typeof currency === 'string' ? { currency } : {}),
    };
  }

  async function readStore(): Promise<StoreHealth> {
    const probed = await probe(timeoutMs, () => store.get(PROBE_KEY));
    if (probed.state !== 'ok')
      return {
        ok: false,
        latencyMs: probed.latencyMs,
        error: probed.state === 'timeout' ? 'timeout' : 'error',
      };
    return { ok: true, latencyMs: probed.latencyMs };
  }

  return {
    async check() {
      const [storeHealth, provider] = await Promise.all([readStore(), readProvider()]);
      return { ok: storeHealth.ok && provider.ok, store: storeHealth, provider };
    },
    afterSend() {
      if (lowBalance === undefined || typeof transport.health !== 'function' || reading) return;
      if (config.now() - readAt < balanceCheckMs) return;
      reading = true;
      readProvider()
        .catch(() => undefined)
        .finally(() => {
          reading = false;
        });
    },
  };
}
