/**
 * Runs after every test of the suite (vitest `setupFiles`): whatever apps the test built with
 * `createApp()`, nothing they answered, logged or emitted may hold an issued code, a full phone
 * number, a secret, a session id or a cookie value. Console output is scanned too.
 */
import { afterEach, beforeEach, expect } from 'vitest';
import { createdApps } from './create-app.js';
import { findLeaks, safeStringify } from './leaks.js';

const consoleLines: string[] = [];
const originals = {
  log: console.log,
  info: console.info,
  warn: console.warn,
  error: console.error,
  debug: console.debug,
};

beforeEach(() => {
  consoleLines.length = 0;
  createdApps.length = 0;
  for (const name of Object.keys(originals) as (keyof typeof originals)[]) {
    console[name] = (...args: unknown[]) => {
      consoleLines.push(args.map((a) => (typeof a === 'string' ? a : safeStringify(a))).join(' '));
      originals[name](...args);
    };
  }
});

afterEach(() => {
  Object.assign(console, originals);
  const leaks = findLeaks(createdApps, consoleLines);
  if (leaks.length > 0) expect.fail(leaks.slice(0, 5).join('\n'));
});
