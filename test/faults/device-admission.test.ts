/**
 * A remembered device checked while the store fails (security R-31: the guard fails closed, with a
 * clear, retryable answer): the guard's one store read for the device throws or stalls, so the
 * request may not pass, and it is answered 503 ERR_2FA_STORE_UNAVAILABLE with Retry-After, as the
 * routes answer a store failure. Not 401 "verify again": that would send a remembered device
 * through an SMS it does not need (and whose send fails in the same outage anyway).
 */
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/stores/memory-store.js';
import { createClock, EXPRESS_VERSIONS } from '../helpers/create-app.js';
import { watchUnhandledRejections } from '../helpers/faults.js';
import { createLifecycleApp, signInAgain, verifiedAgent } from '../helpers/lifecycle.js';
import { faultyStore } from '../helpers/stores.js';

watchUnhandledRejections();

const STORE_TIMEOUT_MS = 200;

const setsCookie = (res: { headers: Record<string, unknown> }, name: string) =>
  ([] as string[])
    .concat((res.headers['set-cookie'] as string[] | undefined) ?? [])
    .some((c) => c.startsWith(`${name}=`));

describe.each(EXPRESS_VERSIONS)(
  'the guard on a remembered device while the store fails, on %s',
  (_n, express) => {
    for (const mode of ['throw', 'stall'] as const) {
      it(`answers 503 ERR_2FA_STORE_UNAVAILABLE with Retry-After when the read ${mode}s, then admits once it answers`, async () => {
        const clock = createClock();
        const { store, faults } = faultyStore(memoryStore({ now: clock.now }));
        const t = createLifecycleApp({
          express,
          clock,
          store,
          options: { storeTimeoutMs: STORE_TIMEOUT_MS },
        });
        const agent = await verifiedAgent(t, 'alice', { remember: true });
        await signInAgain(agent);
        const sent = t.transport.messages.length;

        faults.set('get', { mode });
        const api = await agent.get('/api/data');
        expect(api.status).toBe(503);
        expect(api.body.error.code).toBe('ERR_2FA_STORE_UNAVAILABLE');
        expect(Number(api.headers['retry-after'])).toBeGreaterThan(0);
        expect(api.headers['cache-control']).toBe('no-store');
        expect(setsCookie(api, '2fa')).toBe(false);
        // The device keeps its cookie: the store said nothing about it.
        expect(setsCookie(api, '2fa-device')).toBe(false);

        // A browser navigation is not sent to the SMS page either.
        const page = await agent.get('/account').set('Accept', 'text/html');
        expect(page.status).toBe(503);
        expect(Number(page.headers['retry-after'])).toBeGreaterThan(0);
        expect(page.headers.location).toBeUndefined();

        faults.clear();
        const back = await agent.get('/account').expect(200);
        expect(back.text).toBe('account of u-alice via device');
        expect(t.transport.messages).toHaveLength(sent);
      });
    }
  },
);
