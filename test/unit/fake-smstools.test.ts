import { describe, expect, it } from 'vitest';
import type { FakeSmstools } from '../../src/testing/fake-smstools.js';
import { fakeSmstools } from '../../src/testing/fake-smstools.js';
import { smstools } from '../../src/transports/smstools.js';
import {
  CLIENT_SECRET,
  PHONE,
  TEXT,
  useFakeSmstools,
  useWebhookReceiver,
} from '../helpers/smstools-helpers.js';

const AUTH = { 'x-client-id': 'client-42', 'x-client-secret': CLIENT_SECRET };

/** A real HTTP call to the fake. `body` is sent as JSON unless it is a string. */
async function call(
  fake: FakeSmstools,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; auth?: boolean } = {},
) {
  const { body, auth = true } = options;
  const response = await fetch(`${fake.url.replace(/\/v1$/, '')}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...(auth ? AUTH : {}), ...options.headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, text, json: json as Record<string, unknown> };
}

const sms = (overrides: Record<string, unknown> = {}) => ({
  message: TEXT,
  to: '32470123401',
  sender: 'MyApp',
  ...overrides,
});

describe('fakeSmstools()', () => {
  describe('authentication', () => {
    it('answers 104 with status 400 without credentials, and with a wrong secret', async () => {
      const fake = await useFakeSmstools();
      const none = await call(fake, 'POST', '/v1/message/send', { body: sms(), auth: false });
      expect(none.status).toBe(400);
      expect(none.json).toStrictEqual({ error: '104', errorMsg: 'Invalid credentials' });
      const wrong = await call(fake, 'GET', '/v1/auth', { headers: { 'x-client-secret': 'nope' } });
      expect(wrong.json).toMatchObject({ error: '104' });
      expect(fake.messages).toHaveLength(0);
    });

    it('accepts client_id and client_secret in the query string', async () => {
      const fake = await useFakeSmstools();
      const query = `?client_id=client-42&client_secret=${CLIENT_SECRET}`;
      const ok = await call(fake, 'POST', `/v1/message/send${query}`, { body: sms(), auth: false });
      expect(ok.status).toBe(200);
      const bad = await call(fake, 'GET', '/v1/auth?client_id=client-42&client_secret=x', { auth: false });
      expect(bad.json).toMatchObject({ error: '104' });
    });

    it('uses the configured status for 104', async () => {
      const fake = await useFakeSmstools({ errorStatus: { '104': 401 } });
      const { status } = await call(fake, 'GET', '/v1/balance', { auth: false });
      expect(status).toBe(401);
    });

    it('answers GET /v1/auth with the username', async () => {
      const fake = await useFakeSmstools({ username: 'acme' });
      const { status, json, headers } = await call(fake, 'GET', '/v1/auth');
      expect(status).toBe(200);
      expect(json).toStrictEqual({ username: 'acme' });
      expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
    });
  });

  describe('POST /v1/message/send validation', () => {
    it('answers "error parsing json" (no errorMsg) to a body that is not JSON', async () => {
      const fake = await useFakeSmstools();
      const { status, json } = await call(fake, 'POST', '/v1/message/send', { body: '{"message":' });
      expect(status).toBe(400);
      expect(json).toStrictEqual({ error: 'error parsing json' });
    });

    it('checks in the documented order: 114, 112, 106, 109, 111, 118, 121, 131, 108', async () => {
      const fake = await useFakeSmstools({ balance: 0, optOuts: ['+32470123401'] });
      const steps: [unknown, string][] = [
        ['', '114'],
        [{}, '114'],
        [{ to: 'x', sender: 'My-App!!!!!!', date: 'soon', message: '' }, '112'],
        [{ message: '€'.repeat(400), to: 'x', sender: 'My-App!!!!!!', date: 'soon' }, '106'],
        [{ message: '€'.repeat(400), to: '+32470123401', date: 'soon' }, '109'],
        [{ message: '€'.repeat(400), to: '+32470123401', sender: 'My-App!!!!!!', date: 'soon' }, '111'],
        [{ message: '€'.repeat(400), to: '+32470123401', sender: 'MyApp', date: 'soon' }, '118'],
        [{ message: TEXT, to: '+32470123401', sender: 'MyApp', date: 'soon' }, '121'],
        [{ message: TEXT, to: '+32470123401', sender: 'MyApp' }, '131'],
        [{ message: TEXT, to: '32470999999', sender: 'MyApp' }, '108'],
      ];
      const codes = [];
      for (const [body] of steps) {
        const { json } = await call(fake, 'POST', '/v1/message/send', { body });
        codes.push(json.error);
      }
      expect(codes).toStrictEqual(steps.map(([, code]) => code));
      expect(fake.messages).toHaveLength(0);
    });

    it('names the number in the 106 errorMsg, as Smstools does', async () => {
      const fake = await useFakeSmstools();
      const { json } = await call(fake, 'POST', '/v1/message/send', { body: sms({ to: '+3247' }) });
      expect(json).toStrictEqual({ error: '106', errorMsg: expect.stringContaining('+3247') });
    });

    it('stores numbers as digits: a leading + is accepted, 00 only when allowed', async () => {
      const fake = await useFakeSmstools();
      expect((await call(fake, 'POST', '/v1/message/send', { body: sms({ to: PHONE }) })).status).toBe(200);
      expect(fake.messages[0]?.to).toBe('32470123401');
      const doubleZero = await call(fake, 'POST', '/v1/message/send', { body: sms({ to: '0032470123401' }) });
      expect(doubleZero.json).toMatchObject({ error: '106' });
      const lenient = await useFakeSmstools({ acceptDoubleZero: true });
      const accepted = await call(lenient, 'POST', '/v1/message/send', {
        body: sms({ to: '0032470123401' }),
      });
      expect(accepted.status).toBe(200);
    });

    it('counts the nine GSM extension characters twice against the length limit (459, or maxLength)', async () => {
      const fake = await useFakeSmstools({ maxLength: 612 });
      const send = async (message: string) =>
        (await call(fake, 'POST', '/v1/message/send', { body: sms({ message }) })).json;
      expect(await send('a'.repeat(612))).toHaveProperty('messageid');
      expect(await send(`${'a'.repeat(611)}€`)).toStrictEqual({ error: '118', errorMsg: expect.any(String) });
      expect(await send('€\\}[^~]{|'.repeat(34))).toHaveProperty('messageid'); // 306 characters, 612 long
      expect(await send(`${'€\\}[^~]{|'.repeat(34)}a`)).toMatchObject({ error: '118' });
      const strict = await useFakeSmstools();
      const long = await call(strict, 'POST', '/v1/message/send', {
        body: sms({ message: 'a'.repeat(460) }),
      });
      expect(long.json).toMatchObject({ error: '118' });
    });

    it('answers 110 to a numeric sender without +, unless requirePlusOnNumericSender is false', async () => {
      const lenient = await useFakeSmstools({ requirePlusOnNumericSender: false });
      expect(
        (await call(lenient, 'POST', '/v1/message/send', { body: sms({ sender: '3247012' }) })).status,
      ).toBe(200);
      const strict = await useFakeSmstools();
      const refused = await call(strict, 'POST', '/v1/message/send', { body: sms({ sender: '3247012' }) });
      expect(refused.json).toMatchObject({ error: '110' });
      expect(
        (await call(strict, 'POST', '/v1/message/send', { body: sms({ sender: '+3247012' }) })).status,
      ).toBe(200);
    });

    it('refuses a reference over the limit only behind its flag', async () => {
      const body = sms({ reference: 'r'.repeat(256) });
      const lenient = await useFakeSmstools();
      expect((await call(lenient, 'POST', '/v1/message/send', { body })).status).toBe(200);
      expect(lenient.messages[0]?.reference).toHaveLength(256);
      const strict = await useFakeSmstools({ maxReferenceLength: 255 });
      expect((await call(strict, 'POST', '/v1/message/send', { body })).status).toBe(400);
    });

    it('accepts a future date and records it without a delivery report', async () => {
      const now = Date.UTC(2026, 0, 2, 10, 0);
      const receiver = await useWebhookReceiver();
      const fake = await useFakeSmstools({ now: () => now, webhook: { url: receiver.url, secret: 's' } });
      const past = await call(fake, 'POST', '/v1/message/send', { body: sms({ date: '2026-01-02 09:59' }) });
      expect(past.json).toMatchObject({ error: '121' });
      const invalid = await call(fake, 'POST', '/v1/message/send', {
        body: sms({ date: '2026-02-30 10:00' }),
      });
      expect(invalid.json).toMatchObject({ error: '121' });
      const later = await call(fake, 'POST', '/v1/message/send', { body: sms({ date: '2026-01-02 10:30' }) });
      expect(later.status).toBe(200);
      await fake.flushWebhooks();
      expect(fake.messages[0]?.date).toBe('2026-01-02 10:30');
      expect(receiver.received).toHaveLength(0);
    });
  });

  describe('successful sends', () => {
    it('answers a 30-character [a-z0-9] messageid and charges per part', async () => {
      const fake = await useFakeSmstools({ balance: 1 });
      const { status, json, headers } = await call(fake, 'POST', '/v1/message/send', { body: sms() });
      expect(status).toBe(200);
      expect(headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(json.messageid).toMatch(/^[a-z0-9]{30}$/);
      expect(fake.balance).toBeCloseTo(0.93);
      await call(fake, 'POST', '/v1/message/send', { body: sms({ message: 'a'.repeat(161) }) }); // 2 parts
      expect(fake.balance).toBeCloseTo(0.79);
      expect((await call(fake, 'GET', '/v1/balance')).json).toStrictEqual({
        balance: '0.79',
        currency: 'EUR',
      });
      expect((await call(fake, 'GET', '/v1/account/balance')).json).toMatchObject({ balance: '0.79' });
    });

    it('answers messageids in input order for an array of numbers', async () => {
      const fake = await useFakeSmstools();
      const { json } = await call(fake, 'POST', '/v1/message/send', {
        body: sms({ to: ['32470123401', '+31612345678'] }),
      });
      const ids = json.messageids as string[];
      expect(ids).toHaveLength(2);
      expect(fake.messages.map((m) => [m.id, m.to])).toStrictEqual([
        [ids[0], '32470123401'],
        [ids[1], '31612345678'],
      ]);
      expect(fake.balance).toBeCloseTo(100 - 0.14);
    });

    it('validates but records and charges nothing with test: true (body or query)', async () => {
      const receiver = await useWebhookReceiver();
      const fake = await useFakeSmstools({ webhook: { url: receiver.url, secret: 's' } });
      const test = await call(fake, 'POST', '/v1/message/send', { body: sms({ test: true }) });
      expect(test.json.messageid).toMatch(/^[a-z0-9]{30}$/);
      const query = await call(fake, 'POST', '/v1/voice/send?test=true', { body: sms() });
      expect(query.status).toBe(200);
      const invalid = await call(fake, 'POST', '/v1/message/send', { body: sms({ test: true, sender: '' }) });
      expect(invalid.json).toMatchObject({ error: '109' });
      await fake.flushWebhooks();
      expect(fake.messages).toHaveLength(0);
      expect(fake.balance).toBe(100);
      expect(receiver.received).toHaveLength(0);
      expect(fake.requests).toHaveLength(3);
    });

    it('records voice calls with language en and gender Female by default, sender optional', async () => {
      const fake = await useFakeSmstools();
      const plain = await call(fake, 'POST', '/v1/voice/send', { body: { message: TEXT, to: PHONE } });
      expect(plain.status).toBe(200);
      await call(fake, 'POST', '/v1/voice/send', { body: sms({ language: 'nl', gender: 'Male' }) });
      expect(fake.messages.map((m) => [m.channel, m.language, m.gender, m.sender])).toStrictEqual([
        ['voice', 'en', 'Female', undefined],
        ['voice', 'nl', 'Male', 'MyApp'],
      ]);
      const bad = await call(fake, 'POST', '/v1/voice/send', { body: sms({ language: 'es' }) });
      expect(bad.status).toBe(400);
      expect(fake.balance).toBeCloseTo(100 - 0.3);
    });

    it('fails SMS to failSmsTo numbers with 106 while voice calls to them work', async () => {
      const fake = await useFakeSmstools({ failSmsTo: ['+32470123401'] });
      const text = await call(fake, 'POST', '/v1/message/send', { body: sms() });
      expect(text.json).toMatchObject({ error: '106' });
      const voice = await call(fake, 'POST', '/v1/voice/send', { body: sms() });
      expect(voice.status).toBe(200);
      expect(fake.messages.map((m) => m.channel)).toStrictEqual(['voice']);
    });

    it('tells listeners about each recorded message and finds the last code', async () => {
      const seen: string[] = [];
      const fake = await useFakeSmstools({ onMessage: (m) => seen.push(`cb:${m.to}`) });
      fake.on('message', (m: { channel: string }) => seen.push(`event:${m.channel}`));
      await call(fake, 'POST', '/v1/message/send', { body: sms() });
      expect(seen).toStrictEqual(['cb:32470123401', 'event:sms']);
      expect(fake.lastCode(PHONE)).toBe('482913');
      expect(fake.lastMessage('+32 470 12 34 01')?.channel).toBe('sms');
      expect(fake.lastCode('+31600000000')).toBeUndefined();
    });

    it('lists sent SMS in GET /v1/message/history and validates limit and page', async () => {
      const fake = await useFakeSmstools();
      await call(fake, 'POST', '/v1/message/send', { body: sms() });
      const { json } = await call(fake, 'GET', '/v1/message/history?limit=10');
      expect(json).toMatchObject({ total: 1, shown: 1, page: 1, limit: 10 });
      expect((json.messages as object[])[0]).toMatchObject({ ID: 1, to: '32470123401', type: 'single' });
      expect((await call(fake, 'GET', '/v1/message/history?limit=2001')).json).toMatchObject({
        error: '135',
      });
      expect((await call(fake, 'GET', '/v1/message/history?page=0')).json).toMatchObject({ error: '136' });
      expect((await call(fake, 'GET', '/v1/nope')).status).toBe(404);
    });
  });

  describe('forced failures', () => {
    it('answers each failure mode once, then recovers', async () => {
      const fake = await useFakeSmstools();
      const send = () => call(fake, 'POST', '/v1/message/send', { body: sms() });
      fake.failNext({ error: '105' });
      expect((await send()).json).toStrictEqual({ error: '105', errorMsg: expect.any(String) });
      fake.failNext({ error: '104', status: 401 });
      expect((await send()).status).toBe(401);
      fake.failNext('html-5xx');
      const html = await send();
      expect([html.status, html.headers.get('content-type'), html.text]).toStrictEqual([
        502,
        'text/html',
        expect.stringContaining('<html>'),
      ]);
      fake.failNext({ mode: 'html-5xx', status: 503 });
      expect((await send()).status).toBe(503);
      fake.failNext('no-messageid');
      expect(await send()).toMatchObject({ status: 200, json: {} });
      fake.failNext('invalid-json');
      expect(await send()).toMatchObject({ status: 200, json: undefined });
      fake.failNext('429');
      const limited = await send();
      expect([limited.status, limited.headers.get('retry-after')]).toStrictEqual([429, '1']);
      fake.failNext('reset');
      await expect(send()).rejects.toThrow();
      expect((await send()).status).toBe(200);
      expect(fake.messages).toHaveLength(1);
    });

    it('repeats failNext `times` times and failMode until cleared', async () => {
      const fake = await useFakeSmstools();
      const send = async () => (await call(fake, 'POST', '/v1/message/send', { body: sms() })).status;
      fake.failNext('429', 2);
      expect([await send(), await send(), await send()]).toStrictEqual([429, 429, 200]);
      fake.failMode = { error: '105' };
      expect([await send(), await send()]).toStrictEqual([400, 400]);
      fake.failMode = undefined;
      expect(await send()).toBe(200);
    });

    it('stalls, then answers normally; close() ends a stall at once', async () => {
      const fake = await useFakeSmstools();
      fake.failNext({ mode: 'slow', delayMs: 50 });
      expect((await call(fake, 'POST', '/v1/message/send', { body: sms() })).status).toBe(200);
      fake.failNext('slow'); // 30 s
      const stalled = call(fake, 'POST', '/v1/message/send', { body: sms() }).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = performance.now();
      await fake.close();
      expect(performance.now() - started).toBeLessThan(5_000); // far below the 30 s stall, with room for a loaded CI machine
      expect(await stalled).toBeInstanceOf(Error);
      expect(fake.messages).toHaveLength(1);
    });
  });

  describe('delivery-report webhooks', () => {
    it('posts a signed delivery_report that smstools().parseDeliveryReport accepts', async () => {
      const receiver = await useWebhookReceiver();
      const fake = await useFakeSmstools({
        webhook: { url: receiver.url, secret: 'whsec_1' },
        username: 'acme',
      });
      const transport = smstools({ ...fake.transportOptions(), sender: 'MyApp' });
      const { id } = await transport.sendSms({ to: PHONE, text: TEXT });
      await fake.flushWebhooks();

      expect(receiver.received).toHaveLength(1);
      const [report] = receiver.received;
      if (!report) throw new Error('no report');
      expect(report.headers['content-type']).toBe('application/json');
      expect(report.headers['x-smstools-signature']).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(JSON.parse(report.rawBody.toString())).toStrictEqual({
        webhook_id: expect.any(String),
        webhook_type: 'delivery_report',
        username: 'acme',
        message: {
          messageid: id,
          receiver: '32470123401',
          delivery_code: '1',
          delivery_status: 'delivered',
          delivery_code_detail: '',
          delivery_status_datetime: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/),
        },
      });
      const parsed = transport.parseDeliveryReport?.({ ...report, now: Date.now() });
      expect(parsed).toStrictEqual({ messageId: id, status: 'delivered', receiver: '+32470123401' });
      expect(fake.messages[0]?.status).toBe('delivered');
      expect(fake.webhooks).toMatchObject([{ messageId: id, status: 'delivered', responseStatus: 204 }]);
    });

    it('reports submitted first when asked, and not delivered for undeliverableTo numbers', async () => {
      const receiver = await useWebhookReceiver();
      const fake = await useFakeSmstools({
        webhook: { url: receiver.url, secret: 'whsec_1', submittedFirst: true },
        undeliverableTo: [PHONE],
      });
      const transport = smstools({ ...fake.transportOptions(), sender: 'MyApp' });
      const { id } = await transport.sendSms({ to: PHONE, text: TEXT });
      await transport.sendVoice({ to: PHONE, text: TEXT });
      await fake.flushWebhooks();
      const reports = receiver.received.map((r) =>
        transport.parseDeliveryReport?.({ ...r, now: Date.now() }),
      );
      expect(reports.filter((r) => r?.messageId === id).map((r) => r?.status)).toStrictEqual([
        'submitted',
        'undelivered',
      ]);
      const bodies = receiver.received.map((r) => JSON.parse(r.rawBody.toString()).message);
      expect(bodies.find((b) => b.delivery_code === '2')).toMatchObject({ delivery_code_detail: '10' });
      expect(reports.filter((r) => r?.messageId !== id).map((r) => r?.status)).toStrictEqual([
        'submitted',
        'delivered',
      ]);
    });

    it('delivers on demand: out of order, duplicated, stale or signed with another secret', async () => {
      const receiver = await useWebhookReceiver();
      const fake = await useFakeSmstools({
        webhook: { url: receiver.url, secret: 'whsec_1', delayMs: 60_000 },
      });
      const transport = smstools({ ...fake.transportOptions(), sender: 'MyApp' });
      const { id = '' } = await transport.sendSms({ to: PHONE, text: TEXT });
      await fake.deliver(id, 'delivered');
      await fake.deliver(id, 'submitted', { duplicate: true });
      await fake.deliver(id, 'delivered', { timestamp: Date.now() - 10 * 60_000 });
      await fake.deliver(id, 'delivered', { secret: 'whsec_wrong' });
      const parse = (i: number) => {
        const r = receiver.received[i];
        return r && transport.parseDeliveryReport?.({ ...r, now: Date.now() });
      };
      expect([parse(0), parse(1), parse(2)].map((r) => r?.status)).toStrictEqual([
        'delivered',
        'submitted',
        'submitted',
      ]);
      expect(receiver.received[1]?.rawBody.equals(receiver.received[2]?.rawBody ?? Buffer.alloc(0))).toBe(
        true,
      );
      expect(() => parse(3)).toThrow(expect.objectContaining({ code: 'ERR_2FA_FORBIDDEN_ORIGIN' }));
      expect(() => parse(4)).toThrow(expect.objectContaining({ code: 'ERR_2FA_FORBIDDEN_ORIGIN' }));
    });

    it('survives a receiver that is down or failing, and records the attempt', async () => {
      const failing = await useWebhookReceiver(500);
      const fake = await useFakeSmstools({ webhook: { url: 'http://127.0.0.1:9/hook', secret: 's' } });
      await call(fake, 'POST', '/v1/message/send', { body: sms() });
      await fake.flushWebhooks();
      expect(fake.webhooks[0]?.error).toEqual(expect.any(String));
      fake.webhook = { url: failing.url, secret: 's' };
      await call(fake, 'POST', '/v1/message/send', { body: sms() });
      await fake.flushWebhooks();
      expect(fake.webhooks[1]?.responseStatus).toBe(500);
      expect((await call(fake, 'GET', '/v1/auth')).status).toBe(200);
    });
  });

  describe('control routes under /__fake', () => {
    it('lists messages, sets balance and credentials, forces failures, delivers and resets', async () => {
      const receiver = await useWebhookReceiver();
      const fake = await useFakeSmstools({ webhook: { url: receiver.url, secret: 's', delayMs: 60_000 } });
      const { json: sent } = await call(fake, 'POST', '/v1/message/send', { body: sms() });
      const listed = await call(fake, 'GET', '/__fake/messages', { auth: false });
      expect((listed.json.messages as { id: string }[])[0]?.id).toBe(sent.messageid);

      await call(fake, 'POST', '/__fake/balance', { body: { balance: 0 }, auth: false });
      expect((await call(fake, 'POST', '/v1/message/send', { body: sms() })).json).toMatchObject({
        error: '108',
      });

      await call(fake, 'POST', '/__fake/fail', { body: { failure: '429', times: 1 }, auth: false });
      expect((await call(fake, 'GET', '/v1/auth')).status).toBe(429);

      const delivered = await call(fake, 'POST', '/__fake/deliver', {
        body: { messageId: sent.messageid, status: 'not delivered' },
        auth: false,
      });
      expect(delivered.json).toMatchObject({ attempts: [{ responseStatus: 204 }] });
      expect(receiver.received).toHaveLength(1);

      await call(fake, 'POST', '/__fake/credentials', {
        body: { clientId: 'a', clientSecret: 'b' },
        auth: false,
      });
      expect((await call(fake, 'GET', '/v1/auth')).json).toMatchObject({ error: '104' });

      await call(fake, 'POST', '/__fake/reset', { auth: false });
      expect(fake.messages).toHaveLength(0);
      expect(fake.requests).toHaveLength(0);
    });
  });

  describe('lifecycle', () => {
    it('needs start() before url, counts connections and closes kept-alive sockets', async () => {
      const fake = fakeSmstools({ clientId: 'client-42', clientSecret: CLIENT_SECRET });
      expect(() => fake.url).toThrow(/start/);
      await fake.start();
      for (let i = 0; i < 10; i++) await call(fake, 'GET', '/v1/auth');
      expect(fake.connections).toBeGreaterThanOrEqual(1);
      expect(fake.connections).toBeLessThanOrEqual(2); // undici opens a second socket once, then reuses
      const started = performance.now();
      await fake.close();
      expect(performance.now() - started).toBeLessThan(3_000); // not held until the idle kept-alive sockets time out (5 s)
    });
  });
});
