import { DAY, HOUR } from './constants.js';
import type { Runtime } from './context.js';
import { TwoFactorError } from './errors.js';
import type { Destination } from './phone.js';

interface Budget {
  kind: 'ip' | 'prefix' | 'phone';
  /** Short, as it is part of a key kept per number and per address. */
  key: 'ip' | 'pre' | 'ph' | 'pd';
  value: string;
  limit: number;
  windowMs: number;
}

/**
 * Spends one send from every budget, atomically, in fixed windows, in stages: a try refused by
 * one stage spends nothing of the next. The client's own address comes first, so an attacker
 * stopped by the IP budget never spends a number's or a prefix's budget; a number's daily
 * budget is spent only by tries its hourly budget let through.
 */
export async function spendSendBudgets(rt: Runtime, dest: Destination, ip: string): Promise<void> {
  const { limits } = rt.config;
  await spend(rt, [{ kind: 'ip', key: 'ip', value: ip, limit: limits.ipPerHour, windowMs: HOUR }]);
  await spend(rt, [
    { kind: 'prefix', key: 'pre', value: dest.prefix, limit: limits.prefixPerHour, windowMs: HOUR },
    { kind: 'phone', key: 'ph', value: dest.e164, limit: limits.phonePerHour, windowMs: HOUR },
  ]);
  await spend(rt, [{ kind: 'phone', key: 'pd', value: dest.e164, limit: limits.phonePerDay, windowMs: DAY }]);
}

async function spend(rt: Runtime, budgets: Budget[]): Promise<void> {
  const time = rt.config.now();
  const windows = budgets.map((budget) => {
    const window = Math.floor(time / budget.windowMs);
    return { budget, window, resetsIn: (window + 1) * budget.windowMs - time };
  });
  const counts = await Promise.all(
    windows.map(({ budget, window, resetsIn }) =>
      rt.store.increment(rt.keys.budget(budget.key, budget.value, window), resetsIn),
    ),
  );
  // When several budgets are spent, the one that frees up last decides the wait.
  const spent = windows.filter((w, i) => (counts[i] ?? 0) > w.budget.limit);
  const last = spent.sort((a, b) => b.resetsIn - a.resetsIn)[0];
  if (last) {
    throw new TwoFactorError('ERR_2FA_RATE_LIMITED', {
      retryAfter: last.resetsIn / 1000,
      cause: last.budget.kind,
    });
  }
}
