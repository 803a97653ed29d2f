import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../src/errors.js';
import { smstools } from '../../src/transports/smstools.js';
import { createApp, json, signIn, type TestApp } from '../helpers/create-app.js';
import { until } from '../helpers/metrics.js';
import { useFakeSmstools } from '../helpers/smstools-helpers.js';

const HOUR = 3_600_000;

async function lowBalanceApp(balance: number, health: Record<string, unknown> = { lowBalance: 5 }) {
  const fake = await useFakeSmstools({ balance });
  const t = createApp({
    transport: smstools({ ...fake.transportOptions(), sender: 'Acme' }),
    sentTexts: () => fake.messages.map((m) => m.message),
    options: { health: { timeoutMs: 10_000, ...health } },
  });
  return { t, fake };
}

const lowEvents = (t: TestApp) => t.events.filter((e) => e.type === 'provider.balance_low');
const balanceReads = (fake: { requests: { path: string }[] }) =>
  fake.requests.filter((r) => r.path === '/v1/balance').length;

describe('provider.balance_low', () => {
  it('fires when health() reads a balance under health.lowBalance, with a warning that names the fix', async () => {
    const { t } = await lowBalanceApp(3);
    await t.tfa.health();
    expect(lowEvents(t)).toEqual([
      { type: 'provider.balance_low', at: t.clock.now(), balance: 3, currency: 'EUR' },
    ]);
    expect(t.logs).toEqual([
      "express-sms-2fa: the provider's balance is 3 EUR, under health.lowBalance (5): top it up before sends start to fail",
    ]);
  });

  it('fires once per drop: not on every probe, again after an hour, again after a top-up and a new drop', async () => {
    const { t, fake } = await lowBalanceApp(3);
    await t.tfa.health();
    await t.tfa.health();
    expect(lowEvents(t)).toHaveLength(1);
    t.clock.advance(HOUR);
    await t.tfa.health();
    expect(lowEvents(t)).toHaveLength(2);
    fake.balance = 100;
    await t.tfa.health();
    fake.balance = 2;
    await t.tfa.health();
    expect(lowEvents(t).map((e) => e.balance)).toEqual([3, 3, 2]);
  });

  it('stays quiet at or above the threshold, and without one', async () => {
    const at = await lowBalanceApp(5);
    await at.t.tfa.health();
    const unset = await lowBalanceApp(0.01, {});
    await unset.t.tfa.health();
    expect([...lowEvents(at.t), ...lowEvents(unset.t)]).toEqual([]);
  });

  it('is also checked after a send, in the background, at most once per health.balanceCheckMs', async () => {
    const { t, fake } = await lowBalanceApp(3, { lowBalance: 5, balanceCheckMs: 15 * 60_000 });
    await json(await signIn(t, 'alice'), '/2fa/send').expect(200);
    await until(() => expect(lowEvents(t)).toHaveLength(1));
    expect(balanceReads(fake)).toBe(1);

    await json(await signIn(t, 'bob'), '/2fa/send').expect(200);
    t.clock.advance(15 * 60_000 - 1);
    await json(await signIn(t, 'carol'), '/2fa/send').expect(200);
    expect(balanceReads(fake)).toBe(1);

    t.clock.advance(1);
    const alice = await signIn(t, 'alice');
    await json(alice, '/2fa/send').expect(200);
    await until(() => expect(balanceReads(fake)).toBe(2));
    expect(lowEvents(t)).toHaveLength(1); // still low, warned less than an hour ago
  });

  it('costs sends nothing when no threshold is set: the balance is never read', async () => {
    const { t, fake } = await lowBalanceApp(3, {});
    await json(await signIn(t, 'alice'), '/2fa/send').expect(200);
    await json(await signIn(t, 'bob'), '/2fa/send').expect(200);
    await fake.flushWebhooks();
    expect(balanceReads(fake)).toBe(0);
  });
});

describe('the health and metrics options', () => {
  const build = (options: Record<string, unknown>) => () => createApp({ options });

  it.each([
    [{ health: { lowBalance: -1 } }, 'health.lowBalance'],
    [{ health: { lowBalance: '5' } }, 'health.lowBalance'],
    [{ health: { lowBalance: Number.NaN } }, 'health.lowBalance'],
    [{ health: { timeoutMs: 0 } }, 'health.timeoutMs'],
    [{ health: { balanceCheckMs: 1_000 } }, 'health.balanceCheckMs'],
    [{ health: { lowbalance: 5 } }, 'did you mean `lowBalance`'],
    [{ metrics: { meterProvider: {} } }, 'metrics.meterProvider'],
    [{ metrics: { provider: {} } }, 'metrics.provider'],
  ])('%o throws naming %s', (options, name) => {
    expect(build(options)).toThrow(TwoFactorConfigError);
    expect(build(options)).toThrow(name);
  });
});
