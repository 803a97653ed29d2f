import { describe, expect, it } from 'vitest';
import { memoryTransport } from '../../src/transports/memory.js';
import { smstools } from '../../src/transports/smstools.js';
import { BalanceError } from '../../src/transports/smstools-balance.js';
import { CLIENT_SECRET, renderings, useFakeSmstools, useRawServer } from '../helpers/smstools-helpers.js';

/** smstools() against a raw server that answers `GET /v1/balance` with `status` and `body`. */
async function answering(status: number, body: string) {
  const seen: { method?: string; url?: string; id?: string; secret?: string }[] = [];
  const baseUrl = await useRawServer((req, res) => {
    seen.push({
      method: req.method,
      url: req.url,
      id: req.headers['x-client-id'] as string,
      secret: req.headers['x-client-secret'] as string,
    });
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  return {
    transport: smstools({ baseUrl, clientId: 'client-42', clientSecret: CLIENT_SECRET, sender: 'Acme' }),
    seen,
  };
}

describe('smstools().health()', () => {
  it('reads GET /v1/balance with the credentials in headers', async () => {
    const { transport, seen } = await answering(200, '{"balance":"42.50","currency":"EUR"}');
    await expect(transport.health()).resolves.toEqual({ balance: 42.5, currency: 'EUR' });
    expect(seen).toEqual([{ method: 'GET', url: '/v1/balance', id: 'client-42', secret: CLIENT_SECRET }]);
  });

  it.each([
    ['a number', '{"balance":7}', { balance: 7 }],
    ['no balance (the shape is undocumented): reachable all the same', '{"credits":"12"}', {}],
    ['an empty balance', '{"balance":"","currency":"EUR"}', { currency: 'EUR' }],
    ['a balance that is not a number', '{"balance":"lots","currency":"euro"}', {}],
  ])('takes %s', async (_name, body, expected) => {
    const { transport } = await answering(200, body);
    await expect(transport.health()).resolves.toEqual(expected);
  });

  it('fails with kind "http" and the provider code, never the secret, when Smstools refuses', async () => {
    const { transport } = await answering(
      400,
      '{"error":"104","errorMsg":"Invalid credentials for client-42"}',
    );
    const error = await transport.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BalanceError);
    expect(error).toMatchObject({ kind: 'http', message: 'Smstools balance: HTTP 400 error 104' });
    for (const text of renderings(error)) expect(text).not.toContain(CLIENT_SECRET);
  });

  it('fails with kind "invalid-response" for a 2xx that is not JSON', async () => {
    const { transport } = await answering(200, '<html>maintenance</html>');
    await expect(transport.health()).rejects.toMatchObject({ kind: 'invalid-response' });
  });

  it('treats a redirect as a refusal and does not follow it with the credentials', async () => {
    const { transport, seen } = await answering(302, '');
    await expect(transport.health()).rejects.toMatchObject({ kind: 'http' });
    expect(seen).toHaveLength(1);
  });

  it('stops when its signal aborts: kind "timeout"', async () => {
    const fake = await useFakeSmstools();
    fake.failNext('slow');
    const transport = smstools({ ...fake.transportOptions(), sender: 'Acme' });
    const controller = new AbortController();
    const pending = transport.health({ signal: controller.signal });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ kind: 'timeout' });
  });

  it('agrees with the fake Smstools server', async () => {
    const fake = await useFakeSmstools({ balance: 3.2 });
    const transport = smstools({ ...fake.transportOptions(), sender: 'Acme' });
    await expect(transport.health()).resolves.toEqual({ balance: 3.2, currency: 'EUR' });
  });
});

describe('memoryTransport().health()', () => {
  it('is always healthy and has no balance', async () => {
    await expect(memoryTransport().health()).resolves.toEqual({});
  });
});
