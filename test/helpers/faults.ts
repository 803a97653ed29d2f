import type { Request } from 'express';
import { afterEach, beforeEach, expect } from 'vitest';
import type { Store } from '../../src/stores/store.js';
import type { SmsMessage, SmsTransport, VoiceMessage } from '../../src/transports/transport.js';
import { type CreateAppOptions, createApp, type TestApp } from './create-app.js';
import type { faultyStore, Operation } from './stores.js';

// ---------------------------------------------------------------------------------------------
// Transports that fail on purpose
// ---------------------------------------------------------------------------------------------

export interface Call {
  channel: 'sms' | 'voice';
  to: string;
  text: string;
}

/** What one channel does with a message: resolve with anything (garbage included) or throw. */
export type Behaviour = (msg: SmsMessage) => unknown;

export interface FakeTransport extends SmsTransport {
  /** Every call the core made, successful or not, oldest first. */
  calls: Call[];
  /** Changes a channel's behaviour while the test runs. */
  behave: { sms: Behaviour; voice: Behaviour };
}

export const ok: Behaviour = () => Promise.resolve({ id: `fake-${Math.random().toString(36).slice(2)}` });

/**
 * A transport whose channels do what the test says. `voice: false` leaves `sendVoice` out, as a
 * provider without calls would.
 */
export function fakeTransport(opts: { sms?: Behaviour; voice?: Behaviour | false } = {}): FakeTransport {
  const calls: Call[] = [];
  const behave = { sms: opts.sms ?? ok, voice: opts.voice || ok };
  const transport: FakeTransport = {
    calls,
    behave,
    sendSms(msg: SmsMessage) {
      calls.push({ channel: 'sms', to: msg.to, text: msg.text });
      return behave.sms(msg) as Promise<{ id?: string }>;
    },
  };
  if (opts.voice !== false) {
    transport.sendVoice = (msg: VoiceMessage) => {
      calls.push({ channel: 'voice', to: msg.to, text: msg.text });
      return behave.voice(msg) as Promise<{ id?: string }>;
    };
  }
  return transport;
}

/** A channel that rejects with `error` (built per call, so it can name the message). */
export const rejects =
  (error: (msg: SmsMessage) => unknown): Behaviour =>
  (msg) =>
    Promise.reject(error(msg));

/** A channel that never answers; `called` resolves once the core is waiting on it. */
export function stalls(): Behaviour & { called: Promise<void>; release: (value?: unknown) => void } {
  let markCalled = () => {};
  let release: (value?: unknown) => void = () => {};
  const called = new Promise<void>((resolve) => {
    markCalled = resolve;
  });
  const behaviour = () => {
    markCalled();
    return new Promise((resolve) => {
      release = resolve;
    });
  };
  return Object.assign(behaviour, { called, release: (value?: unknown) => release(value) });
}

/** An app on a fake transport; the leak scan learns the codes from every attempted message. */
export function appWith(transport: FakeTransport, opts: Omit<CreateAppOptions, 'transport'> = {}): TestApp {
  return createApp({ ...opts, transport, sentTexts: () => transport.calls.map((c) => c.text) });
}

/** The code in a message text (SMS digits, or the voice text's spoken digits). */
export function codeOf(call: Call | undefined): string {
  const text = call?.text ?? '';
  const plain = text.match(/\b\d{6,10}\b/)?.[0];
  const spoken = text.match(/\d(?:[ ,.]+\d){5,9}/)?.[0]?.replace(/\D/g, '');
  const code = plain ?? spoken;
  if (!code) throw new Error('no code in that message');
  return code;
}

// ---------------------------------------------------------------------------------------------
// Stores that fail on purpose
// ---------------------------------------------------------------------------------------------

/**
 * Counts the calls that hit an injected fault of `faultyStore()`, so a test can tell a fault
 * the route met from one it never reached.
 */
export function countingFaults(faulty: ReturnType<typeof faultyStore>) {
  const hits: Operation[] = [];
  const { store: inner, faults } = faulty;
  const hit = (op: Operation, key: string) => {
    const fault = faults.get(op);
    if (fault && (!fault.match || key.startsWith(fault.match))) hits.push(op);
  };
  /** The key a call is about: its first argument (`getMany`'s keys joined, as faultyStore does). */
  const watched =
    <A extends [string | string[], ...unknown[]], R>(op: Operation, call: (...args: A) => R) =>
    (...args: A): R => {
      hit(op, Array.isArray(args[0]) ? args[0].join(' ') : args[0]);
      return call(...args);
    };
  const store: Store = {
    get: watched('get', (k: string) => inner.get(k)),
    getMany: watched('getMany', (keys: string[]) => inner.getMany?.(keys) ?? Promise.resolve([])),
    set: watched('set', (k: string, v: string, ttl: number) => inner.set(k, v, ttl)),
    delete: watched('delete', (k: string) => inner.delete(k)),
    consume: watched('consume', (k: string) => inner.consume(k)),
    increment: watched('increment', (k: string, ttl: number) => inner.increment(k, ttl)),
  };
  return { store, faults, hits };
}

/**
 * A custom store with a bug: for challenge keys (`c:`) it hands back `bend(record)` instead of the
 * record, on reads (`get`, `getMany`), on `consume`, or both.
 */
export function garbageStore(
  inner: Store,
  bend: (record: string) => unknown,
  on: readonly ('read' | 'consume')[] = ['read', 'consume'],
): Store {
  const bent = (op: 'read' | 'consume', key: string, value: string | undefined) =>
    (on.includes(op) && key.startsWith('c:') && value !== undefined ? bend(value) : value) as
      | string
      | undefined;
  return {
    get: async (k) => bent('read', k, await inner.get(k)),
    getMany: async (keys) => Promise.all(keys.map(async (k) => bent('read', k, await inner.get(k)))),
    set: (k, v, ttl) => inner.set(k, v, ttl),
    delete: (k) => inner.delete(k),
    consume: async (k) => bent('consume', k, await inner.consume(k)),
    increment: (k, ttl) => inner.increment(k, ttl),
  };
}

// ---------------------------------------------------------------------------------------------
// Process health
// ---------------------------------------------------------------------------------------------

/** Collects unhandled rejections while each test of the file runs, and fails the test on any. */
export function watchUnhandledRejections(): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown) => seen.push(reason);
  beforeEach(() => {
    seen.length = 0;
    process.on('unhandledRejection', listener);
  });
  afterEach(async () => {
    // Let late rejections (a timed-out store call, a stalled transport) surface first.
    await new Promise((resolve) => setImmediate(resolve));
    process.off('unhandledRejection', listener);
    expect(seen, 'unhandled rejections').toEqual([]);
  });
  return seen;
}

// ---------------------------------------------------------------------------------------------
// Many users, many numbers
// ---------------------------------------------------------------------------------------------

/**
 * `getUser` for abuse tests: the user id comes from the `X-Test-User` header and the number on file
 * from `t.phones`, so one request is one new browser (no cookie jar) and numbers change freely.
 * Every number used stays in `t.phones`, so the leak scan looks for all of them.
 */
export function headerUser(phones: () => Map<string, string>) {
  return (req: Request) => {
    const id = req.headers['x-test-user'];
    if (typeof id !== 'string') return null;
    const phone = phones().get(id);
    return phone === undefined ? null : { id, phone, sessionId: `session-of-${id}` };
  };
}

/** A valid Belgian mobile number whose prefix (all but the last 3 digits) differs for each `i` < 100. */
export const numberInOwnPrefix = (i: number) => `+324701${String(i).padStart(2, '0')}401`;
/** A valid Belgian mobile number in the shared prefix `+32470123`, for `i` < 1000. */
export const numberInSharedPrefix = (i: number) => `+32470123${String(i).padStart(3, '0')}`;
