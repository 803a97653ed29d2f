import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/stores/memory-store.js';
import { createApp, createClock, type TestApp, USERS } from '../helpers/create-app.js';
import { headerUser } from '../helpers/faults.js';

const MINUTE = 60_000;

/** POST /2fa/send as a new user from its own IPv6 /64, to the one shared number. */
function sendFrom64(t: TestApp, i: number) {
  const userId = `user-${i}`;
  t.phones.set(userId, USERS.alice.phone);
  return request(t.app)
    .post('/2fa/send')
    .set('Content-Type', 'application/json')
    .set('X-Test-User', userId)
    .set('X-Forwarded-For', `2001:db8:${i.toString(16)}:1::1`)
    .send('{}');
}

describe('a memoryStore({ max }) the app creates itself', () => {
  it('lets per-IP send counters go when full, like the default store, instead of refusing every user', async () => {
    const clock = createClock();
    // Room for one wave of 15 sends (a challenge, its state, the session link and an IP counter
    // each, plus the number's shared budgets), not for two: the second wave only fits if the first
    // wave's per-IP counters, which outlive the challenges, may go.
    const store = memoryStore({ max: 70, now: clock.now });
    const t: TestApp = createApp({
      clock,
      store,
      options: {
        getUser: headerUser(() => t.phones),
        limits: { phonePerHour: 1000, phonePerDay: 10_000, prefixPerHour: 1000 },
      },
    });
    t.app.set('trust proxy', true);
    const statuses: number[] = [];
    for (let wave = 0; wave < 3; wave++) {
      for (let i = 0; i < 15; i++) statuses.push((await sendFrom64(t, wave * 100 + i)).status);
      clock.advance(16 * MINUTE); // the wave's challenges expire; its IP counters live on
    }
    expect(statuses).toEqual(Array(45).fill(200));
    expect(t.transport.messages).toHaveLength(45);
  });
});
