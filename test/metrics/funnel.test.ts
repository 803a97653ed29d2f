import { metrics } from '@opentelemetry/api';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { json, sendCode, signIn, USERS, wrongCode } from '../helpers/create-app.js';
import { testMeter, until } from '../helpers/metrics.js';
import {
  callRequested,
  countryRefusal,
  memoryApp,
  phoneBudgetRefusal,
  smstoolsApp,
  success,
  wrongThenRight,
} from './flows.js';

const digits = (phone: string) => phone.replace(/\D/g, '');

describe('the SMS funnel, read through the OpenTelemetry SDK', () => {
  it('a code sent and verified: one SMS sent, one part billed, one success and the time it took', async () => {
    const meter = testMeter();
    const t = memoryApp({ metrics: { meterProvider: meter.meterProvider } });
    await success(t);

    expect(await meter.table('sms2fa.sends')).toEqual({ 'channel=sms,country=BE,outcome=sent': 1 });
    expect(await meter.table('sms2fa.sms.parts')).toEqual({ 'country=BE': 1 });
    expect(await meter.table('sms2fa.verifications')).toEqual({
      'channel=sms,country=BE,outcome=success': 1,
    });
    expect(await meter.table('sms2fa.provider.duration')).toEqual({ 'channel=sms,outcome=ok': 1 });
    const [duration, ...others] = (await meter.read()).filter((p) => p.name === 'sms2fa.verify.duration');
    expect(others).toEqual([]);
    expect(duration).toMatchObject({ attributes: { channel: 'sms', country: 'BE' }, value: 1, sum: 42 });
    for (const name of ['sms2fa.sends.refused', 'sms2fa.voice.fallbacks', 'sms2fa.delivery.reports']) {
      expect(await meter.table(name), name).toEqual({});
    }
  });

  it('a wrong code, then the right one: one wrong-code and one success', async () => {
    const meter = testMeter();
    const t = memoryApp({ metrics: { meterProvider: meter.meterProvider } });
    await wrongThenRight(t);
    expect(await meter.table('sms2fa.verifications')).toEqual({
      'country=BE,outcome=wrong-code': 1,
      'channel=sms,country=BE,outcome=success': 1,
    });
  });

  it('verifies refused before the compare are counted by why: no challenge, exhausted, expired', async () => {
    const meter = testMeter();
    const t = memoryApp({ metrics: { meterProvider: meter.meterProvider }, maxAttempts: 1 });
    const agent = await signIn(t, 'alice');
    await json(agent, '/2fa/verify', { code: '123456' }).expect(409);
    const code = await sendCode(t, agent, 'alice');
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    await json(agent, '/2fa/verify', { code }).expect(429);

    const bob = await signIn(t, 'bob');
    const bobCode = await sendCode(t, bob, 'bob');
    t.clock.advance(5 * 60_000);
    await json(bob, '/2fa/verify', { code: bobCode }).expect(410);

    expect(await meter.table('sms2fa.verifications')).toEqual({
      'outcome=no-challenge': 1,
      'country=BE,outcome=wrong-code': 1,
      'outcome=exhausted': 1,
      'outcome=expired': 1,
    });
  });

  it('a verify refused while the account waits out its failure delay counts as locked', async () => {
    const meter = testMeter();
    const t = memoryApp({
      metrics: { meterProvider: meter.meterProvider },
      lockout: { threshold: 1, baseMs: 60_000 },
    });
    const agent = await signIn(t, 'alice');
    const code = await sendCode(t, agent, 'alice');
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    const res = await json(agent, '/2fa/verify', { code }).expect(429);
    expect(res.body.error.code).toBe('ERR_2FA_LOCKED');
    expect(await meter.table('sms2fa.verifications')).toEqual({
      'country=BE,outcome=wrong-code': 1,
      'outcome=locked': 1,
    });
  });

  it('undelivered, then a call: the report, the fallback and the voice send, all for NL', async () => {
    const meter = testMeter();
    const { t, fake } = await smstoolsApp(
      { metrics: { meterProvider: meter.meterProvider } },
      { undeliverableTo: [USERS.carol.phone] },
    );
    const agent = await signIn(t, 'carol');
    await json(agent, '/2fa/send').expect(200);
    // The fake reports the SMS undelivered; the app calls; the fake reports the call delivered.
    await until(async () => {
      expect(await meter.table('sms2fa.delivery.reports')).toEqual({
        'country=NL,outcome=undelivered': 1,
        'country=NL,outcome=delivered': 1,
      });
    });
    await fake.flushWebhooks();
    const call = fake.lastMessage(USERS.carol.phone);
    expect(call?.channel).toBe('voice');
    await json(agent, '/2fa/verify', { code: fake.lastCode(USERS.carol.phone) }).expect(200);

    expect(await meter.table('sms2fa.sends')).toEqual({
      'channel=sms,country=NL,outcome=sent': 1,
      'channel=voice,country=NL,outcome=sent': 1,
    });
    expect(await meter.table('sms2fa.voice.fallbacks')).toEqual({ 'country=NL,reason=undelivered': 1 });
    expect(await meter.table('sms2fa.verifications')).toEqual({
      'channel=voice,country=NL,outcome=success': 1,
    });
    expect(await meter.table('sms2fa.sms.parts')).toEqual({ 'country=NL': 1 });
    expect(await meter.table('sms2fa.provider.duration')).toEqual({
      'channel=sms,outcome=ok': 1,
      'channel=voice,outcome=ok': 1,
    });
    expect(fake.messages.map((m) => m.to)).toEqual([digits(USERS.carol.phone), digits(USERS.carol.phone)]);
  });

  it('a report that arrives after the code was typed still counts, without a country (the challenge is gone)', async () => {
    const meter = testMeter();
    const { t, fake } = await smstoolsApp({ metrics: { meterProvider: meter.meterProvider } });
    if (fake.webhook) fake.webhook.delayMs = 60_000; // no automatic report during this test
    const agent = await signIn(t, 'alice');
    await json(agent, '/2fa/send').expect(200);
    await json(agent, '/2fa/verify', { code: fake.lastCode() }).expect(200);
    await fake.deliver(fake.lastMessage()?.id ?? '', 'delivered');
    await fake.deliver('not-one-of-ours', 'delivered'); // an id we never sent: not counted
    expect(await meter.table('sms2fa.delivery.reports')).toEqual({ 'outcome=delivered': 1 });
  });

  it('a budget refusal and a country refusal: counted by reason, the provider never called', async () => {
    const meter = testMeter();
    const t = memoryApp({
      metrics: { meterProvider: meter.meterProvider },
      limits: { phonePerHour: 1 },
    });
    await phoneBudgetRefusal(t);
    await countryRefusal(t);
    expect(await meter.table('sms2fa.sends.refused')).toEqual({
      'channel=sms,country=BE,reason=phone': 1,
      'country=US,reason=country': 1,
    });
    expect(await meter.table('sms2fa.sends')).toEqual({ 'channel=sms,country=BE,outcome=sent': 1 });
    expect(t.transport.messages).toHaveLength(1);
  });

  it('a provider outage: the SMS fails, counted with the failure kind, and no call is tried', async () => {
    const meter = testMeter();
    const { t, fake } = await smstoolsApp({ metrics: { meterProvider: meter.meterProvider } });
    fake.failMode = 'html-5xx';
    const agent = await signIn(t, 'alice');
    const res = await json(agent, '/2fa/send').expect(503);
    expect(res.body.error.code).toBe('ERR_2FA_SEND_FAILED');

    expect(await meter.table('sms2fa.sends')).toEqual({
      'channel=sms,country=BE,outcome=failed,reason=http': 1,
    });
    expect(await meter.table('sms2fa.provider.duration')).toEqual({ 'channel=sms,outcome=error': 1 });
    expect(await meter.table('sms2fa.sms.parts')).toEqual({});
    expect(await meter.table('sms2fa.voice.fallbacks')).toEqual({});
  });

  it('an SMS the provider refuses becomes a call: one failed SMS, one fallback for sms-failed', async () => {
    const meter = testMeter();
    const { t } = await smstoolsApp(
      { metrics: { meterProvider: meter.meterProvider } },
      { failSmsTo: [USERS.alice.phone] },
    );
    const agent = await signIn(t, 'alice');
    await json(agent, '/2fa/send').expect(200);
    // The call goes out in the background, right after the answer.
    await vi.waitFor(async () =>
      expect(await meter.table('sms2fa.sends')).toEqual({
        'channel=sms,country=BE,outcome=failed,reason=http': 1,
        'channel=voice,country=BE,outcome=sent': 1,
      }),
    );
    expect(await meter.table('sms2fa.voice.fallbacks')).toEqual({ 'country=BE,reason=sms-failed': 1 });
  });

  it('a send the app-wide limit refused is counted as reason=global', async () => {
    const meter = testMeter();
    const t = memoryApp({ metrics: { meterProvider: meter.meterProvider }, limits: { globalPerHour: 1 } });
    await sendCode(t, await signIn(t, 'alice'), 'alice');
    await json(await signIn(t, 'carol'), '/2fa/send').expect(429);
    expect(await meter.table('sms2fa.sends.refused')).toEqual({ 'channel=sms,country=NL,reason=global': 1 });
  });

  it('"call me instead": a fallback the user requested', async () => {
    const meter = testMeter();
    const t = memoryApp({ metrics: { meterProvider: meter.meterProvider } });
    await callRequested(t);
    expect(await meter.table('sms2fa.voice.fallbacks')).toEqual({ 'country=BE,reason=requested': 1 });
    expect(await meter.table('sms2fa.sends')).toEqual({
      'channel=sms,country=BE,outcome=sent': 1,
      'channel=voice,country=BE,outcome=sent': 1,
    });
  });
});

describe('the global meter provider', () => {
  afterEach(() => metrics.disable());

  it('is used when the app passes none, even when registered after twoFactor()', async () => {
    const t = memoryApp();
    const meter = testMeter();
    expect(metrics.setGlobalMeterProvider(meter.meterProvider)).toBe(true);
    await success(t);
    expect(await meter.table('sms2fa.sends')).toEqual({ 'channel=sms,country=BE,outcome=sent': 1 });
  });

  it('costs nothing and breaks nothing when none is registered', async () => {
    const t = memoryApp();
    await success(t);
    await wrongThenRight(t);
    expect(t.logs).toEqual([]);
  });
});
