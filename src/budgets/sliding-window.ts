/**
 * "N per hour" as "at most N in any 60 minutes": a budget remembers its sends in time slots (one
 * minute for hourly budgets, 15 minutes for daily ones) and counts every slot that touches the
 * last window. That can only count a send too long, never too short: the limit holds for every
 * window, and a slot frees at most one slot late. The record is one short string, at most one
 * `slot:count` pair per slot of the window, whatever the traffic (per window, when one record
 * keeps several).
 */

export interface Window {
  /** Sends allowed in any window. */
  limit: number;
  windowMs: number;
  /** The counting step: a send is remembered in the slot `floor(time / slotMs)`. */
  slotMs: number;
}

/** Slot number → sends in it, oldest first. */
type Slots = [slot: number, count: number][];

/** What the record says: the slots, read leniently (anything unreadable counts as nothing sent). */
function parse(record: string | undefined): Slots {
  if (!record) return [];
  const slots: Slots = [];
  for (const pair of record.split(' ')) {
    const [slot, count] = pair.split(':').map(Number);
    if (Number.isSafeInteger(slot) && Number.isSafeInteger(count) && (count as number) > 0) {
      slots.push([slot as number, count as number]);
    }
  }
  return slots.sort((a, b) => a[0] - b[0]);
}

const serialize = (slots: Slots): string => slots.map(([slot, count]) => `${slot}:${count}`).join(' ');

/** The oldest slot that still touches the window ending at `now`. */
const firstSlot = (window: Window, now: number) => Math.floor((now - window.windowMs) / window.slotMs);

/** Slots still in the window at `now` (the others are forgotten). */
function live(window: Window, slots: Slots, now: number): Slots {
  const first = firstSlot(window, now);
  return slots.filter(([slot]) => slot >= first);
}

export type Decision =
  | { allowed: true; record: string; ttlMs: number }
  | { allowed: false; retryAfterMs: number };

/*
 * Several windows of one budget (a number's hour and day) share one record: one section per
 * window, in the windows' order, split by `|`. One window is a record of one section, as before.
 */
const sections = (windows: Window[], record: string | undefined) => {
  const parts = record?.split('|') ?? [];
  return windows.map((window, i) => ({ window, slots: parse(parts[i]) }));
};

/** Whether one more send fits every window at `now`; if so, the record with it added. */
export function admit(windows: Window[], record: string | undefined, now: number): Decision {
  const all = sections(windows, record).map(({ window, slots }) => ({
    window,
    slots: live(window, slots, now),
  }));
  let retryAfterMs = 0;
  for (const { window, slots } of all) {
    const sent = slots.reduce((sum, [, count]) => sum + count, 0);
    if (sent + 1 > window.limit) {
      retryAfterMs = Math.max(retryAfterMs, waitUntilRoom(window, slots, sent, now));
    }
  }
  if (retryAfterMs > 0) return { allowed: false, retryAfterMs };
  for (const { window, slots } of all) {
    const slot = Math.floor(now / window.slotMs);
    const current = slots.find(([s]) => s === slot);
    if (current) current[1]++;
    else slots.push([slot, 1]);
    slots.sort((a, b) => a[0] - b[0]);
  }
  return { allowed: true, ...written(all, now) };
}

/**
 * The record without the send admitted at `sentAt` (one that did not go out after all), or
 * undefined once it counts nothing.
 */
export function giveBack(
  windows: Window[],
  record: string | undefined,
  sentAt: number,
  now: number,
): { record: string; ttlMs: number } | undefined {
  const all = sections(windows, record).map(({ window, slots }) => {
    const kept = live(window, slots, now);
    const current = kept.find(([s]) => s === Math.floor(sentAt / window.slotMs));
    if (current) current[1]--;
    return { window, slots: kept.filter(([, count]) => count > 0) };
  });
  return all.every(({ slots }) => slots.length === 0) ? undefined : written(all, now);
}

/** The record of these windows, kept until the last of them forgets its newest send. */
function written(all: { window: Window; slots: Slots }[], now: number) {
  return {
    record: all.map(({ slots }) => serialize(slots)).join('|'),
    ttlMs: Math.max(...all.map(({ window, slots }) => expiresIn(window, slots, now))),
  };
}

/** Until the oldest sends leave the window and one more fits. */
function waitUntilRoom(window: Window, slots: Slots, sent: number, now: number): number {
  let over = sent + 1 - window.limit;
  for (const [slot, count] of slots) {
    over -= count;
    // Slot `slot` stops counting once the window's first slot is past it.
    if (over <= 0) return Math.max(1, (slot + 1) * window.slotMs + window.windowMs - now);
  }
  return window.windowMs; // a limit below 1 cannot be configured; kept total for the type checker
}

/** The record is useless once its newest slot has left the window. */
function expiresIn(window: Window, slots: Slots, now: number): number {
  const newest = slots.at(-1)?.[0] ?? Math.floor(now / window.slotMs);
  return Math.max(1, (newest + 1) * window.slotMs + window.windowMs - now);
}
