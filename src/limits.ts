import { admit, giveBack, type Window } from './budgets/sliding-window.js';
import { DAY, HOUR, MINUTE } from './constants.js';
import type { Runtime } from './context.js';
import { TwoFactorError } from './errors.js';
import type { Destination } from './phone.js';

export type BudgetKind = 'ip' | 'prefix' | 'phone' | 'global' | 'user';

/** One record: a number's hourly and daily windows are kept together (see sliding-window.ts). */
interface Budget {
  kind: BudgetKind;
  key: string;
  windows: Window[];
}

/** Hourly budgets count in one-minute slots, daily ones in 15-minute slots (see sliding-window.ts). */
const HOURLY = { windowMs: HOUR, slotMs: MINUTE };
const DAILY = { windowMs: DAY, slotMs: 15 * MINUTE };
/** Compare-and-set attempts on one budget when giving a send back (best effort). */
const GIVE_BACK_TRIES = 25;

/** What a send took from its budgets, to give back when the provider failed and nothing went out. */
export interface SpentBudgets {
  /** Gives back every budget but the client's IP one (best effort: a store failure keeps them spent). */
  giveBack(): Promise<void>;
}

/**
 * `userId`: an enrollment send, which goes to a number the user typed: it also spends from the
 * user's own budget (the number budgets' limits), so one account cannot try number after number.
 */
function budgetsOf(rt: Runtime, dest: Destination, ip: string, userId?: string): Budget[] {
  const { limits } = rt.config;
  const { budget } = rt.keys;
  const numberWindows = [
    { limit: limits.phonePerHour, ...HOURLY },
    { limit: limits.phonePerDay, ...DAILY },
  ];
  const budgets: Budget[] = [
    { kind: 'ip', key: budget('ip', ip), windows: [{ limit: limits.ipPerHour, ...HOURLY }] },
    {
      kind: 'prefix',
      key: budget('pre', dest.prefix),
      windows: [{ limit: limits.prefixPerHour, ...HOURLY }],
    },
    { kind: 'phone', key: budget('p', dest.e164), windows: numberWindows },
  ];
  if (userId !== undefined) budgets.push({ kind: 'user', key: budget('u', userId), windows: numberWindows });
  if (limits.globalPerHour !== undefined) {
    const windows = [{ limit: limits.globalPerHour, ...HOURLY }];
    budgets.push({ kind: 'global', key: budget('gh', 'app'), windows });
  }
  if (limits.globalPerDay !== undefined) {
    const windows = [{ limit: limits.globalPerDay, ...DAILY }];
    budgets.push({ kind: 'global', key: budget('gd', 'app'), windows });
  }
  return budgets;
}

/**
 * Spends one send from every budget, or from none: a try that any budget refuses spends nothing
 * of any budget (so a number's own refusals never spend its prefix's budget, and an attacker's
 * refused tries cost the store nothing). Each budget is a sliding window ("5 per hour" is any 60
 * minutes), read in one round trip and written with compare-and-set, so parallel sends can never
 * take more than the limit between them.
 */
export async function spendSendBudgets(
  rt: Runtime,
  dest: Destination,
  ip: string,
  userId?: string,
): Promise<SpentBudgets> {
  const budgets = budgetsOf(rt, dest, ip, userId);
  const now = rt.config.now();
  const records = await rt.store.getMany(budgets.map((b) => b.key));
  const refusals = budgets.flatMap((budget, i) => {
    const decision = admit(budget.windows, records[i], now);
    return decision.allowed ? [] : [{ budget, retryAfterMs: decision.retryAfterMs }];
  });
  if (refusals.length > 0) throw rateLimited(refusals);

  const outcomes = await Promise.allSettled(budgets.map((budget, i) => take(rt, budget, records[i], now)));
  const taken = outcomes.flatMap((o) => (o.status === 'fulfilled' && 'sentAt' in o.value ? [o.value] : []));
  const failed = outcomes.find((o) => o.status === 'rejected');
  const lost = outcomes.flatMap((o) =>
    o.status === 'fulfilled' && 'retryAfterMs' in o.value ? [o.value] : [],
  );
  if (failed || lost.length > 0) {
    // A parallel send took the last room, or the store failed: this try spends nothing after all.
    await giveBackAll(rt, taken);
    if (failed) throw (failed as PromiseRejectedResult).reason;
    throw rateLimited(lost);
  }
  return {
    giveBack: () =>
      giveBackAll(
        rt,
        taken.filter((t) => t.budget.kind !== 'ip'),
      ),
  };
}

interface Taken {
  budget: Budget;
  /** When the send was admitted: the slots it was counted in. */
  sentAt: number;
}

/** One budget, by compare-and-set from the value read: a changed value is read again and retried. */
function take(
  rt: Runtime,
  budget: Budget,
  record: string | undefined,
  now: number,
): Promise<Taken | { budget: Budget; retryAfterMs: number }> {
  return inTurn(rt, budget.key, async (turn) => {
    // Sends of other instances on one record (a shared prefix, the app-wide budget) take turns by
    // compare-and-set: for up to one store timeout, then the send gives up with a retryable 503.
    const giveUpAt = Date.now() + rt.config.storeTimeoutMs;
    let current = turn.written ?? record;
    for (let attempt = 1; ; attempt++) {
      const decision = admit(budget.windows, current, now);
      if (!decision.allowed) return { budget, retryAfterMs: decision.retryAfterMs };
      if (await rt.store.compareAndSet(budget.key, current, decision.record, decision.ttlMs)) {
        turn.written = decision.record;
        return { budget, sentAt: now };
      }
      if (Date.now() >= giveUpAt) {
        throw new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE', { retryAfter: 1, cause: 'budget contention' });
      }
      if (attempt > 1) await pause(attempt);
      current = await rt.store.get(budget.key);
    }
  });
}

interface Turn {
  /** What this process last wrote to the record while others of its sends waited: the next expected value. */
  written?: string;
}

/** Per store, the records this process is writing now, and how many of its sends wait for each. */
const queues = new WeakMap<object, Map<string, { tail: Promise<unknown>; waiting: number; turn: Turn }>>();

/**
 * Sends of this process write one budget record one at a time: in parallel they would only make
 * each other's compare-and-set fail and read again (a burst of 100 sends behind one NAT address
 * would take seconds). Each starts from what the one before it wrote, so it usually succeeds at
 * once; only other instances can still interleave.
 */
function inTurn<T>(rt: Runtime, key: string, work: (turn: Turn) => Promise<T>): Promise<T> {
  let records = queues.get(rt.store);
  if (!records) {
    records = new Map();
    queues.set(rt.store, records);
  }
  const queue = records.get(key) ?? { tail: Promise.resolve(), waiting: 0, turn: {} };
  records.set(key, queue);
  queue.waiting++;
  const run = queue.tail.then(() => work(queue.turn));
  queue.tail = run.catch(() => {});
  return run.finally(() => {
    if (--queue.waiting === 0 && records?.get(key) === queue) records.delete(key);
  });
}

/** A little longer each time, with jitter, for a store whose compare-and-set is a lock that was busy. */
const pause = (attempt: number) =>
  new Promise((resolve) => setTimeout(resolve, Math.min(40, 4 * attempt) * (0.5 + Math.random())));

async function giveBackAll(rt: Runtime, taken: Taken[]): Promise<void> {
  await Promise.all(taken.map((t) => giveBackOne(rt, t).catch(() => {})));
}

function giveBackOne(rt: Runtime, { budget, sentAt }: Taken): Promise<void> {
  return inTurn(rt, budget.key, async (turn) => {
    for (let attempt = 1; attempt <= GIVE_BACK_TRIES; attempt++) {
      const current = await rt.store.get(budget.key);
      if (current === undefined) return;
      const back = giveBack(budget.windows, current, sentAt, rt.config.now());
      // An empty record is written with the shortest life rather than deleted: only a
      // compare-and-set knows nobody spent in between.
      const next = back ?? { record: '', ttlMs: 1 };
      if (await rt.store.compareAndSet(budget.key, current, next.record, next.ttlMs)) {
        turn.written = next.record;
        return;
      }
      if (attempt > 1) await pause(attempt);
    }
  });
}

/** When several budgets refuse, the one that frees up last decides the wait and the reason. */
function rateLimited(refusals: { budget: Budget; retryAfterMs: number }[]): TwoFactorError {
  const last = [...refusals].sort((a, b) => b.retryAfterMs - a.retryAfterMs)[0] as (typeof refusals)[number];
  return new TwoFactorError('ERR_2FA_RATE_LIMITED', {
    retryAfter: last.retryAfterMs / 1000,
    cause: last.budget.kind,
  });
}
