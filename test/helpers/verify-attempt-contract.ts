/**
 * The behaviour of the optional `Store.verifyAttempt` (src/stores/store.ts, `VerifyAttemptInput`),
 * run by `runStoreContract` for any store that has it: each outcome, what each one writes, and
 * atomicity under 50 concurrent calls. Every key carries one hash tag (`{u1}`), as the package's do.
 */
import { describe, expect, it, type TestContext } from 'vitest';
import { CHALLENGE_RECORD_FIELDS } from '../../src/challenge.js';
import type { Store, VerifyAttemptInput, VerifyAttemptResult } from '../../src/stores/store.js';
import { VERIFY_NOW as NOW, RIGHT, verifyInput, verifyKeys } from './verify-attempt.js';

const KEYS = verifyKeys('contract:');

/** A challenge record as the package writes it: a JSON array with the fields where it says. */
export function challengeRecord(
  over: Partial<Record<'userId' | 'session' | 'hash' | 'expiresAt' | 'phone', unknown>> = {},
) {
  const f = CHALLENGE_RECORD_FIELDS;
  const record: unknown[] = Array.from({ length: f.length }, (_, i) => `field-${i + 1}`);
  const set = (name: keyof typeof over, value: unknown) => {
    record[f[name] - 1] = name in over ? over[name] : value;
  };
  set('userId', 'u1');
  set('session', 'sess');
  set('hash', RIGHT);
  set('expiresAt', NOW + 300_000);
  set('phone', 'phone-hash');
  return JSON.stringify(record);
}

const input = (over: Partial<VerifyAttemptInput> = {}) => verifyInput({ keys: KEYS, ...over });

/**
 * The result without `record`, after checking that a store which hands the parsed record back
 * (memoryStore()) gives exactly `JSON.parse(challenge)`: the contract's answers compare as before.
 */
export function withoutRecord(result: VerifyAttemptResult): VerifyAttemptResult {
  if (!('record' in result)) return result;
  const { record, ...rest } = result;
  if (record !== undefined) expect(record).toEqual(JSON.parse(result.challenge));
  return rest;
}

export function verifyAttemptContract(
  withStore: (fn: (store: Store) => Promise<void>) => Promise<void>,
): void {
  describe('verifyAttempt (optional)', () => {
    // A store without the method reports these as skipped, never as passed.
    const run =
      (fn: (store: Store, attempt: NonNullable<Store['verifyAttempt']>) => Promise<void>) =>
      (ctx: TestContext) =>
        withStore(async (store) => {
          const verify = store.verifyAttempt?.bind(store);
          if (!verify) return ctx.skip('the store has no verifyAttempt');
          await fn(store, async (input) => withoutRecord(await verify(input)));
        });

    it(
      'answers missing, and writes nothing, without a challenge or for another user, session or number',
      run(async (store, attempt) => {
        expect(await attempt(input())).toEqual({ outcome: 'missing' });
        await store.set(KEYS.challenge, challengeRecord(), 60_000);
        expect(await attempt(input({ userId: 'u2' }))).toEqual({ outcome: 'missing' });
        expect(await attempt(input({ session: 'other' }))).toEqual({ outcome: 'missing' });
        expect(await attempt(input({ phone: 'other' }))).toEqual({ outcome: 'missing' });
        expect(await attempt(input({ phone: '' }))).toEqual({ outcome: 'missing' });
        await store.set(KEYS.challenge, '{"not":"a record"}', 60_000);
        expect(await attempt(input())).toEqual({ outcome: 'missing' });
        expect(await store.get(KEYS.attempts)).toBeUndefined();
        expect(await store.get(KEYS.failures)).toBeUndefined();
      }),
    );

    it(
      'answers expired at expiresAt, without counting',
      run(async (store, attempt) => {
        await store.set(KEYS.challenge, challengeRecord({ expiresAt: NOW }), 60_000);
        expect(await attempt(input())).toEqual({ outcome: 'expired' });
        expect(await store.get(KEYS.attempts)).toBeUndefined();
      }),
    );

    it(
      'counts a wrong code against the challenge and the account, then exhausts the challenge',
      run(async (store, attempt) => {
        const record = challengeRecord();
        await store.set(KEYS.challenge, record, 60_000);
        for (let i = 1; i <= 3; i++) {
          expect(await attempt(input())).toEqual({
            outcome: 'wrong',
            challenge: record,
            attempts: i,
            failures: i,
          });
        }
        expect(await store.get(KEYS.failedAt)).toBe(String(NOW));
        // The fourth is refused and never compared, even with the right hash. Counting it is up to
        // the store (postgresStore leaves a used-up counter as it is, so a refusal writes nothing).
        expect(await attempt(input({ hashes: [RIGHT] }))).toEqual({ outcome: 'exhausted' });
        expect(['3', '4']).toContain(await store.get(KEYS.attempts));
        expect(await store.get(KEYS.failures)).toBe('3');
        expect(await store.get(KEYS.challenge)).toBe(record);
      }),
    );

    it(
      'consumes on the right hash among several (rotation) and clears the failure count',
      run(async (store, attempt) => {
        const record = challengeRecord();
        await store.set(KEYS.challenge, record, 60_000);
        await store.set(KEYS.state, '["state"]', 60_000);
        expect((await attempt(input())).outcome).toBe('wrong');
        const result = await attempt(input({ hashes: ['other-hash-cccccccccccc', RIGHT] }));
        expect(result).toEqual({ outcome: 'right', challenge: record, state: '["state"]' });
        for (const key of [KEYS.challenge, KEYS.state, KEYS.attempts, KEYS.failures, KEYS.failedAt]) {
          expect(await store.get(key), key).toBeUndefined();
        }
        expect(await attempt(input({ hashes: [RIGHT] }))).toEqual({ outcome: 'missing' });
      }),
    );

    it(
      'answers busy while the account lock is held, and locked during the delay and the hard lock',
      run(async (store, attempt) => {
        await store.set(KEYS.challenge, challengeRecord(), 60_000);
        await store.set(KEYS.lock, '1', 60_000);
        expect(await attempt(input({ hashes: [RIGHT] }))).toEqual({ outcome: 'busy' });
        await store.delete(KEYS.lock);
        // 6 failures, threshold 5: a delay of 1000 × 2^1 ms after the last.
        await store.set(KEYS.failures, '6', 60_000);
        await store.set(KEYS.failedAt, String(NOW - 1999), 60_000);
        expect(await attempt(input({ hashes: [RIGHT] }))).toEqual({
          outcome: 'locked',
          failures: 6,
          failedAt: NOW - 1999,
        });
        expect(await store.get(KEYS.attempts)).toBeUndefined();
        await store.set(KEYS.failedAt, String(NOW - 2000), 60_000);
        expect((await attempt(input())).outcome).toBe('wrong');
        // The 7th failure; at 10 (hardLimit) the account stays locked whatever the time.
        await store.set(KEYS.failures, '10', 60_000);
        await store.set(KEYS.failedAt, String(NOW - 86_400_000), 60_000);
        expect((await attempt(input({ hashes: [RIGHT] }))).outcome).toBe('locked');
      }),
    );

    it(
      'of 50 concurrent right answers, exactly one consumes; of 50 wrong ones, at most maxAttempts are compared',
      run(async (store, attempt) => {
        await store.set(KEYS.challenge, challengeRecord(), 60_000);
        const rights = await Promise.all(
          Array.from({ length: 50 }, () => attempt(input({ hashes: [RIGHT] }))),
        );
        expect(rights.filter((r) => r.outcome === 'right')).toHaveLength(1);
        await store.set(KEYS.challenge, challengeRecord(), 60_000);
        const wrongs = await Promise.all(Array.from({ length: 50 }, () => attempt(input())));
        expect(wrongs.filter((r) => r.outcome === 'wrong')).toHaveLength(3);
        expect(wrongs.filter((r) => r.outcome === 'exhausted')).toHaveLength(47);
        expect(await store.get(KEYS.failures)).toBe('3');
      }),
    );
  });
}
