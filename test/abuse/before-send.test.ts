/**
 * `beforeSend`: the app's veto on each SMS or call (security.md R-41: a VoIP number, a recent SIM
 * swap). It is asked after the budgets and before the provider, and it fails closed.
 */
import type request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BEFORE_SEND_TIMEOUT_MS,
  DEFAULT_STORE_TIMEOUT_MS,
  TRANSPORT_TIMEOUT_MS,
} from '../../src/constants.js';
import { TwoFactorError } from '../../src/errors.js';
import type { SendAttempt, TwoFactorOptions } from '../../src/options.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import { memoryTransport } from '../../src/transports/memory.js';
import { twoFactor } from '../../src/two-factor.js';
import {
  createApp,
  createClock,
  json,
  sendCode,
  signIn,
  type TestApp,
  USERS,
} from '../helpers/create-app.js';
import { slowRounds } from '../helpers/stores.js';

afterEach(() => {
  vi.useRealTimers();
});

const ALICE_MASKED = '+32 4•• •• •• 01';

function appWithHook(beforeSend: TwoFactorOptions['beforeSend'], options: Partial<TwoFactorOptions> = {}) {
  return createApp({ options: { beforeSend, ...options } });
}

const blocked = (t: TestApp) => t.events.filter((e) => e.type === 'send.blocked');

function expectSendFailed(res: request.Response): void {
  expect(res.status).toBe(503);
  expect(res.body.error.code).toBe('ERR_2FA_SEND_FAILED');
  expect(res.headers['retry-after']).toBe('30');
  expect(res.headers['cache-control']).toBe('no-store');
}

describe('beforeSend', () => {
  it('is asked about each send with the user, the full number, the country, the channel and the IP', async () => {
    const asked: SendAttempt[] = [];
    const t = appWithHook((send) => {
      asked.push(send);
      return true;
    });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    t.clock.advance(30_000);
    await json(agent, '/2fa/voice').expect(200);
    expect(asked).toEqual([
      { userId: USERS.alice.id, phone: USERS.alice.phone, country: 'BE', channel: 'sms', ip: '127.0.0.1' },
      { userId: USERS.alice.id, phone: USERS.alice.phone, country: 'BE', channel: 'voice', ip: '127.0.0.1' },
    ]);
    expect(t.transport.messages.map((m) => m.channel)).toEqual(['sms', 'voice']);
    await json(agent, '/2fa/verify', { code }).expect(200);
  });

  for (const [name, veto] of [
    ['returns false', () => false],
    ['resolves to false', async () => false],
  ] as const) {
    it(`refuses the send with 422 and no provider call when it ${name}`, async () => {
      const t = appWithHook(veto);
      const agent = await signIn(t);
      const res = await json(agent, '/2fa/send');
      expect(res.status).toBe(422);
      expect(res.body).toEqual({
        error: { code: 'ERR_2FA_DESTINATION_BLOCKED', message: 'Codes cannot be sent to this phone number.' },
      });
      expect(t.transport.messages).toEqual([]);
      expect(blocked(t)).toEqual([
        {
          type: 'send.blocked',
          at: t.clock.now(),
          userId: USERS.alice.id,
          phone: ALICE_MASKED,
          country: 'BE',
          ip: '127.0.0.1',
          channel: 'sms',
          reason: 'vetoed',
        },
      ]);
      // No challenge came out of it, and a veto is not a failed SMS: no automatic call either.
      expect((await agent.get('/2fa/status')).body).toEqual({ status: 'none' });
      expect((await json(agent, '/2fa/verify', { code: '123456' })).status).toBe(409);
    });
  }

  it('can refuse calls and allow SMS: the code still verifies', async () => {
    const t = appWithHook(({ channel }) => channel === 'sms');
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    t.clock.advance(30_000);
    const call = await json(agent, '/2fa/voice');
    expect(call.status).toBe(422);
    expect(call.body.error.code).toBe('ERR_2FA_DESTINATION_BLOCKED');
    expect(t.transport.messages.map((m) => m.channel)).toEqual(['sms']);
    expect(blocked(t).map((e) => [e.channel, e.reason])).toEqual([['voice', 'vetoed']]);
    await json(agent, '/2fa/verify', { code }).expect(200);
  });

  it('runs after the budgets, so a paid lookup it makes is bounded by them', async () => {
    let lookups = 0;
    const t = appWithHook(
      () => {
        lookups++;
        return false;
      },
      { limits: { ipPerHour: 3 } },
    );
    const agent = await signIn(t);
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await json(agent, '/2fa/send')).status);
    expect(answers).toEqual([422, 422, 422, 429, 429, 429]);
    expect(lookups).toBe(3);
  });

  describe('fails closed', () => {
    const FAILURES: [string, NonNullable<TwoFactorOptions['beforeSend']>, RegExp][] = [
      [
        'throws',
        ({ phone }) => {
          throw new Error(`lookup of ${phone} failed`);
        },
        /beforeSend failed for a sms to \+32 4•• •• •• 01; the send was refused/,
      ],
      [
        'rejects',
        async ({ phone }) => {
          throw new Error(`lookup of ${phone} failed`);
        },
        /beforeSend failed/,
      ],
      [
        'returns undefined',
        (() => undefined) as never,
        /beforeSend must return true or false \(got undefined\)/,
      ],
      ['returns a string', (() => 'yes') as never, /beforeSend must return true or false \(got string\)/],
    ];
    for (const [name, hook, logged] of FAILURES) {
      it(`answers 503 with no provider call, not even a call by voice.auto, when it ${name}`, async () => {
        const t = appWithHook(hook);
        const agent = await signIn(t);
        expectSendFailed(await json(agent, '/2fa/send'));
        expect(t.transport.messages).toEqual([]);
        expect((await agent.get('/2fa/status')).body).toEqual({ status: 'none' });
        expect(t.logs.some((line) => logged.test(line))).toBe(true);
        // The hook's own error text (here holding the full number) never reaches a log.
        expect(t.logs.join('\n')).not.toContain(USERS.alice.phone);
      });
    }

    for (const [name, hook] of [
      [
        'fails once, then would allow',
        (() => {
          let asked = 0;
          return () => {
            asked++;
            if (asked === 1) throw new Error('lookup API 502');
            return true;
          };
        })(),
      ],
      [
        'fails for SMS only',
        ({ channel }: SendAttempt) => {
          if (channel === 'sms') throw new Error('SMS risk API down');
          return true;
        },
      ],
    ] as const) {
      it(`does not turn its own failure into a voice.auto call when it ${name}`, async () => {
        const asked: string[] = [];
        const t = appWithHook((send) => {
          asked.push(send.channel);
          return hook(send);
        });
        const agent = await signIn(t);
        expectSendFailed(await json(agent, '/2fa/send'));
        expect(asked).toEqual(['sms']);
        expect(t.transport.messages).toEqual([]);
      });
    }

    it('answers 503 when it gives no answer within 5 s', async () => {
      let asked = () => {};
      const askedOnce = new Promise<void>((resolve) => {
        asked = resolve;
      });
      const t = appWithHook(
        () => {
          asked();
          return new Promise<boolean>(() => {});
        },
        { voice: false },
      );
      const agent = await signIn(t);
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      let settled = false;
      const pending = json(agent, '/2fa/send').then((res) => {
        settled = true;
        return res;
      });
      await askedOnce;
      await vi.advanceTimersByTimeAsync(BEFORE_SEND_TIMEOUT_MS - 1);
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expectSendFailed(await pending);
      expect(t.transport.messages).toEqual([]);
    });
  });

  for (const storeTimeoutMs of [DEFAULT_STORE_TIMEOUT_MS, 5_000]) {
    it(`leaves one send at a time per user when every step takes as long as it may (storeTimeoutMs ${storeTimeoutMs})`, async () => {
      // The send lock lives by the clock: store round trips each just inside storeTimeoutMs, an
      // SMS the provider refuses at its time bound, then the voice fallback (in the background,
      // under the lock again), each after a beforeSend at its bound. A second /send at the last
      // moment of the call must not send a second code.
      const clock = createClock();
      let slow = false;
      const slowest = (ms: number) => {
        if (slow) clock.advance(ms - 1);
      };
      const store = slowRounds(memoryStore({ now: clock.now }), () => slowest(storeTimeoutMs));
      let voiceStarted = () => {};
      const voiceRunning = new Promise<void>((resolve) => {
        voiceStarted = resolve;
      });
      let finishVoice = () => {};
      const voiceMayFinish = new Promise<void>((resolve) => {
        finishVoice = resolve;
      });
      const sent: string[] = [];
      const transport = {
        async sendSms() {
          slowest(TRANSPORT_TIMEOUT_MS);
          throw new TwoFactorError('ERR_2FA_SEND_FAILED', { cause: { destinationRefused: true } });
        },
        async sendVoice() {
          voiceStarted();
          slowest(TRANSPORT_TIMEOUT_MS);
          await voiceMayFinish;
          sent.push('voice');
          return { id: 'call-1' };
        },
      };
      const t = createApp({
        clock,
        store,
        transport,
        options: {
          storeTimeoutMs,
          beforeSend: () => {
            slowest(BEFORE_SEND_TIMEOUT_MS);
            return true;
          },
        },
      });
      const agent = await signIn(t);
      slow = true;
      const first = json(agent, '/2fa/send').then((res) => res);
      await voiceRunning;
      slow = false; // the clock now stands at the last moment of the slowest send
      // From another browser of the same user (no challenge cookie, a new session): the lock holds.
      const second = await json(await signIn(t), '/2fa/send');
      expect(second.status).toBe(429);
      expect(second.body.error.code).toBe('ERR_2FA_COOLDOWN');
      // From the first browser: its challenge is live, so it is reported, not sent again.
      const again = await json(agent, '/2fa/send');
      expect([200, 429]).toContain(again.status);
      finishVoice();
      expect((await first).status).toBe(200);
      await vi.waitFor(() => expect(sent).toEqual(['voice']));
      expect(sent).toEqual(['voice']);
    });
  }

  it('must be a function', () => {
    expect(() =>
      twoFactor({
        secret: 'x'.repeat(32),
        getUser: () => null,
        transport: memoryTransport(),
        allowedCountries: ['BE'],
        beforeSend: true as never,
      }),
    ).toThrow(/beforeSend.*must be a function/);
  });
});
