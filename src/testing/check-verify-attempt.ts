import { CHALLENGE_RECORD_FIELDS } from '../challenge.js';
import type { Store, VerifyAttemptInput, VerifyAttemptResult } from '../stores/store.js';

type Key = (name: string) => string;
type Call = <T>(what: string, run: () => Promise<T>) => Promise<T>;

const NOW = Date.UTC(2026, 0, 1);
const RIGHT = 'check-store-right-hash';

/**
 * The optional `verifyAttempt`, when a store has one: a wrong code counted against the challenge
 * and the account, the attempt limit, the right code among several (secret rotation) consuming
 * everything, and exactly one success among 50 concurrent right answers. Keys share a hash tag.
 */
export async function checkVerifyAttempt(
  store: Store,
  key: Key,
  call: Call,
  fail: (message: string) => never,
): Promise<void> {
  const verifyAttempt = store.verifyAttempt?.bind(store);
  if (!verifyAttempt) return;
  const keys = {
    lock: key('{va}v'),
    challenge: key('{va}c'),
    state: key('{va}s'),
    attempts: key('{va}a'),
    failures: key('{va}f'),
    failedAt: key('{va}fa'),
  };
  const f = CHALLENGE_RECORD_FIELDS;
  const record = Array.from({ length: f.length }, (_, i) => `field-${i + 1}`) as unknown[];
  record[f.userId - 1] = 'user';
  record[f.session - 1] = 'session';
  record[f.hash - 1] = RIGHT;
  record[f.expiresAt - 1] = NOW + 60_000;
  record[f.phone - 1] = 'phone';
  const raw = JSON.stringify(record);
  const input = (hashes: string[]): VerifyAttemptInput => ({
    keys,
    challengeFields: f,
    userId: 'user',
    session: 'session',
    phone: 'phone',
    hashes,
    now: NOW,
    maxAttempts: 2,
    lockout: { threshold: 50, baseMs: 1000, maxDelayMs: 3_600_000, hardLimit: 100 },
    failureTtlMs: 60_000,
  });
  const attempt = (hashes: string[]) => call('verifyAttempt', () => verifyAttempt(input(hashes)));
  const show = (result: VerifyAttemptResult) => JSON.stringify(result);

  const none = await attempt([RIGHT]);
  if (none.outcome !== 'missing')
    fail(`verifyAttempt: answered ${show(none)} without a challenge; expected missing`);
  await call('set', () => store.set(keys.challenge, raw, 60_000));
  await call('set', () => store.set(keys.state, 'state', 60_000));
  const wrong = await attempt(['not-the-hash']);
  if (wrong.outcome !== 'wrong' || wrong.attempts !== 1 || wrong.failures !== 1 || wrong.challenge !== raw) {
    fail(
      `verifyAttempt: answered ${show(wrong)} to a wrong hash; expected wrong with attempts 1, failures 1 and the record`,
    );
  }
  const right = await attempt(['other-secret-hash', RIGHT]);
  if (right.outcome !== 'right' || right.challenge !== raw || right.state !== 'state') {
    fail(
      `verifyAttempt: answered ${show(right)} to the right hash (second of two); expected right with the record and the state`,
    );
  }
  for (const [name, k] of Object.entries(keys)) {
    if (name === 'lock') continue;
    const left = await call('get', () => store.get(k));
    if (left !== undefined) fail(`verifyAttempt: the ${name} key is still there after a right answer`);
  }

  await call('set', () => store.set(keys.challenge, raw, 60_000));
  for (let i = 0; i < 2; i++) await attempt(['not-the-hash']);
  const over = await attempt([RIGHT]);
  if (over.outcome !== 'exhausted') {
    fail(`verifyAttempt: answered ${show(over)} to a third attempt with maxAttempts 2; expected exhausted`);
  }

  await call('delete', () => store.delete(keys.attempts));
  const results = await Promise.all(Array.from({ length: 50 }, () => attempt([RIGHT])));
  const wins = results.filter((r) => r.outcome === 'right').length;
  if (wins !== 1) fail(`verifyAttempt: ${wins} of 50 concurrent right answers succeeded; exactly one must`);
}
