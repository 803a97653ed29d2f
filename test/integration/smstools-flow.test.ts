import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { type FakeSmstools, startFakeSmstools } from '../../src/testing/fake-smstools.js';
import { signWebhook } from '../../src/testing/fake-smstools-rules.js';
import { smstools } from '../../src/transports/smstools.js';
import { createApp, createClock, json, signIn, type TestApp, USERS } from '../helpers/create-app.js';

const WEBHOOK_SECRET = 'webhook-secret-for-the-fake-0123456789';
const open: { fake: FakeSmstools; server?: Server }[] = [];

afterEach(async () => {
  for (const { fake, server } of open.splice(0)) {
    await fake.close();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  }
});

/**
 * The app on a real port with the real smstools() transport, talking to the fake Smstools
 * server, which posts signed delivery reports back to the app's webhook.
 */
async function smstoolsApp(fakeOptions: Parameters<typeof startFakeSmstools>[0] = {}, options = {}) {
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
  open.push({ fake, server });
  const { port } = server.address() as AddressInfo;
  fake.webhook = { url: `http://127.0.0.1:${port}/2fa/webhooks/smstools`, secret: WEBHOOK_SECRET };
  return { t, fake };
}

const digits = (phone: string) => phone.replace(/\D/g, '');

/** Waits until `check` passes: the fake posts reports and the app places calls in the background. */
async function eventually(check: () => void | Promise<void>, timeoutMs = 5000): Promise<void> {
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

async function postReport(t: TestApp, body: string, headers: Record<string, string>) {
  return request(t.app)
    .post('/2fa/webhooks/smstools')
    .set('Content-Type', 'application/json')
    .set(headers)
    .send(body);
}

describe('the flow over the Smstools transport', () => {
  it('sends the SMS through Smstools and verifies the code it carried', async () => {
    const { t, fake } = await smstoolsApp();
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    expect(fake.messages).toHaveLength(1);
    expect(fake.messages[0]).toMatchObject({ channel: 'sms', to: digits(USERS.alice.phone), sender: 'Acme' });
    await json(agent, '/2fa/verify', { code: fake.lastCode() }).expect(200);
    await agent.get('/account').expect(200);
  });

  it('reports "delivered" on /2fa/status once Smstools says so', async () => {
    const { t, fake } = await smstoolsApp();
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    await fake.flushWebhooks();
    expect((await agent.get('/2fa/status')).body.status).toBe('delivered');
  });
});

describe('when the SMS cannot be sent (voice.auto)', () => {
  it('calls with the same code without a second request: one call, and that code verifies', async () => {
    const { t, fake } = await smstoolsApp({ failSmsTo: [USERS.alice.phone] });
    const agent = await signIn(t);
    const sent = await json(agent, '/2fa/send').expect(200);
    expect(sent.body).toMatchObject({ status: 'sent', channel: 'voice' });
    // The call goes out in the background, right after the answer.
    await eventually(() => expect(t.events.map((e) => e.type)).toEqual(['code.send_failed', 'voice.sent']));
    expect(fake.messages.map((m) => m.channel)).toEqual(['voice']);
    const smsAttempts = fake.requests.filter((r) => r.path === '/v1/message/send');
    expect(smsAttempts).toHaveLength(1);
    expect(t.events[0]).toMatchObject({ providerCode: '106', channel: 'sms' });
    await json(agent, '/2fa/verify', { code: fake.lastCode() }).expect(200);
    expect((await agent.get('/account').expect(200)).text).toBe('account of u-alice via voice');
  });

  it('answers 422 and keeps nothing live when voice is off', async () => {
    const { t, fake } = await smstoolsApp({ failSmsTo: [USERS.alice.phone] }, { voice: false });
    const agent = await signIn(t);
    const res = await json(agent, '/2fa/send').expect(422);
    expect(res.body.error.code).toBe('ERR_2FA_DESTINATION_BLOCKED');
    expect(fake.messages).toHaveLength(0);
    expect((await agent.get('/2fa/status')).body).toEqual({ status: 'none' });
  });
});

describe('when a delivery report says "not delivered"', () => {
  it('places one voice call with the same code, and shows "calling"', async () => {
    const { t, fake } = await smstoolsApp({ undeliverableTo: [USERS.alice.phone] });
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    const sms = fake.messages[0];
    await fake.flushWebhooks();
    await eventually(() => expect(fake.messages.map((m) => m.channel)).toEqual(['sms', 'voice']));
    expect(fake.messages[1]?.message).toContain(fake.lastCode(USERS.alice.phone)?.split('').join(', '));
    // "calling" until the call's own report says it was delivered.
    const status = (await agent.get('/2fa/status')).body;
    expect(status.channel).toBe('voice');
    expect(['calling', 'delivered']).toContain(status.status);
    expect(t.events.map((e) => e.type)).toContain('delivery.failed');

    // A duplicate of the same report changes nothing: still one call.
    await fake.deliver(sms?.id ?? '', 'not delivered', { duplicate: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fake.messages.filter((m) => m.channel === 'voice')).toHaveLength(1);

    const code = fake.lastCode(USERS.alice.phone);
    await json(agent, '/2fa/verify', { code }).expect(200);
  });

  it('does not call when the SMS was delivered first (out of order reports never downgrade)', async () => {
    const { t, fake } = await smstoolsApp();
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    await fake.flushWebhooks();
    const id = fake.messages[0]?.id ?? '';
    await fake.deliver(id, 'submitted');
    await fake.deliver(id, 'not delivered');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await agent.get('/2fa/status')).body.status).toBe('delivered');
    expect(fake.messages.map((m) => m.channel)).toEqual(['sms']);
  });
});

describe('"call me instead" (POST /2fa/voice)', () => {
  it('answers 429 ERR_2FA_COOLDOWN with Retry-After before voice.afterMs, then calls', async () => {
    const { t, fake } = await smstoolsApp({}, { voice: { afterMs: 20_000 } });
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    t.clock.advance(5_000);
    const early = await json(agent, '/2fa/voice').expect(429);
    expect(early.body.error.code).toBe('ERR_2FA_COOLDOWN');
    expect(early.headers['retry-after']).toBe('15');
    expect(fake.messages).toHaveLength(1);
    t.clock.advance(15_000);
    await json(agent, '/2fa/voice').expect(200);
    expect(fake.messages.map((m) => m.channel)).toEqual(['sms', 'voice']);
    expect(fake.messages[1]).toMatchObject({ language: 'en', gender: 'Female' });
  });

  it('counts calls in the same send budget as SMS', async () => {
    const { t } = await smstoolsApp({}, { maxSendsPerChallenge: 2, voice: { afterMs: 0 } });
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    t.clock.advance(30_000);
    await json(agent, '/2fa/voice').expect(200);
    t.clock.advance(120_000);
    const spent = await json(agent, '/2fa/voice').expect(429);
    expect(spent.body.error.code).toBe('ERR_2FA_RATE_LIMITED');
  });

  it('answers 409 ERR_2FA_VOICE_UNAVAILABLE when voice is off', async () => {
    const { t } = await smstoolsApp({}, { voice: false });
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    expect((await json(agent, '/2fa/voice').expect(409)).body.error.code).toBe('ERR_2FA_VOICE_UNAVAILABLE');
  });
});

describe('POST /2fa/webhooks/smstools', () => {
  /** A sent SMS whose automatic reports are held back, so each test posts its own. */
  async function sentWithoutReports() {
    const setup = await smstoolsApp();
    const webhook = setup.fake.webhook;
    setup.fake.webhook = undefined;
    const agent = await signIn(setup.t);
    await json(agent, '/2fa/send').expect(200);
    setup.fake.webhook = webhook;
    return { ...setup, agent, id: setup.fake.messages[0]?.id ?? '' };
  }

  it('refuses a forged report (wrong secret) and does nothing', async () => {
    const { fake, agent, id } = await sentWithoutReports();
    const attempts = await fake.deliver(id, 'not delivered', {
      secret: 'not-the-webhook-secret-000000000000',
    });
    expect(attempts.at(-1)?.responseStatus).toBe(403);
    expect(fake.messages.map((m) => m.channel)).toEqual(['sms']);
    expect((await agent.get('/2fa/status')).body.status).toBe('sent');
  });

  it('refuses a replayed report once its timestamp is outside the window', async () => {
    const { t, fake, agent, id } = await sentWithoutReports();
    const attempts = await fake.deliver(id, 'not delivered', { timestamp: t.clock.now() - 3600_000 });
    expect(attempts.at(-1)?.responseStatus).toBe(403);
    expect(fake.messages.map((m) => m.channel)).toEqual(['sms']);
    expect((await agent.get('/2fa/status')).body.status).toBe('sent');
  });

  it('acts once on the same signed report posted twice (replay inside the window)', async () => {
    const { t, fake, agent, id } = await sentWithoutReports();
    const [first] = await fake.deliver(id, 'not delivered');
    expect(first?.responseStatus).toBe(204);
    await eventually(() => expect(fake.messages.map((m) => m.channel)).toEqual(['sms', 'voice']));
    const headers = signWebhook(WEBHOOK_SECRET, first?.body ?? '', Math.floor(t.clock.now() / 1000));
    const again = await postReport(t, first?.body ?? '', headers);
    expect(again.status).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fake.messages.map((m) => m.channel)).toEqual(['sms', 'voice']);
    await agent.get('/2fa/status').expect(200);
  });

  it('answers 204 to a report about an unknown message id, and changes nothing', async () => {
    const { fake, agent } = await sentWithoutReports();
    const attempts = await fake.deliver('nosuchmessageid0000000000000000', 'not delivered');
    expect(attempts.at(-1)?.responseStatus).toBe(204);
    expect(fake.messages.map((m) => m.channel)).toEqual(['sms']);
    expect((await agent.get('/2fa/status')).body.status).toBe('sent');
  });

  it('refuses a report without a signature', async () => {
    const { t } = await smstoolsApp();
    const body = JSON.stringify({
      webhook_type: 'delivery_report',
      message: { messageid: 'x', delivery_code: '2' },
    });
    const res = await postReport(t, body, {});
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('ERR_2FA_FORBIDDEN_ORIGIN');
  });
});
