// Browser code, bundled into the page (build-script.ts): type-checked with the DOM by
// tsconfig.client.json; the base tsconfig.json leaves it out, so server code has no DOM globals.
/** Seconds between status checks while a report is awaited: quick at first, then less and less. */
const BACKOFF_S = [1, 2, 3, 5, 8, 13, 20, 30];

/**
 * Asks `check` again and again while `wanted()` says news can come, backing off each time (back
 * to quick when `check` reports a change); never while the tab is hidden, and once as soon as it
 * is shown again.
 */
export function createPoller(check: () => Promise<boolean>, wanted: () => boolean) {
  let timer = 0;
  let step = 0;
  const stop = () => {
    clearTimeout(timer);
    timer = 0;
  };
  const schedule = () => {
    stop();
    if (document.hidden || !wanted()) return;
    const seconds = BACKOFF_S[Math.min(step, BACKOFF_S.length - 1)] as number;
    step++;
    timer = window.setTimeout(now, seconds * 1000);
  };
  const now = () => {
    stop();
    check().then((changed) => {
      if (changed) step = 0;
      schedule();
    });
  };
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) stop();
    else now();
  });
  return {
    /** Something new happened (a send, a new state): look again soon. */
    restart() {
      step = 0;
      schedule();
    },
    /** Checks at once, then goes on. */
    now,
    stop,
  };
}
