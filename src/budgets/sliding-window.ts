/**
 * "N per hour" as "at most N in any 60 minutes": a budget remembers its sends in time slots (one
 * minute for hourly budgets, 15 minutes for daily ones) and counts every slot that touches the
 * last window. That can only count a send too long, never too short: the limit holds for every
 * window, and a slot frees at most one slot late. The record is one short string, at most one
 * `slot:count` pair per slot of the window, whatever the traffic.
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
  | { allowed: true; record: string; ttlMs: number; slot: number }
  | { allowed: false; retryAfterMs: number };

/** Whether one more send fits at `now`; if so, the record with it added. */
export function admit(window: Window, record: string | undefined, now: number): Decision {
  const slots = live(window, parse(record), now);
  const sent = slots.reduce((sum, [, count]) => sum + count, 0);
  if (sent + 1 > window.limit)
    return { allowed: false, retryAfterMs: waitUntilRoom(window, slots, sent, now) };
  const slot = Math.floor(now / window.slotMs);
  const current = slots.find(([s]) => s === slot);
  if (current) current[1]++;
  else slots.push([slot, 1]);
  slots.sort((a, b) => a[0] - b[0]);
  return { allowed: true, record: serialize(slots), ttlMs: expiresIn(window, slots, now), slot };
}

/** The record without one send of `slot` (a send that did not go out after all), or undefined if empty. */
export function giveBack(
  window: Window,
  record: string | undefined,
  slot: number,
  now: number,
): { record: string; ttlMs: number } | undefined {
  const slots = live(window, parse(record), now);
  const current = slots.find(([s]) => s === slot);
  if (current) current[1]--;
  const kept = slots.filter(([, count]) => count > 0);
  return kept.length === 0 ? undefined : { record: serialize(kept), ttlMs: expiresIn(window, kept, now) };
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
