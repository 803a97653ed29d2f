import { describe, expect, it } from 'vitest';
import { memoryStore } from '../../src/stores/memory-store.js';
import { smstools } from '../../src/transports/smstools.js';
import type { SmsTransport } from '../../src/transports/transport.js';
import { createApp } from '../helpers/create-app.js';
import { testMeter } from '../helpers/metrics.js';
import { CLIENT_SECRET, closedPort, useFakeSmstools } from '../helpers/smstools-helpers.js';
import { faultyStore } from '../helpers/stores.js';

/** A short deadline, for the checks that are meant to run into it. */
const HEALTH = { timeoutMs: 100 };

/** The app on the real smstools() transport against the fake Smstools server (a generous deadline). */
async function onSmstools(options: Record<string, unknown> = {}) {
  const fake = await useFakeSmstools({ balance: 42.5 });
  const t = createApp({
    transport: smstools({ ...fake.transportOptions(), sender: 'Acme' }),
    options: { health: { timeoutMs: 10_000 }, ...options },
  });
  return { t, fake };
}

describe('tfa.health()', () => {
  it('reports the store and the provider healthy, with their latency', async () => {
    const t = createApp();
    const report = await t.tfa.health();
    expect(report).toEqual({
      ok: true,
      store: { ok: true, latencyMs: expect.any(Number) },
      provider: { ok: true, latencyMs: expect.any(Number), checked: true },
    });
  });

  it('reads the Smstools balance with the credentials, and records it as a gauge', async () => {
    const meter = testMeter();
    const { t, fake } = await onSmstools({ metrics: { meterProvider: meter.meterProvider } });
    const report = await t.tfa.health();
    expect(report.provider).toEqual({
      ok: true,
      latencyMs: expect.any(Number),
      checked: true,
      balance: 42.5,
      currency: 'EUR',
    });
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/balance']);
    expect(await meter.table('sms2fa.provider.balance')).toEqual({ '': 42.5 });
    expect(JSON.stringify(report)).not.toContain(CLIENT_SECRET);
  });

  describe('when the store is down', () => {
    it('says so when it throws, and the provider is still checked', async () => {
      const faulty = faultyStore(memoryStore());
      faulty.faults.set('get', { mode: 'throw' });
      const t = createApp({ store: faulty.store, options: { health: HEALTH } });
      const report = await t.tfa.health();
      expect(report).toMatchObject({
        ok: false,
        store: { ok: false, error: 'error' },
        provider: { ok: true },
      });
    });

    it('answers within its timeout when the store never answers', async () => {
      const faulty = faultyStore(memoryStore());
      faulty.faults.set('get', { mode: 'stall' });
      const t = createApp({ store: faulty.store, options: { health: HEALTH } });
      const report = await t.tfa.health();
      expect(report).toMatchObject({ ok: false, store: { ok: false, error: 'timeout' } });
    });

    it('never throws, even for a store that throws before returning a promise', async () => {
      const store = memoryStore();
      store.get = () => {
        throw new Error('connection pool exhausted');
      };
      const t = createApp({ store, options: { health: HEALTH } });
      await expect(t.tfa.health()).resolves.toMatchObject({ store: { ok: false, error: 'error' } });
    });
  });

  describe('when the provider is down', () => {
    it('says it cannot be reached when nothing listens', async () => {
      const port = await closedPort();
      const t = createApp({
        transport: smstools({
          baseUrl: `http://127.0.0.1:${port}/v1`,
          clientId: 'id',
          clientSecret: CLIENT_SECRET,
          sender: 'Acme',
        }),
        options: { health: { timeoutMs: 10_000 } },
      });
      const report = await t.tfa.health();
      expect(report).toMatchObject({
        ok: false,
        store: { ok: true },
        provider: { ok: false, checked: true, error: 'network' },
      });
    });

    it('answers within its timeout when the provider stalls', async () => {
      const { t, fake } = await onSmstools({ health: HEALTH });
      fake.failNext('slow'); // holds the answer for 30 s
      const report = await t.tfa.health();
      expect(report).toMatchObject({ ok: false, provider: { ok: false, error: 'timeout' } });
      expect(report.provider).not.toHaveProperty('balance');
    });

    it('says "http" when Smstools refuses the credentials', async () => {
      const { t, fake } = await onSmstools();
      fake.setCredentials('someone-else', 'another-secret');
      const report = await t.tfa.health();
      expect(report.provider).toMatchObject({ ok: false, error: 'http' });
    });

    it('says "invalid-response" for a 2xx that is not JSON', async () => {
      const { t, fake } = await onSmstools();
      fake.failNext('invalid-json');
      expect((await t.tfa.health()).provider).toMatchObject({ ok: false, error: 'invalid-response' });
    });
  });

  it('trusts a transport that has no health(): ok, marked as not checked', async () => {
    const transport: SmsTransport = { sendSms: async () => ({ id: 'x' }) };
    const t = createApp({ transport, options: { health: HEALTH } });
    expect((await t.tfa.health()).provider).toEqual({ ok: true, latencyMs: 0, checked: false });
  });

  it("never throws when a custom transport's health() throws synchronously", async () => {
    const transport: SmsTransport = {
      sendSms: async () => ({ id: 'x' }),
      health: () => {
        throw new Error('not configured');
      },
    };
    const t = createApp({ transport, options: { health: HEALTH } });
    expect((await t.tfa.health()).provider).toEqual({
      ok: false,
      latencyMs: expect.any(Number),
      checked: true,
      error: 'error',
    });
  });
});
