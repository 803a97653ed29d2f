/**
 * Two instances over one PostgreSQL table, one verifying through the table's function and one on
 * the five-method path (it found the function missing: an upgrade before `migrate()`, for up to a
 * minute; an enrollment verify takes that path always). The account's lock must keep them apart
 * both ways, so that no code is compared while another one of the account is being checked: the
 * function serialises on an advisory lock and refuses while the generic lock row exists; the
 * generic lock (`increment`) must refuse while a function holds that advisory lock.
 */
import { describe, expect, it } from 'vitest';
import { postgresStore } from '../../src/stores/postgres-store.js';
import type { Store, VerifyAttemptInput } from '../../src/stores/store.js';
import { type Agent, createApp, json, sendCode, signIn, wrongCode } from '../helpers/create-app.js';
import { lockSeedOf, lockWaits, requirePostgres, storeOnPool, usePoolPerTest } from '../helpers/postgres.js';

const postgresUp = await requirePostgres();

describe.skipIf(!postgresUp)('postgresStore(): the function path and the generic path of one account', () => {
  const db = usePoolPerTest('mixed_paths', { max: 8 });

  /**
   * Two instances behind one load balancer (one app here, so they share its sessions): each verify
   * goes to the instance `next` names. `missing` is told the function does not exist (42883).
   */
  async function instances() {
    const query = (text: string, params: unknown[]) => db.pool.query(text, params);
    const withFunction = postgresStore({ query, table: db.table });
    const missing = postgresStore({
      query: (text, params) =>
        text.includes(`"${db.table}_verify"(`)
          ? Promise.reject(Object.assign(new Error('function does not exist'), { code: '42883' }))
          : query(text, params),
      table: db.table,
    });
    await withFunction.migrate();
    let next: 'function' | 'missing' = 'function';
    const store: Store = {
      get: (key) => withFunction.get(key),
      getMany: (keys) => withFunction.getMany(keys),
      set: (key, value, ttlMs) => withFunction.set(key, value, ttlMs),
      delete: (key) => withFunction.delete(key),
      consume: (key) => withFunction.consume(key),
      increment: (key, ttlMs) => withFunction.increment(key, ttlMs),
      compareAndSet: (key, expected, value, ttlMs) => withFunction.compareAndSet(key, expected, value, ttlMs),
      verifyAttempt: (input: VerifyAttemptInput) =>
        (next === 'function' ? withFunction : missing).verifyAttempt(input),
    };
    const t = createApp({
      store,
      options: { maxAttempts: 10, lockout: { threshold: 3, baseMs: 60_000, hardLimit: 100 } },
    });
    const alice = await signIn(t, 'alice');
    const code = await sendCode(t, alice);
    return {
      t,
      alice,
      code,
      on: (instance: 'function' | 'missing') => {
        next = instance;
      },
    };
  }

  /** Sends a verify now (supertest sends on `then`) and tells when it is done. */
  function verify(agent: Agent, code: string) {
    let done = false;
    const answer = json(agent, '/2fa/verify', { code }).then((res) => {
      done = true;
      return { status: res.status, code: (res.body as { error?: { code?: string } }).error?.code };
    });
    return { answer, done: () => done };
  }

  it('refuses a generic verify while a function call of the account runs (it would compare on a stale failure count)', async () => {
    const { t, alice, code, on } = await instances();
    on('function');
    // Two failures: the third (threshold) starts the delay.
    for (let i = 0; i < 2; i++) await json(alice, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    // Hold every row, so the function stops at its count of the next wrong code (it holds the
    // account's advisory lock, has read the failure count and compared) until the holder commits.
    await db.holder.query('BEGIN');
    await db.holder.query(`SELECT 1 FROM "${db.table}" FOR UPDATE`);
    const first = verify(alice, wrongCode(code));
    await expect.poll(() => lockWaits(db.pool, db.table)).toBe(1);
    // Another instance, on the generic path, checks a code of the same account meanwhile.
    on('missing');
    const second = verify(alice, wrongCode(code));
    await expect.poll(async () => second.done() || (await lockWaits(db.pool, db.table)) === 2).toBe(true);
    await db.holder.query('COMMIT');
    const answers = [await first.answer, await second.answer];
    // One code compared (the function's, the third failure); the other refused, never compared.
    expect(answers).toEqual([
      { status: 400, code: 'ERR_2FA_CODE_INVALID' },
      { status: 429, code: 'ERR_2FA_COOLDOWN' },
    ]);
    expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(3);
    expect(t.logs.filter((m) => m.includes('_verify'))).toHaveLength(1);
  });

  it('refuses a function verify while a generic verify of the account holds its lock', async () => {
    const { t, alice, code, on } = await instances();
    on('function');
    await json(alice, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    // The generic verify takes the account's lock, then stops at its count of the attempt.
    await db.holder.query('BEGIN');
    await db.holder.query(`SELECT 1 FROM "${db.table}" FOR UPDATE`);
    on('missing');
    const first = verify(alice, wrongCode(code));
    await expect.poll(() => lockWaits(db.pool, db.table)).toBe(1);
    on('function');
    const second = await verify(alice, wrongCode(code)).answer;
    await db.holder.query('COMMIT');
    expect([await first.answer, second]).toEqual([
      { status: 400, code: 'ERR_2FA_CODE_INVALID' },
      { status: 429, code: 'ERR_2FA_COOLDOWN' },
    ]);
    expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(2);
  });

  it('increment: while a verify function holds the key’s advisory lock, answers taken and writes nothing', async () => {
    const store = storeOnPool(db);
    await store.migrate();
    expect(await store.increment('counter', 60_000)).toBe(1);
    // What the function takes first, held by a transaction that stays open.
    await db.holder.query('BEGIN');
    // A key of its own: advisory locks are database-wide, shared with other test files' tables.
    await db.holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2::bigint))', [
      'mixed:v:{u1}',
      lockSeedOf(db.table),
    ]);
    const held = await store.increment('mixed:v:{u1}', 60_000);
    expect(held).toBeGreaterThan(1);
    expect(Number.isSafeInteger(held)).toBe(true);
    expect(await store.get('mixed:v:{u1}')).toBeUndefined();
    // Other keys count as before, and increments of one key never refuse each other.
    const counts = await Promise.all(Array.from({ length: 20 }, () => store.increment('counter', 60_000)));
    expect(counts.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    await db.holder.query('COMMIT');
    expect(await store.increment('mixed:v:{u1}', 60_000)).toBe(1);
  });

  it('increment: a verify lock held on another table of the database does not count (locks are per table)', async () => {
    const store = storeOnPool(db);
    await store.migrate();
    await db.holder.query('BEGIN');
    // The same key's lock as another table's verify function takes it.
    await db.holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, $2::bigint))', [
      'mixed:v:{u2}',
      lockSeedOf(`${db.table}_other`),
    ]);
    expect(await store.increment('mixed:v:{u2}', 60_000)).toBe(1);
    await db.holder.query('COMMIT');
  });
});
