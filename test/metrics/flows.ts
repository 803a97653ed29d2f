// Scripted flows for the metrics suites: each drives a real app over HTTP, the way a user would.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect, onTestFinished } from 'vitest';
import type { TwoFactorOptions } from '../../src/options.js';
import { type FakeSmstoolsOptions, startFakeSmstools } from '../../src/testing/fake-smstools.js';
import { smstools } from '../../src/transports/smstools.js';
import {
  createApp,
  createClock,
  json,
  sendCode,
  signIn,
  type TestApp,
  USERS,
  wrongCode,
} from '../helpers/create-app.js';

const WEBHOOK_SECRET = 'webhook-secret-for-the-metrics-suite-0123';

/** The app with the memory transport and `options` (e.g. `metrics: { meterProvider }`). */
export const memoryApp = (options: Partial<TwoFactorOptions> = {}) => createApp({ options });

/**
 * The app on a real port with the real smstools() transport against the fake Smstools server,
 * which posts signed delivery reports back to the app's webhook.
 */
export async function smstoolsApp(options: Partial<TwoFactorOptions>, fakeOptions: FakeSmstoolsOptions = {}) {
  const clock = createClock();
  const fake = await startFakeSmstools({ now: clock.now, ...fakeOptions });
  const t = createApp({
    clock,
    transport: smstools({ ...fake.transportOptions(), webhookSecret: WEBHOOK_SECRET, sender: 'Acme' }),
    sentTexts: () => fake.messages.map((m) => m.message),
    options,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  onTestFinished(async () => {
    await fake.close();
    await new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  fake.webhook = { url: `http://127.0.0.1:${port}/2fa/webhooks/smstools`, secret: WEBHOOK_SECRET };
  return { t, fake };
}

/** Alice gets her code by SMS and types it 42 s later. */
export async function success(t: TestApp): Promise<void> {
  const agent = await signIn(t, 'alice');
  const code = await sendCode(t, agent, 'alice');
  t.clock.advance(42_000);
  await json(agent, '/2fa/verify', { code }).expect(200);
}

/** Alice types a wrong code, then the right one. */
export async function wrongThenRight(t: TestApp): Promise<void> {
  const agent = await signIn(t, 'alice');
  const code = await sendCode(t, agent, 'alice');
  await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
  await json(agent, '/2fa/verify', { code }).expect(200);
}

/** Alice's second SMS within the hour is refused by her number's budget (`limits.phonePerHour: 1`). */
export async function phoneBudgetRefusal(t: TestApp): Promise<void> {
  const agent = await signIn(t, 'alice');
  await sendCode(t, agent, 'alice');
  t.clock.advance(31_000);
  const res = await json(agent, '/2fa/resend').expect(429);
  expect(res.body.error.code).toBe('ERR_2FA_RATE_LIMITED');
}

/** Dave's number is in the US, which the app does not serve: refused before any provider call. */
export async function countryRefusal(t: TestApp): Promise<void> {
  const agent = await signIn(t, 'dave');
  await json(agent, '/2fa/send').expect(422);
}

/** Alice asks for a call once "call me instead" unlocks (30 s after the SMS). */
export async function callRequested(t: TestApp): Promise<void> {
  const agent = await signIn(t, 'alice');
  await sendCode(t, agent, 'alice');
  t.clock.advance(30_000);
  await json(agent, '/2fa/voice').expect(200);
}

export { USERS };
