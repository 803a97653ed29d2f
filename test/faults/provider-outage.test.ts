/**
 * Smstools misbehaving, through the real smstools() transport against the fake server: which
 * failures fall back to a voice call (only the ones about this number), what an outage costs the
 * user (nothing of the budgets; 503 with Retry-After while it lasts), and how long /send may take
 * (one provider call, whatever the fallback does afterwards).
 */
import type { Server } from 'node:http';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { TwoFactorOptions } from '../../src/options.js';
import {
  type FakeSmstools,
  type FakeSmstoolsFailure,
  type FakeSmstoolsOptions,
  startFakeSmstools,
} from '../../src/testing/fake-smstools.js';
import { type SmstoolsOptions, smstools } from '../../src/transports/smstools.js';
import { type Agent, createApp, json, signIn, type TestApp, USERS } from '../helpers/create-app.js';

/** The app on a real port with smstools() against the fake; the fake is closed when the test ends. */
async function outageApp(
  fakeOptions: FakeSmstoolsOptions = {},
  options: Partial<TwoFactorOptions> = {},
  transportOptions: Partial<SmstoolsOptions> = {},
): Promise<{ t: TestApp; fake: FakeSmstools }> {
  const fake = await startFakeSmstools(fakeOptions);
  const t = createApp({
    transport: smstools({ ...fake.transportOptions(), sender: 'Acme', ...transportOptions }),
    sentTexts: () => fake.requests.map((r) => String((r.body as { message?: unknown }).message)),
    options,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  onTestFinished(async () => {
    await fake.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { t, fake };
}

const calls = (fake: FakeSmstools) => fake.requests.filter((r) => r.path === '/v1/voice/send');
const smsTries = (fake: FakeSmstools) => fake.requests.filter((r) => r.path === '/v1/message/send');

async function eventually(check: () => void | Promise<void>, timeoutMs = 8000): Promise<void> {
  const start = Date.now();
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() - start > timeoutMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function expectOutageAnswer(agent: Agent): Promise<void> {
  const res = await json(agent, '/2fa/send');
  expect(res.status).toBe(503);
  expect(res.body.error.code).toBe('ERR_2FA_SEND_FAILED');
  expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
}

/** Failures of the provider or the account: a call would fail the same way. */
const PROVIDER_FAILURES: [string, FakeSmstoolsFailure][] = [
  ['an HTML 502 page', 'html-5xx'],
  ['a 503', { mode: 'html-5xx', status: 503 }],
  ['a 429', '429'],
  ['error 104 (credentials)', { error: '104' }],
  ['error 105 (server trouble)', { error: '105', status: 500 }],
  ['error 108 (no credit)', { error: '108' }],
  ['error 200 (IP not allowed)', { error: '200' }],
  ['error 1002 (too many logins)', { error: '1002' }],
  ['a reset connection', 'reset'],
  ['a 200 without a message id', 'no-messageid'],
];

describe('POST /2fa/send while Smstools fails (voice.auto on)', () => {
  for (const [name, failure] of PROVIDER_FAILURES) {
    it(`answers 503 with Retry-After and places no call on ${name}`, async () => {
      const { t, fake } = await outageApp();
      fake.failMode = failure;
      const agent = await signIn(t);
      await expectOutageAnswer(agent);
      expect(smsTries(fake)).toHaveLength(1);
      expect(calls(fake)).toHaveLength(0);
      expect(t.events.map((e) => e.type)).toEqual(['code.send_failed']);
      expect((await agent.get('/2fa/status')).body).toEqual({ status: 'none' });
    });
  }

  it('answers 503, not a timeout-long wait for a call, when Smstools hangs', async () => {
    const { t, fake } = await outageApp({}, {}, { timeoutMs: 300 });
    fake.failMode = { mode: 'slow', delayMs: 60_000 };
    await expectOutageAnswer(await signIn(t));
    expect(calls(fake)).toHaveLength(0);
  });

  it('spends none of the user’s budgets: three tries in an outage, then the first try after it sends', async () => {
    const { t, fake } = await outageApp();
    fake.failMode = { mode: 'html-5xx', status: 503 };
    const agent = await signIn(t);
    for (let i = 0; i < 3; i++) await expectOutageAnswer(agent);
    fake.failMode = undefined; // Smstools is back
    const res = await json(agent, '/2fa/send');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'sent', channel: 'sms' });
    expect(fake.messages.map((m) => m.channel)).toEqual(['sms']);
  });

  it('leaves the number its whole hourly budget after an outage (5 sends still go out)', async () => {
    const { t, fake } = await outageApp();
    fake.failMode = 'html-5xx';
    for (let i = 0; i < 5; i++) await expectOutageAnswer(await signIn(t));
    fake.failMode = undefined;
    for (let i = 0; i < 5; i++) await json(await signIn(t), '/2fa/send').expect(200);
    expect(fake.messages).toHaveLength(5);
    const sixth = await json(await signIn(t), '/2fa/send');
    expect(sixth.status).toBe(429);
    expect(sixth.body.error.code).toBe('ERR_2FA_RATE_LIMITED');
  });
});

describe('POST /2fa/send when Smstools refuses the number for SMS (voice.auto on)', () => {
  for (const code of ['106', '131']) {
    it(`calls instead after error ${code}, with the same code, and that code verifies`, async () => {
      const { t, fake } = await outageApp();
      fake.failNext({ error: code });
      const agent = await signIn(t);
      const sent = await json(agent, '/2fa/send').expect(200);
      expect(sent.body).toMatchObject({ status: 'sent', channel: 'voice' });
      await eventually(() => expect(fake.messages.map((m) => m.channel)).toEqual(['voice']));
      await json(agent, '/2fa/verify', { code: fake.lastCode() }).expect(200);
      expect((await agent.get('/account').expect(200)).text).toBe('account of u-alice via voice');
    });
  }

  it('answers 422 ERR_2FA_DESTINATION_BLOCKED when voice is off: no retry will help', async () => {
    const { t, fake } = await outageApp({ failSmsTo: [USERS.alice.phone] }, { voice: false });
    const agent = await signIn(t);
    const res = await json(agent, '/2fa/send').expect(422);
    expect(res.body.error.code).toBe('ERR_2FA_DESTINATION_BLOCKED');
    expect(fake.messages).toHaveLength(0);
    expect((await agent.get('/2fa/status')).body).toEqual({ status: 'none' });
  });

  it('answers at once and places the call in the background: the page follows it on /status', async () => {
    const { t, fake } = await outageApp({}, {}, { timeoutMs: 2000 });
    fake.failNext({ error: '106' }); // the SMS: refused at once
    fake.failNext({ mode: 'slow', delayMs: 60_000 }); // the call: Smstools hangs
    const agent = await signIn(t);
    const sent = await json(agent, '/2fa/send');
    // The answer came while the call is still hanging at Smstools.
    expect(sent.status).toBe(200);
    expect(sent.body).toMatchObject({ status: 'sent', channel: 'voice' });
    expect(fake.messages).toHaveLength(0);
    expect((await agent.get('/2fa/status')).body).toMatchObject({ status: 'calling', channel: 'voice' });
    // The call times out in the background; /status says the code did not get through.
    await eventually(async () =>
      expect((await agent.get('/2fa/status')).body).toMatchObject({
        status: 'undelivered',
        channel: 'voice',
      }),
    );
    expect(calls(fake)).toHaveLength(1);
  });
});
