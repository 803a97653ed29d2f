/**
 * Delivery reports as Smstools sends them: early (before the send's own answer), retried after a
 * failed processing, about other messages of the account (the webhook is account-wide), and
 * reports that never come. Against the fake Smstools server, which signs and posts the reports.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import type { TwoFactorOptions } from '../../src/options.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import {
  type FakeSmstools,
  type FakeSmstoolsOptions,
  startFakeSmstools,
} from '../../src/testing/fake-smstools.js';
import { deliveryReportBody, signWebhook } from '../../src/testing/fake-smstools-rules.js';
import { smstools } from '../../src/transports/smstools.js';
import {
  type Agent,
  createApp,
  createClock,
  json,
  signIn,
  type TestApp,
  type TestClock,
  USERS,
} from '../helpers/create-app.js';
import { appWith, codeOf, fakeTransport } from '../helpers/faults.js';
import { faultyStore, recordingStore } from '../helpers/stores.js';

const WEBHOOK_SECRET = 'webhook-secret-for-the-fake-0123456789';

afterEach(() => {
  vi.useRealTimers();
});

async function listen(t: TestApp): Promise<string> {
  const server = await new Promise<Server>((resolve) => {
    const s = t.app.listen(0, '127.0.0.1', () => resolve(s));
  });
  onTestFinished(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/2fa/webhooks/smstools`;
}

interface Setup {
  t: TestApp;
  fake: FakeSmstools;
  clock: TestClock;
}

/** The app on a real port, smstools() against the fake, whose reports go to the app's webhook. */
async function reportsApp(
  fakeOptions: FakeSmstoolsOptions = {},
  options: Partial<TwoFactorOptions> = {},
  shared: { clock?: TestClock; store?: Store } = {},
): Promise<Setup> {
  const clock = shared.clock ?? createClock();
  const fake = await startFakeSmstools({ now: clock.now, ...fakeOptions });
  onTestFinished(() => fake.close());
  const t = createApp({
    clock,
    ...(shared.store ? { store: shared.store } : {}),
    transport: smstools({ ...fake.transportOptions(), webhookSecret: WEBHOOK_SECRET, sender: 'Acme' }),
    sentTexts: () => fake.messages.map((m) => m.message),
    options,
  });
  const url = await listen(t);
  // The app's own URL, with the test's other webhook settings (beforeAnswer) kept.
  fake.webhook = { secret: WEBHOOK_SECRET, ...fakeOptions.webhook, url };
  return { t, fake, clock };
}

/** Sends with the fake's automatic reports held back, so the test posts its own. */
async function sendWithoutReports({ t, fake }: Setup, username: 'alice' | 'carol' = 'alice') {
  const webhook = fake.webhook;
  fake.webhook = undefined;
  const agent = await signIn(t, username);
  await json(agent, '/2fa/send').expect(200);
  fake.webhook = webhook;
  const id = fake.messages.at(-1)?.id ?? '';
  return { agent, id };
}

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

const channels = (fake: FakeSmstools) => fake.messages.map((m) => m.channel);

/** A signed report body as Smstools would post it, about any message id and receiver. */
function signedReport(
  clock: TestClock,
  messageId: string,
  receiver: string,
  status: 'delivered' | 'not delivered',
) {
  const body = deliveryReportBody({
    webhookId: '77',
    username: 'acme',
    messageId,
    receiver,
    status,
    at: clock.now(),
  });
  return { body, headers: signWebhook(WEBHOOK_SECRET, body, Math.floor(clock.now() / 1000)) };
}

function postReport(t: TestApp, report: { body: string; headers: Record<string, string> }) {
  return request(t.app)
    .post('/2fa/webhooks/smstools')
    .set('Content-Type', 'application/json')
    .set(report.headers)
    .send(report.body);
}

describe('a report that arrives before the send’s own answer (item 3)', () => {
  it('is acted on: "not delivered" places the call, with the same code', async () => {
    const setup = await reportsApp({
      undeliverableTo: [USERS.alice.phone],
      webhook: { url: '', secret: WEBHOOK_SECRET, beforeAnswer: true },
    });
    const { t, fake } = setup;
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    // The report came and went before the app had the message id in hand.
    expect(fake.webhooks.map((w) => [w.status, w.responseStatus])).toEqual([['not delivered', 204]]);
    await eventually(() => expect(channels(fake)).toEqual(['sms', 'voice']));
    const [sms, call] = fake.messages;
    expect(call?.message).toContain(fake.lastCode(USERS.alice.phone)?.split('').join(', '));
    expect(sms?.to).toBe(call?.to);
    await json(agent, '/2fa/verify', { code: fake.lastCode() }).expect(200);
  });

  it('is acted on: "delivered" shows on /status right after the send', async () => {
    const { t } = await reportsApp({ webhook: { url: '', secret: WEBHOOK_SECRET, beforeAnswer: true } });
    const agent = await signIn(t);
    await json(agent, '/2fa/send').expect(200);
    expect((await agent.get('/2fa/status')).body).toMatchObject({ status: 'delivered', channel: 'sms' });
  });
});

describe('a report whose processing failed (item 4)', () => {
  it('is processed when Smstools posts it again', async () => {
    const clock = createClock();
    const faulty = faultyStore(memoryStore({ now: clock.now }));
    const setup = await reportsApp({}, {}, { clock, store: faulty.store });
    const { t, fake } = setup;
    const { agent, id } = await sendWithoutReports(setup);
    const report = signedReport(clock, id, USERS.alice.phone.slice(1), 'not delivered');
    faulty.faults.set('set', { mode: 'throw', match: 's:' }); // the send state cannot be written
    const failed = await postReport(t, report);
    expect(failed.status).toBe(503);
    expect(channels(fake)).toEqual(['sms']);
    faulty.faults.clear();
    await postReport(t, report).expect(204); // Smstools' retry of the same report
    await eventually(() => expect(channels(fake)).toEqual(['sms', 'voice']));
    await eventually(async () => expect((await agent.get('/2fa/status')).body.channel).toBe('voice'));
  });

  it('is still acted on once when it comes twice after a success', async () => {
    const setup = await reportsApp();
    const { t, fake, clock } = setup;
    const { id } = await sendWithoutReports(setup);
    const report = signedReport(clock, id, USERS.alice.phone.slice(1), 'not delivered');
    await postReport(t, report).expect(204);
    await eventually(() => expect(channels(fake)).toEqual(['sms', 'voice']));
    await postReport(t, report).expect(204);
    await fake.flushWebhooks();
    expect(channels(fake)).toEqual(['sms', 'voice']);
  });
});

describe('reports about other messages of the account (item 5)', () => {
  it('cost no store write, even for the numbers of our users', async () => {
    const clock = createClock();
    const store = recordingStore(memoryStore({ now: clock.now }));
    const setup = await reportsApp({}, {}, { clock, store });
    const { t } = setup;
    await sendWithoutReports(setup); // one of ours, so the app has live records
    const before = store.written.length;
    for (let i = 0; i < 50; i++) {
      const receiver = i % 2 === 0 ? USERS.alice.phone.slice(1) : `3247099${String(i).padStart(4, '0')}`;
      await postReport(t, signedReport(clock, `campaign${i}`.padEnd(30, '0'), receiver, 'delivered')).expect(
        204,
      );
    }
    expect(store.written.slice(before)).toEqual([]);
  });

  // The 10 000 reports into max: 5000, at a tenth of the scale (the same ratio, 4 s not 40).
  it('do not fill memoryStore({ max: 500 }): 1 000 of them, then /2fa/send still works', async () => {
    const clock = createClock();
    const setup = await reportsApp({}, {}, { clock, store: memoryStore({ max: 500, now: clock.now }) });
    const { t, fake } = setup;
    // Over the app's real port with keep-alive: a supertest server per report would be slow.
    const url = fake.webhook?.url ?? '';
    const statuses = new Map<number, number>();
    const batch = 50;
    for (let start = 0; start < 1_000; start += batch) {
      const answers = await Promise.all(
        Array.from({ length: batch }, async (_, i) => {
          const report = signedReport(clock, `c${start + i}`.padEnd(30, 'x'), '32470999999', 'delivered');
          const response = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...report.headers },
            body: report.body,
          });
          await response.arrayBuffer();
          return response.status;
        }),
      );
      for (const status of answers) statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
    expect(Object.fromEntries(statuses)).toEqual({ 204: 1_000 });
    const res = await json(await signIn(t), '/2fa/send');
    expect(res.status).toBe(200);
  }, 120_000); // 1 000 HTTP requests: seconds alone, much longer on a loaded machine
});

describe('the automatic call after "not delivered" (item 6)', () => {
  it('re-checks the country allow-list: no call to a country the app no longer allows', async () => {
    const clock = createClock();
    const store = memoryStore({ now: clock.now });
    const first = await reportsApp({}, {}, { clock, store });
    const { agent, id } = await sendWithoutReports(first, 'carol'); // carol's number is Dutch
    // The app restarts allowing Belgium only; Smstools' report reaches the new instance.
    const second = await reportsApp({}, { allowedCountries: ['BE'] }, { clock, store });
    const report = signedReport(clock, id, USERS.carol.phone.slice(1), 'not delivered');
    await postReport(second.t, report).expect(204);
    await eventually(async () =>
      expect((await agent.get('/2fa/status')).body).toMatchObject({ status: 'undelivered' }),
    );
    expect(channels(first.fake)).toEqual(['sms']);
    expect(second.fake.requests).toEqual([]);
    expect(second.t.events.filter((e) => e.type === 'send.blocked')).toMatchObject([
      { reason: 'country', channel: 'voice', country: 'NL' },
    ]);
  });

  it('places no call while the account is in its failure delay (no sends then, as on every route)', async () => {
    const setup = await reportsApp({}, { lockout: { threshold: 1, baseMs: 60_000 } });
    const { t, fake, clock } = setup;
    const { agent, id } = await sendWithoutReports(setup);
    // One wrong code: with threshold 1 the account now waits a minute before its next attempt.
    const wrong = fake.lastCode() === '000000' ? '111111' : '000000';
    await json(agent, '/2fa/verify', { code: wrong }).expect(400);
    await postReport(t, signedReport(clock, id, USERS.alice.phone.slice(1), 'not delivered')).expect(204);
    await eventually(async () =>
      expect((await agent.get('/2fa/status')).body).toMatchObject({ status: 'undelivered' }),
    );
    expect(channels(fake)).toEqual(['sms']);
  });

  it('asks beforeSend, and a veto means no call', async () => {
    const asked: string[] = [];
    const setup = await reportsApp(
      {},
      {
        beforeSend: (send) => {
          asked.push(send.channel);
          return send.channel === 'sms';
        },
      },
    );
    const { t, fake, clock } = setup;
    const { agent, id } = await sendWithoutReports(setup);
    await postReport(t, signedReport(clock, id, USERS.alice.phone.slice(1), 'not delivered')).expect(204);
    await eventually(async () =>
      expect((await agent.get('/2fa/status')).body).toMatchObject({ status: 'undelivered' }),
    );
    expect(asked).toEqual(['sms', 'voice']);
    expect(channels(fake)).toEqual(['sms']);
  });
});

describe('no report at all (item 10)', () => {
  /** A transport that trusts any JSON report: the signature is not under test here. */
  function reportingApp(options: Partial<TwoFactorOptions> = {}) {
    let n = 0;
    const transport = Object.assign(fakeTransport({ sms: () => Promise.resolve({ id: `m-${++n}` }) }), {
      parseDeliveryReport: ({ rawBody }: { rawBody: Buffer }) => JSON.parse(rawBody.toString()),
    });
    return { t: appWith(transport, { options }), transport };
  }
  const report = (t: TestApp, messageId: string, status: string) =>
    request(t.app)
      .post('/2fa/webhooks/smstools')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ messageId, status }))
      .expect(204);

  /** Bob's SMS is reported delivered: reports reach this app. */
  async function reportsWork(t: TestApp) {
    await json(await signIn(t, 'bob'), '/2fa/send').expect(200);
    await report(t, 'm-1', 'delivered');
  }

  async function sendAndWait(t: TestApp, agent?: Agent, waitMs = 60_000) {
    const browser = agent ?? (await signIn(t));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await json(browser, '/2fa/send').expect(200);
    await vi.advanceTimersByTimeAsync(waitMs);
    vi.useRealTimers();
    return browser;
  }

  it('calls once voice.noReportMs (60 s) has passed without a report about the SMS', async () => {
    const { t, transport } = reportingApp();
    await reportsWork(t);
    const agent = await sendAndWait(t);
    await vi.waitFor(() => expect(transport.calls.map((c) => c.channel)).toEqual(['sms', 'sms', 'voice']));
    expect(codeOf(transport.calls[2])).toBe(codeOf(transport.calls[1]));
    expect(t.events.filter((e) => e.type === 'delivery.failed')).toMatchObject([
      { userId: USERS.alice.id, channel: 'sms', reason: 'no-report' },
    ]);
    await json(agent, '/2fa/verify', { code: codeOf(transport.calls[2]) }).expect(200);
  });

  it('waits voice.noReportMs when set', async () => {
    const { t, transport } = reportingApp({ voice: { noReportMs: 20_000 } });
    await reportsWork(t);
    await sendAndWait(t, undefined, 20_000);
    await vi.waitFor(() => expect(transport.calls.map((c) => c.channel)).toEqual(['sms', 'sms', 'voice']));
  });

  it('does not call before the delay, after a "delivered" report, or once verified', async () => {
    const { t, transport } = reportingApp();
    await reportsWork(t);
    const early = await sendAndWait(t, undefined, 59_000);
    await json(early, '/2fa/verify', { code: codeOf(transport.calls[1]) }).expect(200);
    await sendAndWait(t, await signIn(t, 'carol'), 0);
    await report(t, 'm-3', 'delivered');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    await vi.advanceTimersByTimeAsync(120_000);
    vi.useRealTimers();
    await new Promise((resolve) => setImmediate(resolve));
    expect(transport.calls.map((c) => c.channel)).toEqual(['sms', 'sms', 'sms']);
  });

  it('is off while no report has ever reached the app (a broken webhook must not double every sign-in)', async () => {
    const { t, transport } = reportingApp();
    await sendAndWait(t, undefined, 120_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(transport.calls.map((c) => c.channel)).toEqual(['sms']);
    expect(t.events.map((e) => e.type)).toEqual(['code.sent']);
  });

  it('is off without delivery reports, with voice.noReportMs: false, and without voice.auto', async () => {
    for (const options of [{}, { voice: { noReportMs: false as const } }, { voice: { auto: false } }]) {
      const plain = createApp({ options });
      const agent = await sendAndWait(plain, undefined, 120_000);
      expect(plain.transport.messages.map((m) => m.channel)).toEqual(['sms']);
      await agent.get('/2fa/status').expect(200);
      const { t, transport } = reportingApp(options);
      if ('voice' in options) {
        await reportsWork(t);
        await sendAndWait(t, undefined, 120_000);
        await new Promise((resolve) => setImmediate(resolve));
        expect(transport.calls.map((c) => c.channel)).toEqual(['sms', 'sms']);
      }
    }
  });
});
