/**
 * An app object made from a memoryStore()'s methods (`{ ...store, get: wrapped }`: a namespace, a
 * test helper that injects faults) inherits its native verifyAttempt, which reads the store's own
 * Maps and so bypasses the wrapped methods. The verify route uses a memoryStore()'s verifyAttempt
 * only on that store itself, methods unreplaced; a copy verifies on the five methods it was given.
 */
import { describe, expect, it } from 'vitest';
import { guardStore } from '../../src/stores/guarded-store.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { createApp, createClock, json, sendCode, signIn } from '../helpers/create-app.js';

/** Every key under `ns`, by wrapping the methods that take keys; the rest is copied. */
function namespaced(ns: string, inner: ReturnType<typeof memoryStore>): Store {
  const k = (key: string) => ns + key;
  return {
    ...inner,
    get: (key) => inner.get(k(key)),
    getMany: (keys) => inner.getMany(keys.map(k)),
    set: (key, value, ttlMs) => inner.set(k(key), value, ttlMs),
    delete: (key) => inner.delete(k(key)),
    consume: (key) => inner.consume(k(key)),
    increment: (key, ttlMs) => inner.increment(k(key), ttlMs),
    compareAndSet: (key, expected, value, ttlMs) => inner.compareAndSet(k(key), expected, value, ttlMs),
  };
}

describe('a memoryStore() whose methods an app object wraps', () => {
  it('verifies through the wrapped methods (a namespace): the right code passes', async () => {
    const clock = createClock();
    const t = createApp({ clock, store: namespaced('app1:', memoryStore({ now: clock.now })) });
    const alice = await signIn(t);
    const code = await sendCode(t, alice);
    const res = await json(alice, '/2fa/verify', { code });
    expect(res.status, res.text).toBe(200);
    await alice.get('/api/data').expect(200);
  });

  it('sees the faults a test helper injects into a copied store', async () => {
    const clock = createClock();
    const inner = memoryStore({ now: clock.now });
    let failIncrements = false;
    const store: Store = {
      ...inner,
      increment: (key, ttlMs) =>
        failIncrements ? Promise.reject(new Error('injected')) : inner.increment(key, ttlMs),
    };
    const t = createApp({ clock, store });
    const alice = await signIn(t);
    const code = await sendCode(t, alice);
    failIncrements = true;
    const res = await json(alice, '/2fa/verify', { code });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('ERR_2FA_STORE_UNAVAILABLE');
    failIncrements = false;
    await json(alice, '/2fa/verify', { code }).expect(200);
  });

  it('sees a fault injected into the memoryStore() itself after the app was built', async () => {
    const clock = createClock();
    const store = memoryStore({ now: clock.now });
    const t = createApp({ clock, store });
    const alice = await signIn(t);
    const code = await sendCode(t, alice);
    const increment = store.increment;
    store.increment = () => Promise.reject(new Error('injected'));
    const res = await json(alice, '/2fa/verify', { code });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('ERR_2FA_STORE_UNAVAILABLE');
    store.increment = increment;
    await json(alice, '/2fa/verify', { code }).expect(200);
  });

  it('keeps the one-call verify for the memoryStore() itself, and for other stores’ own verifyAttempt', () => {
    const store = memoryStore();
    expect(guardStore(store, 1_000).verifyAttempt).toBeTypeOf('function');
    expect(guardStore({ ...store }, 1_000).verifyAttempt).toBeUndefined();
    expect(guardStore({ ...store, get: store.get }, 1_000).verifyAttempt).toBeUndefined();
    const replaced = memoryStore();
    replaced.get = async () => undefined;
    expect(guardStore(replaced, 1_000).verifyAttempt).toBeUndefined();
    // A custom store's own verifyAttempt is its own business: used as it is.
    const custom: Store = {
      ...namespaced('x:', memoryStore()),
      verifyAttempt: async () => ({ outcome: 'missing' }),
    };
    expect(guardStore(custom, 1_000).verifyAttempt).toBeTypeOf('function');
  });
});
