import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { createClock, json, signIn, USERS } from '../helpers/create-app.js';
import { createLifecycleApp, createVault } from '../helpers/lifecycle.js';

const DAY = 24 * 3600_000;

/** A promise and the function that resolves it. */
function signal() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A memory store whose next increment of a verify lock (`v:` keys) can be held back until released. */
function lockGatedStore(now: () => number) {
  const inner = memoryStore({ now });
  let held: { arrived: ReturnType<typeof signal>; release: ReturnType<typeof signal> } | null = null;
  const store: Store = {
    get: (k) => inner.get(k),
    set: (k, v, t) => inner.set(k, v, t),
    delete: (...k: string[]) => (inner.delete as (...keys: string[]) => Promise<void>)(...k),
    consume: (k) => inner.consume(k),
    getMany: (k) => inner.getMany(k),
    compareAndSet: (k, e, v, t) => inner.compareAndSet(k, e, v, t),
    increment: async (k, t) => {
      const gate = held;
      if (gate && k.startsWith('v:')) {
        held = null;
        gate.arrived.resolve();
        await gate.release.promise;
      }
      return inner.increment(k, t);
    },
  };
  return {
    store,
    /** Holds the next verify-lock increment: `arrived` when it comes, it lands on `release`. */
    hold() {
      held = { arrived: signal(), release: signal() };
      return held;
    },
  };
}

describe('recovery codes: a new set replaces the old one, also while a code is being used', () => {
  it('generate while a use of an old code waits for the app database: the new set stays in force', async () => {
    const vault = createVault();
    const load = vault.options.load;
    let slow: { arrived: ReturnType<typeof signal>; release: ReturnType<typeof signal> } | null = null;
    // The database reads the set as it is when asked, and answers late.
    vault.options.load = async (userId) => {
      const snapshot = await load(userId);
      const gate = slow;
      if (gate) {
        slow = null;
        gate.arrived.resolve();
        await gate.release.promise;
      }
      return snapshot;
    };
    const t = createLifecycleApp({ vault });
    const old = await t.tfa.recovery.generate(USERS.alice.id);
    const agent = await signIn(t);
    slow = { arrived: signal(), release: signal() };
    const gate = slow;
    const using = json(agent, '/2fa/recovery/verify', { code: old[0] }).then((res) => res);
    await gate.arrived.promise;
    const regenerating = t.tfa.recovery.generate(USERS.alice.id);
    await new Promise((resolve) => setTimeout(resolve, 30));
    gate.release.resolve();
    const [used, fresh] = await Promise.all([using, regenerating]);
    expect(used.status).toBe(200);

    // The user's new set is the one in force: the old codes no longer open the account.
    const other = await signIn(t);
    await json(other, '/2fa/recovery/verify', { code: old[1] }).expect(400);
    await json(other, '/2fa/recovery/verify', { code: fresh[0] }).expect(200);
    expect(vault.saved.get(USERS.alice.id)).toHaveLength(fresh.length - 1);
  });

  it('a use whose turn comes after a new set was saved checks the new set, not the set read before', async () => {
    const clock = createClock();
    const gated = lockGatedStore(clock.now);
    const vault = createVault();
    const t = createLifecycleApp({ vault, clock, store: gated.store });
    const old = await t.tfa.recovery.generate(USERS.alice.id);
    const agent = await signIn(t);
    // The use's lock round trip is slow (the store far away, the database near).
    const held = gated.hold();
    const using = json(agent, '/2fa/recovery/verify', { code: old[0] }).then((res) => res);
    await held.arrived.promise;
    const fresh = await t.tfa.recovery.generate(USERS.alice.id);
    held.release.resolve();
    // The old set was replaced before this use got its turn: old[0] is no code any more.
    expect((await using).status).toBe(400);
    expect(vault.saved.get(USERS.alice.id)).toHaveLength(fresh.length);
    const other = await signIn(t);
    await json(other, '/2fa/recovery/verify', { code: old[1] }).expect(400);
    await json(other, '/2fa/recovery/verify', { code: fresh[0] }).expect(200);
  });
});

describe('recovery codes: a used code never comes back', () => {
  it('a stale read of the set (a replica, a slow save) does not write a used code back into it', async () => {
    const vault = createVault();
    const load = vault.options.load;
    let lagging: string[] | null = null;
    // One read from a replica that has not seen the last save yet.
    vault.options.load = async (userId) => {
      const stale = lagging;
      lagging = null;
      return stale ?? load(userId);
    };
    const t = createLifecycleApp({ vault });
    const codes = await t.tfa.recovery.generate(USERS.alice.id);
    const before = [...(vault.saved.get(USERS.alice.id) ?? [])];
    await json(await signIn(t), '/2fa/recovery/verify', { code: codes[0] }).expect(200);
    lagging = before;
    await json(await signIn(t), '/2fa/recovery/verify', { code: codes[1] }).expect(200);
    expect(vault.saved.get(USERS.alice.id)).toHaveLength(codes.length - 2);
    // Long after, when the store's "used" mark is gone, the first code is still used.
    t.clock.advance(31 * DAY);
    await json(await signIn(t), '/2fa/recovery/verify', { code: codes[0] }).expect(400);
  });
});
