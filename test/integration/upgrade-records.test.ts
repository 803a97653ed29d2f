/**
 * Records the previous release wrote, still in a shared store when the new release starts: a
 * pending challenge must go on working (resend, voice) until it expires, never fail open.
 */
import { describe, expect, it } from 'vitest';
import { seal, unseal } from '../../src/crypto.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { createApp, createClock, json, SECRET, sendCode, signIn, USERS } from '../helpers/create-app.js';

/** The challenge record's sealed field (`CHALLENGE_FIELDS` in src/challenge.ts): the fourth. */
const SEALED = 3;

/** A store that writes each new challenge's sealed field as the previous release did: JSON. */
function asPreviousRelease(store: Store): Store {
  const old = Object.create(store) as Store;
  old.set = (key, value, ttlMs) => {
    if (key.startsWith('c:')) {
      const record = JSON.parse(value) as unknown[];
      const id = key.slice(2).replace(/[{}]/g, '');
      const text = unseal([SECRET], id, record[SEALED] as string) as string;
      const [code, to] = text.split(' ');
      record[SEALED] = seal(SECRET, id, JSON.stringify({ code, to }));
      return store.set(key, JSON.stringify(record), ttlMs);
    }
    return store.set(key, value, ttlMs);
  };
  return old;
}

describe('a challenge written by the previous release', () => {
  it('is resent with its code, and verified with it', async () => {
    const clock = createClock();
    const t = createApp({ clock, store: asPreviousRelease(memoryStore({ now: clock.now })) });
    const alice = await signIn(t);
    const code = await sendCode(t, alice);
    clock.advance(31_000);
    const resent = await json(alice, '/2fa/resend');
    expect(resent.status).toBe(200);
    expect(t.transport.lastCode(USERS.alice.phone)).toBe(code);
    expect((await json(alice, '/2fa/verify', { code })).status).toBe(200);
  });
});
