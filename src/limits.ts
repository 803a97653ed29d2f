import { DAY, HOUR } from './constants.js';
import type { Runtime } from './context.js';
import { TwoFactorError } from './errors.js';
import type { Destination } from './phone.js';

interface Budget {
  kind: 'ip' | 'prefix' | 'phone';
  value: string;
  limit: number;
  windowMs: number;
}

/**
 * Spends one send from every budget, atomically, in fixed windows. The client's own address is
 * counted first, so an attacker stopped by the IP budget never spends the victim's number budget.
 */
export async function spendSendBudgets(rt: Runtime, dest: Destination, ip: string): Promise<void> {
  const { limits, now } = rt.config;
  const budgets: Budget[] = [
    { kind: 'ip', value: ip, limit: limits.ipPerHour, windowMs: HOUR },
    { kind: 'prefix', value: dest.prefix, limit: limits.prefixPerHour, windowMs: HOUR },
    { kind: 'phone', value: dest.e164, limit: limits.phonePerHour, windowMs: HOUR },
    { kind: 'phone', value: dest.e164, limit: limits.phonePerDay, windowMs: DAY },
  ];
  for (const budget of budgets) {
    const time = now();
    const window = Math.floor(time / budget.windowMs);
    const resetsIn = (window + 1) * budget.windowMs - time;
    const key = rt.keys.budget(`${budget.kind}${budget.windowMs}`, budget.value, window);
    const count = await rt.store.increment(key, resetsIn);
    if (count > budget.limit) {
      throw new TwoFactorError('ERR_2FA_RATE_LIMITED', { retryAfter: resetsIn / 1000, cause: budget.kind });
    }
  }
}
