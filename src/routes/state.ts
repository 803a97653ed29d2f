import type { Runtime } from '../context.js';
import type { ChallengeView } from '../delivery.js';
import { lockWaitMs } from '../lockout.js';
import type { PageEnded, PageLock } from '../page/options.js';
import { type Loaded, liveView } from './load.js';

/** Where this browser stands: its live code, or why it has none, and whether the account waits. */
export interface BrowserState {
  challenge: ChallengeView | null;
  ended: PageEnded | null;
  locked: PageLock | null;
}

/** The state the page and `GET /status` show, from one `load()`. */
export function browserState(rt: Runtime, loaded: Loaded): BrowserState {
  const challenge = liveView(rt, loaded);
  // The records outlive the code by a grace period, so an ended code can still say why it ended.
  let ended: PageEnded | null = null;
  if (!challenge && loaded.challenge && loaded.state) {
    ended = loaded.attempts >= rt.config.maxAttempts ? 'exhausted' : 'expired';
  }
  const waitMs = lockWaitMs(rt, loaded.lock);
  const locked = waitMs > 0 ? { retryIn: Number.isFinite(waitMs) ? Math.ceil(waitMs / 1000) : null } : null;
  return { challenge, ended, locked };
}

/**
 * `GET /status`: the live challenge (with `locked` while the account waits), `{ status: 'verified' }`
 * once this browser verified (another tab may have), or `{ status: 'none' }` with `ended` for a
 * code that expired or was used up, and `locked`.
 */
export function statusBody(state: BrowserState, verified: boolean): Record<string, unknown> {
  if (verified && !state.challenge) return { status: 'verified' };
  const locked = state.locked ? { locked: state.locked } : {};
  if (state.challenge) return { ...state.challenge, ...locked };
  return { status: 'none', ...(state.ended ? { ended: state.ended } : {}), ...locked };
}
