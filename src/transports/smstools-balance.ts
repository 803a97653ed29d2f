import type { $Fetch } from 'ofetch';
import type { ProviderStatus } from './transport.js';

/** Why the balance could not be read; `kind` is from a fixed list, the message our own words only. */
export class BalanceError extends Error {
  readonly kind: 'timeout' | 'network' | 'http' | 'invalid-response';
  constructor(kind: BalanceError['kind'], detail: string) {
    super(`Smstools balance: ${detail}`);
    this.name = 'BalanceError';
    this.kind = kind;
  }
}

/**
 * `GET /v1/balance` with the transport's credentials: proves Smstools answers and accepts them.
 * The answer's shape is undocumented; the one example is `{"balance":"42.50","currency":"EUR"}`,
 * so a 2xx answer without a readable balance still counts as reachable.
 */
export async function readBalance(
  client: $Fetch,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<ProviderStatus> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const aborts = signal ? AbortSignal.any([signal, deadline]) : deadline;
  let status: number;
  let text: string | undefined;
  try {
    const response = await client.raw<string, 'text'>('balance', {
      method: 'GET',
      signal: aborts,
      responseType: 'text',
      ignoreResponseError: true,
    });
    status = response.status;
    text = response._data;
  } catch {
    // ofetch's error holds the request (and its credential headers): keep none of it.
    throw aborts.aborted
      ? new BalanceError('timeout', 'no answer in time')
      : new BalanceError('network', 'connection failed');
  }
  const json = parseObject(text);
  if (status < 200 || status > 299) {
    const code =
      typeof json?.error === 'string' && /^\d{1,6}$/.test(json.error) ? ` error ${json.error}` : '';
    throw new BalanceError('http', `HTTP ${status}${code}`);
  }
  if (!json) throw new BalanceError('invalid-response', 'the answer is not JSON');
  const raw = json.balance;
  const balance =
    typeof raw === 'number' || (typeof raw === 'string' && raw.trim() !== '') ? Number(raw) : NaN;
  const currency =
    typeof json.currency === 'string' && /^[A-Z]{3}$/.test(json.currency) ? json.currency : undefined;
  return {
    ...(Number.isFinite(balance) ? { balance } : {}),
    ...(currency ? { currency } : {}),
  };
}

function parseObject(text: string | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text ?? '');
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
