import { ofetch } from 'ofetch';
import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError, TwoFactorError } from '../../src/errors.js';
import type { FakeSmstools, FakeSmstoolsFailure } from '../../src/testing/fake-smstools.js';
import { type SmstoolsOptions, smstools } from '../../src/transports/smstools.js';
import {
  CLIENT_SECRET,
  CODE,
  closedPort,
  countingFetch,
  deliveryReport,
  expectNoLeak,
  expectSendFailure,
  PHONE,
  renderings,
  signedHeaders,
  TEXT,
  useFakeSmstools,
  useRawServer,
} from '../helpers/smstools-helpers.js';

const transportFor = (fake: FakeSmstools, options: Partial<SmstoolsOptions> = {}) =>
  smstools({ ...fake.transportOptions(), sender: 'MyApp', ...options });

describe('smstools()', () => {
  describe('sendSms()', () => {
    it('POSTs /v1/message/send with the credential headers and exactly { message, to, sender }', async () => {
      const fake = await useFakeSmstools();
      const result = await transportFor(fake).sendSms({ to: PHONE, text: TEXT });

      expect(fake.requests).toHaveLength(1);
      const [request] = fake.requests;
      expect(request).toMatchObject({ method: 'POST', path: '/v1/message/send' });
      expect(request?.headers).toMatchObject({
        'x-client-id': 'client-42',
        'x-client-secret': CLIENT_SECRET,
        'content-type': 'application/json',
        accept: 'application/json',
      });
      expect(request?.body).toStrictEqual({ message: TEXT, to: '32470123401', sender: 'MyApp' });
      expect(result).toStrictEqual({ id: fake.messages[0]?.id });
      expect(result.id).toMatch(/^[a-z0-9]{30}$/);
    });

    it('adds reference only when one is given', async () => {
      const fake = await useFakeSmstools();
      await transportFor(fake).sendSms({ to: PHONE, text: TEXT, reference: 'chal_1' });
      expect(fake.requests[0]?.body).toStrictEqual({
        message: TEXT,
        to: '32470123401',
        sender: 'MyApp',
        reference: 'chal_1',
      });
    });

    it('never copies other fields of the message into the body', async () => {
      const fake = await useFakeSmstools();
      const hostile = { to: PHONE, text: TEXT, test: true, to2: ['+1'], type: 'group', subid: 9 };
      await transportFor(fake).sendSms(hostile);
      expect(Object.keys(fake.requests[0]?.body as object).sort()).toStrictEqual(['message', 'sender', 'to']);
      expect(fake.messages).toHaveLength(1); // `test: true` was not passed on: the SMS was really sent
    });

    it.each([
      ['digits without +', '32470123401'],
      ['00 prefix', '0032470123401'],
      ['spaces', '+32 470 12 34 01'],
      ['7 digits', '+3247012'],
      ['16 digits', '+3247012340112345'],
      ['a leading 0 after +', '+0470123401'],
      ['an array', ['+32470123401']],
      ['an empty string', ''],
    ])('rejects a destination with %s with ERR_2FA_SEND_FAILED, without calling Smstools', async (_, to) => {
      const fake = await useFakeSmstools();
      const cause = await expectSendFailure(transportFor(fake).sendSms({ to: to as string, text: TEXT }), {
        kind: 'invalid-request',
        retryable: false,
      });
      expect(cause.status).toBeUndefined();
      expect(fake.requests).toHaveLength(0);
    });

    it('throws a TypeError for a reference over 75 characters, without calling Smstools', async () => {
      const fake = await useFakeSmstools();
      const transport = transportFor(fake);
      await expect(transport.sendSms({ to: PHONE, text: TEXT, reference: 'r'.repeat(76) })).rejects.toThrow(
        TypeError,
      );
      await transport.sendSms({ to: PHONE, text: TEXT, reference: 'r'.repeat(75) });
      expect(fake.requests).toHaveLength(1);
    });

    it('takes the first id when Smstools answers with messageids', async () => {
      const baseUrl = await useRawServer((req, res) => {
        req.resume();
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"messageids":["firstid","secondid"]}');
      });
      const transport = smstools({ clientId: 'id', clientSecret: 'cs', sender: 'MyApp', baseUrl });
      await expect(transport.sendSms({ to: PHONE, text: TEXT })).resolves.toStrictEqual({ id: 'firstid' });
    });
  });

  describe('sendVoice()', () => {
    it('POSTs /v1/voice/send with exactly { message, to, sender, language, gender } (defaults en, Female)', async () => {
      const fake = await useFakeSmstools();
      const result = await transportFor(fake).sendVoice({ to: PHONE, text: TEXT });
      const [request] = fake.requests;
      expect(request).toMatchObject({ method: 'POST', path: '/v1/voice/send' });
      expect(request?.headers).toMatchObject({
        'x-client-id': 'client-42',
        'x-client-secret': CLIENT_SECRET,
        'content-type': 'application/json',
      });
      expect(request?.body).toStrictEqual({
        message: TEXT,
        to: '32470123401',
        sender: 'MyApp',
        language: 'en',
        gender: 'Female',
      });
      expect(fake.messages[0]).toMatchObject({ channel: 'voice', id: result.id, language: 'en' });
    });

    it('speaks the message language first, then voice.language', async () => {
      const fake = await useFakeSmstools();
      const transport = transportFor(fake, { voice: { language: 'fr', gender: 'Male' } });
      await transport.sendVoice({ to: PHONE, text: TEXT });
      await transport.sendVoice({ to: PHONE, text: TEXT, language: 'nl' });
      await transport.sendVoice({ to: PHONE, text: TEXT, language: 'de-AT', reference: 'c1' });
      await transport.sendVoice({ to: PHONE, text: TEXT, language: 'es' });
      const bodies = fake.requests.map((r) => r.body as Record<string, string>);
      expect(bodies.map((b) => b.language)).toStrictEqual(['fr', 'nl', 'de', 'fr']);
      expect(bodies.every((b) => b.gender === 'Male')).toBe(true);
      expect(bodies[2]?.reference).toBe('c1');
    });

    it('exposes the default language', () => {
      const base = { clientId: 'a', clientSecret: 'b', sender: 'MyApp' };
      expect(smstools(base).language).toBe('en');
      expect(smstools({ ...base, voice: { language: 'nl' } }).language).toBe('nl');
    });
  });

  describe('when Smstools refuses the send', () => {
    const cases: {
      code: string;
      retryable: boolean;
      setup: (fake: FakeSmstools) => void;
      options?: Partial<SmstoolsOptions>;
    }[] = [
      { code: '104', retryable: false, setup: (f) => f.setCredentials('client-42', 'another-secret') },
      { code: '106', retryable: false, setup: (f) => f.failSmsTo.add(PHONE) },
      { code: '108', retryable: false, setup: (f) => (f.balance = 0.01) },
      { code: '111', retryable: false, setup: (f) => f.failNext({ error: '111' }) },
      { code: '118', retryable: false, setup: (f) => f.failNext({ error: '118' }) },
      { code: '131', retryable: false, setup: (f) => f.optOuts.add('32470123401') },
      { code: '105', retryable: true, setup: (f) => f.failNext({ error: '105' }) },
      { code: '200', retryable: false, setup: (f) => f.failNext({ error: '200', status: 403 }) },
      { code: '1002', retryable: false, setup: (f) => f.failNext({ error: '1002' }) },
    ];
    for (const { code, retryable, setup } of cases) {
      describe(`when Smstools answers ${code}`, () => {
        it(`throws ERR_2FA_SEND_FAILED with providerCode ${code}, after exactly one request`, async () => {
          const fake = await useFakeSmstools();
          const transport = transportFor(fake);
          setup(fake);
          const cause = await expectSendFailure(transport.sendSms({ to: PHONE, text: TEXT }), {
            kind: 'http',
            providerCode: code,
            retryable,
          });
          expect(cause.status).toBe(code === '200' ? 403 : 400);
          expect(fake.requests).toHaveLength(1);
          expect(fake.messages).toHaveLength(0);
        });
      });
    }

    it('reads a numeric error code and a configured status (104 as 401)', async () => {
      const fake = await useFakeSmstools({ errorStatus: { '104': 401 } });
      fake.failNext({ error: 108 });
      const transport = transportFor(fake);
      await expectSendFailure(transport.sendSms({ to: PHONE, text: TEXT }), {
        providerCode: '108',
        status: 400,
      });
      fake.setCredentials('client-42', 'rotated');
      await expectSendFailure(transport.sendVoice({ to: PHONE, text: TEXT }), {
        providerCode: '104',
        status: 401,
      });
    });

    it('keeps no free-text error and never the errorMsg, which names the number', async () => {
      const fake = await useFakeSmstools();
      fake.failNext({ error: 'error parsing json' });
      fake.failNext({ error: '106' }); // the fake's errorMsg names the number, as the real one does
      const transport = transportFor(fake);
      const free = await expectSendFailure(transport.sendSms({ to: PHONE, text: TEXT }), { kind: 'http' });
      expect(free.providerCode).toBeUndefined();
      await expectSendFailure(transport.sendSms({ to: PHONE, text: TEXT }), { providerCode: '106' });
    });
  });

  describe('when Smstools answers something unusable', () => {
    const cases: { name: string; failure: FakeSmstoolsFailure; expected: object }[] = [
      {
        name: 'a 502 HTML page',
        failure: 'html-5xx',
        expected: { kind: 'http', status: 502, retryable: true },
      },
      {
        name: 'a 503 HTML page',
        failure: { mode: 'html-5xx', status: 503 },
        expected: { kind: 'http', status: 503, retryable: true },
      },
      { name: '429', failure: '429', expected: { kind: 'http', status: 429, retryable: true } },
      {
        name: '200 without a messageid',
        failure: 'no-messageid',
        expected: { kind: 'invalid-response', status: 200, retryable: false },
      },
      {
        name: '200 with truncated JSON',
        failure: 'invalid-json',
        expected: { kind: 'invalid-response', status: 200, retryable: false },
      },
      { name: 'a socket reset', failure: 'reset', expected: { kind: 'network', retryable: true } },
    ];
    for (const { name, failure, expected } of cases) {
      it(`maps ${name} to ERR_2FA_SEND_FAILED (${JSON.stringify(expected)}) after exactly one request`, async () => {
        const fake = await useFakeSmstools();
        fake.failNext(failure);
        const spy = countingFetch();
        const cause = await expectSendFailure(
          transportFor(fake, { fetch: spy.fetch }).sendSms({ to: PHONE, text: TEXT }),
          expected,
        );
        expect(cause.providerCode).toBeUndefined();
        expect(fake.requests).toHaveLength(1);
        expect(spy.calls).toBe(1);
      });
    }
  });

  describe('when Smstools answers with a redirect', () => {
    it('does not follow it (the secret and the code would go along) and fails with the 3xx status', async () => {
      let followed = 0;
      const elsewhere = await useRawServer((req, res) => {
        followed++;
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"messageid":"abc"}');
      });
      const baseUrl = await useRawServer((req, res) => {
        req.resume();
        res.writeHead(307, { location: `${elsewhere}/message/send` }).end();
      });
      const transport = smstools({ clientId: 'id', clientSecret: CLIENT_SECRET, sender: 'MyApp', baseUrl });
      await expectSendFailure(transport.sendSms({ to: PHONE, text: TEXT }), { kind: 'http', status: 307 });
      expect(followed).toBe(0);
    });
  });

  describe('when the connection fails before anything is sent', () => {
    it('tries a refused connection exactly twice, then throws kind network', async () => {
      const port = await closedPort();
      const spy = countingFetch();
      const transport = smstools({
        clientId: 'client-42',
        clientSecret: CLIENT_SECRET,
        sender: 'MyApp',
        baseUrl: `http://127.0.0.1:${port}/v1`,
        fetch: spy.fetch,
      });
      await expectSendFailure(transport.sendSms({ to: PHONE, text: TEXT }), {
        kind: 'network',
        retryable: true,
      });
      expect(spy.calls).toBe(2);
    });

    it('tries an unresolvable host exactly twice', async () => {
      const spy = countingFetch();
      const transport = smstools({
        clientId: 'client-42',
        clientSecret: CLIENT_SECRET,
        sender: 'MyApp',
        baseUrl: 'http://smstools-fake.invalid/v1',
        fetch: spy.fetch,
      });
      await expectSendFailure(transport.sendSms({ to: PHONE, text: TEXT }), { kind: 'network' });
      expect(spy.calls).toBe(2);
    });

    it('sends once when the first attempt is refused and the second gets through', async () => {
      const fake = await useFakeSmstools();
      let calls = 0;
      const port = await closedPort();
      const flaky = ((input: string | URL | Request, init?: RequestInit) => {
        calls++;
        const url =
          calls === 1 ? String(input).replace(new URL(fake.url).origin, `http://127.0.0.1:${port}`) : input;
        return fetch(url, init);
      }) as typeof fetch;
      await transportFor(fake, { fetch: flaky }).sendSms({ to: PHONE, text: TEXT });
      expect(calls).toBe(2);
      expect(fake.messages).toHaveLength(1);
    });
  });

  describe('when Smstools stalls', () => {
    it('ends a 30 s stall at the timeout, with one request at the server', async () => {
      const fake = await useFakeSmstools();
      fake.failNext({ mode: 'slow', delayMs: 30_000 });
      const spy = countingFetch();
      const started = performance.now();
      await expectSendFailure(
        transportFor(fake, { timeoutMs: 300, fetch: spy.fetch }).sendSms({ to: PHONE, text: TEXT }),
        { kind: 'timeout', retryable: true },
      );
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(fake.requests).toHaveLength(1);
      expect(spy.calls).toBe(1);
    });

    it('ends at the timeout when the body stalls after the headers', async () => {
      const baseUrl = await useRawServer((req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"messageid":');
      });
      const transport = smstools({
        clientId: 'client-42',
        clientSecret: CLIENT_SECRET,
        sender: 'MyApp',
        baseUrl,
        timeoutMs: 300,
      });
      const started = performance.now();
      await expectSendFailure(transport.sendSms({ to: PHONE, text: TEXT }), { kind: 'timeout' });
      expect(performance.now() - started).toBeLessThan(5_000);
    });
  });

  describe('connection reuse', () => {
    it('opens at most 2 TCP connections for 100 sequential sends', async () => {
      const fake = await useFakeSmstools();
      const transport = transportFor(fake);
      for (let i = 0; i < 100; i++) await transport.sendSms({ to: PHONE, text: TEXT });
      expect(fake.messages).toHaveLength(100);
      expect(fake.connections).toBeLessThanOrEqual(2);
    });
  });

  describe('secrecy', () => {
    it('keeps the code, text, number and secret out of every failure, including util.inspect and JSON', async () => {
      const fake = await useFakeSmstools();
      const transport = transportFor(fake, { timeoutMs: 300 });
      const failures: FakeSmstoolsFailure[] = [
        { error: '106' },
        'html-5xx',
        'invalid-json',
        'reset',
        { mode: 'slow', delayMs: 5_000 },
      ];
      for (const failure of failures) {
        fake.failNext(failure);
        const error = await transport.sendVoice({ to: PHONE, text: TEXT }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(TwoFactorError);
        expectNoLeak(error);
        expect(JSON.stringify(error)).not.toContain(CODE);
      }
    });

    it('would catch a leak: the raw ofetch error shows the secret and the code', async () => {
      const fake = await useFakeSmstools();
      fake.failNext('reset');
      const raw = await ofetch(`${fake.url}/message/send`, {
        method: 'POST',
        headers: { 'X-Client-Secret': CLIENT_SECRET },
        body: { message: TEXT },
        retry: 0,
      }).catch((e: unknown) => e);
      const text = renderings(raw).join('\n');
      expect(text).toContain(CLIENT_SECRET);
      expect(text).toContain(CODE);
    });
  });

  describe('options', () => {
    const valid: SmstoolsOptions = { clientId: 'id', clientSecret: 'secret', sender: 'MyApp' };
    const invalid: [string, string, Record<string, unknown>][] = [
      ['clientId', 'missing', { clientId: undefined }],
      ['clientId', 'empty', { clientId: '' }],
      ['clientId', 'padded', { clientId: ' id\n' }],
      ['clientSecret', 'missing', { clientSecret: undefined }],
      ['clientSecret', 'a number', { clientSecret: 42 }],
      ['sender', 'missing', { sender: undefined }],
      ['sender', '12 characters', { sender: 'MyCompanyApp' }],
      ['sender', 'a special character', { sender: 'My-App' }],
      ['sender', 'an accent', { sender: 'Café' }],
      ['sender', 'only spaces', { sender: '   ' }],
      ['sender', 'a 15-digit number', { sender: '324701234011234' }],
      ['sender', 'a + number of 15 characters', { sender: '+32470123401123' }],
      ['baseUrl', 'not a URL', { baseUrl: 'api.smstools.com' }],
      ['baseUrl', 'ftp', { baseUrl: 'ftp://api.smstools.com/v1' }],
      ['baseUrl', 'with credentials', { baseUrl: 'https://u:p@api.smstools.com/v1' }],
      ['timeoutMs', 'zero', { timeoutMs: 0 }],
      ['timeoutMs', 'fractional', { timeoutMs: 1.5 }],
      ['timeoutMs', 'longer than the send lock allows', { timeoutMs: 60_000 }],
      ['voice', 'not an object', { voice: 'nl' }],
      ['voice.language', 'unsupported', { voice: { language: 'es' } }],
      ['voice.gender', 'lower case', { voice: { gender: 'female' } }],
      ['voice.speed', 'unknown', { voice: { speed: 2 } }],
      ['webhookSecret', 'empty', { webhookSecret: '' }],
      ['webhookToleranceMs', 'without a secret', { webhookToleranceMs: 1000 }],
      ['webhookToleranceMs', 'negative', { webhookSecret: 's', webhookToleranceMs: -1 }],
      ['webhookToleranceMs', 'over 15 minutes', { webhookSecret: 's', webhookToleranceMs: 3_600_000 }],
      ['fetch', 'not a function', { fetch: 'fetch' }],
      ['clientID', 'a misspelt key', { clientID: 'x' }],
    ];
    it.each(invalid)('throws TwoFactorConfigError naming `%s` when it is %s', (option, _, patch) => {
      const build = () => smstools({ ...valid, ...patch } as SmstoolsOptions);
      expect(build).toThrow(TwoFactorConfigError);
      expect(build).toThrow(`\`${option}\``);
    });

    it('suggests the right key for a misspelt one', () => {
      expect(() => smstools({ ...valid, timeoutMS: 5000 } as SmstoolsOptions)).toThrow(
        /did you mean `timeoutMs`/,
      );
    });

    it('points to the dashboard for missing credentials', () => {
      expect(() => smstools({ ...valid, clientId: '' })).toThrow(/Advanced → API authentication/);
    });

    it.each(['MyApp', 'My App 2', 'A', 'Shop24', '+32470123456', '+8010'])(
      'accepts the sender %s',
      (sender) => {
        expect(() => smstools({ ...valid, sender })).not.toThrow();
      },
    );

    it('throws when called without options', () => {
      expect(() => smstools(undefined as unknown as SmstoolsOptions)).toThrow(TwoFactorConfigError);
    });
  });

  describe('parseDeliveryReport()', () => {
    const secret = 'whsec_test_123';
    const now = 1_767_348_000_000; // 2026-01-02 10:00:00 UTC
    const t = now / 1000;
    const transport = smstools({
      clientId: 'id',
      clientSecret: 'cs',
      sender: 'MyApp',
      webhookSecret: secret,
    });
    const parse = (body: string, headers: Record<string, string | string[]>, at = now) =>
      transport.parseDeliveryReport?.({ rawBody: Buffer.from(body), headers, now: at });
    const refused = { code: 'ERR_2FA_FORBIDDEN_ORIGIN' };

    it('is absent without webhookSecret', () => {
      expect(
        smstools({ clientId: 'id', clientSecret: 'cs', sender: 'MyApp' }).parseDeliveryReport,
      ).toBeUndefined();
    });

    it('accepts a valid signature and returns the report, with the receiver in E.164', () => {
      const body = deliveryReport('abc123', '1');
      expect(parse(body, signedHeaders(secret, body, t))).toStrictEqual({
        messageId: 'abc123',
        status: 'delivered',
        receiver: '+32470123401',
      });
    });

    it('leaves out a receiver that is missing or not a number', () => {
      for (const receiver of [undefined, '', 'acme', '0470123401', '+3247', 32470123401]) {
        const body = JSON.stringify({
          webhook_type: 'delivery_report',
          message: { messageid: 'abc123', delivery_code: '1', receiver },
        });
        expect(parse(body, signedHeaders(secret, body, t)), String(receiver)).toStrictEqual({
          messageId: 'abc123',
          status: 'delivered',
        });
      }
    });

    it('accepts a signature without X-Smstools-Timestamp, and a timestamp 299 s old or ahead', () => {
      const body = deliveryReport('abc123', '1');
      const { 'x-smstools-signature': signature = '' } = signedHeaders(secret, body, t);
      expect(parse(body, { 'x-smstools-signature': signature })).not.toBeNull();
      expect(parse(body, signedHeaders(secret, body, t - 299))).not.toBeNull();
      expect(parse(body, signedHeaders(secret, body, t + 299))).not.toBeNull();
    });

    it.each([
      ['a wrong secret', (body: string) => signedHeaders('whsec_other', body, t)],
      ['a tampered body', (body: string) => signedHeaders(secret, body.replace('"1"', '"2"'), t)],
      ['no signature header', () => ({})],
      ['a malformed header', () => ({ 'x-smstools-signature': 'sha256=abc' })],
      ['a stale timestamp (301 s old)', (body: string) => signedHeaders(secret, body, t - 301)],
      ['a future timestamp (301 s ahead)', (body: string) => signedHeaders(secret, body, t + 301)],
      [
        'a mismatched X-Smstools-Timestamp',
        (body: string) => ({ ...signedHeaders(secret, body, t), 'x-smstools-timestamp': String(t - 1) }),
      ],
      [
        'a repeated signature header',
        (body: string) => {
          const signature = signedHeaders(secret, body, t)['x-smstools-signature'] ?? '';
          return { 'x-smstools-signature': [signature, signature] };
        },
      ],
      ['a truncated signature', () => ({ 'x-smstools-signature': `t=${t},v1=${'a'.repeat(63)}` })],
    ])('refuses %s with ERR_2FA_FORBIDDEN_ORIGIN', (_, headersFor) => {
      const body = deliveryReport('abc123', '1');
      expect(() => parse(body, headersFor(body) as Record<string, string>)).toThrow(
        expect.objectContaining(refused),
      );
    });

    it('honours webhookToleranceMs', () => {
      const strict = smstools({
        clientId: 'id',
        clientSecret: 'cs',
        sender: 'MyApp',
        webhookSecret: secret,
        webhookToleranceMs: 10_000,
      });
      const body = deliveryReport('abc123', '1');
      const at = (seconds: number) => ({
        rawBody: Buffer.from(body),
        headers: signedHeaders(secret, body, seconds),
        now,
      });
      expect(strict.parseDeliveryReport?.(at(t - 10))).not.toBeNull();
      expect(() => strict.parseDeliveryReport?.(at(t - 11))).toThrow(expect.objectContaining(refused));
    });

    it('returns null for authentic webhooks that are not delivery reports, or not JSON', () => {
      for (const body of [deliveryReport('abc', '1', 'inbox_message'), '{"webhook_type":', '[]', '{}']) {
        expect(parse(body, signedHeaders(secret, body, t))).toBeNull();
      }
    });

    it.each([
      ['0', 'submitted'],
      ['1', 'delivered'],
      ['2', 'undelivered'],
      ['3', 'submitted'],
      ['4', 'undelivered'],
      ['5', 'undelivered'],
      ['9', 'submitted'],
      [2, 'undelivered'],
    ])('maps delivery_code %j to %s', (code, status) => {
      const body = deliveryReport('abc123', code);
      expect(parse(body, signedHeaders(secret, body, t))).toMatchObject({ messageId: 'abc123', status });
    });
  });
});
