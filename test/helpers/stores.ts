import type { Store } from '../../src/stores/store.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Delays every call, so that concurrent requests really overlap inside the store. An inner
 * `compareAndSet` is kept (slower too): the same store, only slower.
 */
export function slowStore(inner: Store, delayMs: number): Store {
  const later = async <T>(call: () => Promise<T>) => {
    await sleep(delayMs);
    return call();
  };
  const slow: Store = {
    get: (k) => later(() => inner.get(k)),
    getMany: (keys) => later(() => Promise.all(keys.map((k) => inner.get(k)))),
    set: (k, v, ttl) => later(() => inner.set(k, v, ttl)),
    delete: (k) => later(() => inner.delete(k)),
    consume: (k) => later(() => inner.consume(k)),
    increment: (k, ttl) => later(() => inner.increment(k, ttl)),
  };
  const compareAndSet = inner.compareAndSet?.bind(inner);
  if (compareAndSet)
    slow.compareAndSet = (k, expected, v, ttl) => later(() => compareAndSet(k, expected, v, ttl));
  return slow;
}

/** A store whose every round trip (calls made while none is in flight) first runs `onRound`. */
export function slowRounds(inner: Store, onRound: () => void): Store {
  let inFlight = 0;
  const wrap =
    <A extends unknown[], R>(method: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (inFlight === 0) onRound();
      inFlight++;
      try {
        return await method(...args);
      } finally {
        inFlight--;
      }
    };
  return {
    get: wrap(inner.get.bind(inner)),
    set: wrap(inner.set.bind(inner)),
    delete: wrap(inner.delete.bind(inner)),
    consume: wrap(inner.consume.bind(inner)),
    increment: wrap(inner.increment.bind(inner)),
    getMany: inner.getMany && wrap(inner.getMany.bind(inner)),
  };
}

/** Keeps a copy of every key and value ever written. */
export function recordingStore(inner: Store): Store & { written: { key: string; value: string }[] } {
  const written: { key: string; value: string }[] = [];
  return {
    written,
    get: (k) => inner.get(k),
    getMany: (keys) => (inner.getMany ? inner.getMany(keys) : Promise.all(keys.map((k) => inner.get(k)))),
    set: async (k, v, ttl) => {
      written.push({ key: k, value: v });
      await inner.set(k, v, ttl);
    },
    delete: (k) => inner.delete(k),
    consume: (k) => inner.consume(k),
    increment: async (k, ttl) => {
      const n = await inner.increment(k, ttl);
      written.push({ key: k, value: String(n) });
      return n;
    },
  };
}

export type Operation = 'get' | 'getMany' | 'set' | 'delete' | 'consume' | 'increment';

/**
 * A store whose chosen operations throw or stall (fault injection). `faults` can be changed
 * while the test runs; `match` narrows a fault to keys with a given prefix (e.g. `c:`).
 */
export function faultyStore(inner: Store) {
  const faults = new Map<Operation, { mode: 'throw' | 'stall'; match?: string }>();
  const hits = (op: Operation, key: string) => {
    const fault = faults.get(op);
    return fault && (!fault.match || key.startsWith(fault.match)) ? fault.mode : undefined;
  };
  async function run<T>(op: Operation, key: string, call: () => Promise<T>): Promise<T> {
    const mode = hits(op, key);
    if (mode === 'throw') throw new Error(`injected ${op} failure`);
    if (mode === 'stall') return new Promise<T>(() => {});
    return call();
  }
  const store: Store = {
    get: (k) => run('get', k, () => inner.get(k)),
    getMany: (keys) => run('getMany', keys.join(' '), () => Promise.all(keys.map((k) => inner.get(k)))),
    set: (k, v, ttl) => run('set', k, () => inner.set(k, v, ttl)),
    delete: (k) => run('delete', k, () => inner.delete(k)),
    consume: (k) => run('consume', k, () => inner.consume(k)),
    increment: (k, ttl) => run('increment', k, () => inner.increment(k, ttl)),
  };
  return { store, faults };
}
