/**
 * What Smstools' own documentation says it refuses or offers, checked against `smstools()`, the core
 * and the fake server (smstools-api.md section 8): a config the real API refuses must not pass
 * startup, and the fake must refuse what the real API refuses.
 */
import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../src/errors.js';
import { smstools } from '../../src/transports/smstools.js';
import { createApp, json, signIn, USERS } from '../helpers/create-app.js';
import { CLIENT_SECRET, PHONE, TEXT, useFakeSmstools } from '../helpers/smstools-helpers.js';

const CREDENTIALS = { clientId: 'client-42', clientSecret: CLIENT_SECRET };

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

async function postToFake(url: string, path: string, body: object) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-client-id': CREDENTIALS.clientId,
      'x-client-secret': CREDENTIALS.clientSecret,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('the sender (Smstools error 110: "the sender number always has to start with a +")', () => {
  for (const sender of ['32470123456', '8010', '0032470123456']) {
    it(`refuses the numeric sender ${sender} without + at construction, and says to add the +`, () => {
      const error = thrownBy(() => smstools({ ...CREDENTIALS, sender }));
      expect(error).toBeInstanceOf(TwoFactorConfigError);
      expect((error as TwoFactorConfigError).option).toBe('sender');
      expect((error as Error).message).toMatch(/\+/);
      expect((error as Error).message).toMatch(/110/);
    });
  }

  it('accepts a number with + and a name of at most 11 letters and digits', () => {
    for (const sender of ['+32470123456', '+8010', 'MyApp', 'Shop 24', 'A1']) {
      expect(
        thrownBy(() => smstools({ ...CREDENTIALS, sender })),
        sender,
      ).toBeUndefined();
    }
  });

  it('is refused by the fake with 110 by default, as the real API documents', async () => {
    const fake = await useFakeSmstools();
    const body = { message: TEXT, to: PHONE.slice(1) };
    const refused = await postToFake(fake.url, '/message/send', { ...body, sender: '32470123456' });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({ error: '110' });
    const voice = await postToFake(fake.url, '/voice/send', { ...body, sender: '32470123456' });
    expect(voice.json).toMatchObject({ error: '110' });
    expect((await postToFake(fake.url, '/message/send', { ...body, sender: '+32470123456' })).status).toBe(
      200,
    );
    expect(fake.messages).toHaveLength(1);
  });
});

describe('the SMS length (Smstools error 118: "cannot be longer than 459 characters")', () => {
  it('makes a custom SMS text longer than 459 GSM characters a construction error', () => {
    const long = () => `Your code is {code}. ${'x'.repeat(450)}`;
    const error = thrownBy(() =>
      createApp({ options: { messages: { sms: (ctx) => long().replace('{code}', ctx.code) } } }),
    );
    expect(error).toBeInstanceOf(TwoFactorConfigError);
    expect((error as TwoFactorConfigError).option).toBe('messages.sms');
    expect((error as Error).message).toMatch(/459/);
  });

  it('counts the GSM extension characters twice, as Smstools does', () => {
    // 6 digits, a space and 227 euro signs are 461 GSM units: over, though only 234 characters.
    const euros = (ctx: { code: string }) => `${ctx.code} ${'€'.repeat(227)}`;
    expect(thrownBy(() => createApp({ options: { messages: { sms: euros } } }))).toBeInstanceOf(
      TwoFactorConfigError,
    );
    const fits = (ctx: { code: string }) => `${ctx.code} ${'€'.repeat(225)}`; // 6 + 1 + 450 = 457
    expect(thrownBy(() => createApp({ options: { messages: { sms: fits } } }))).toBeUndefined();
  });

  it('is refused by the fake beyond 459 by default', async () => {
    const fake = await useFakeSmstools();
    const send = (message: string) =>
      postToFake(fake.url, '/message/send', { message, to: PHONE.slice(1), sender: 'MyApp' });
    expect((await send('a'.repeat(459))).status).toBe(200);
    expect((await send('a'.repeat(460))).json).toMatchObject({ error: '118' });
    expect((await send(`${'a'.repeat(458)}€`)).json).toMatchObject({ error: '118' });
  });

  it('is refused by the transport before the network when a text is longer anyway', async () => {
    const fake = await useFakeSmstools();
    const transport = smstools({ ...fake.transportOptions(), sender: 'MyApp' });
    const error = await transport.sendSms({ to: PHONE, text: 'a'.repeat(460) }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_2FA_SEND_FAILED', cause: { kind: 'invalid-request' } });
    expect(fake.requests).toHaveLength(0);
  });
});

describe("Smstools' test mode (test: true: validated, not sent, not charged)", () => {
  it('sends test: true on SMS and voice when smstools({ test: true })', async () => {
    const fake = await useFakeSmstools();
    const transport = smstools({ ...fake.transportOptions(), sender: 'MyApp', test: true });
    const sms = await transport.sendSms({ to: PHONE, text: TEXT });
    const voice = await transport.sendVoice({ to: PHONE, text: TEXT });
    expect(sms.id).toMatch(/^[a-z0-9]{30}$/);
    expect(voice.id).toMatch(/^[a-z0-9]{30}$/);
    expect(fake.requests.map((r) => (r.body as { test?: unknown }).test)).toEqual([true, true]);
    expect(fake.messages).toHaveLength(0);
    expect(fake.balance).toBe(100);
  });

  it('still has Smstools validate the send: a refusal is a failure as in live mode', async () => {
    const fake = await useFakeSmstools({ failSmsTo: [PHONE] });
    const transport = smstools({ ...fake.transportOptions(), sender: 'MyApp', test: true });
    const error = await transport.sendSms({ to: PHONE, text: TEXT }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_2FA_SEND_FAILED', cause: { providerCode: '106' } });
  });

  it('leaves test off by default and refuses a non-boolean', async () => {
    const fake = await useFakeSmstools();
    await smstools({ ...fake.transportOptions(), sender: 'MyApp' }).sendSms({ to: PHONE, text: TEXT });
    expect(fake.requests[0]?.body).not.toHaveProperty('test');
    const error = thrownBy(() =>
      smstools({ ...fake.transportOptions(), sender: 'MyApp', test: 'yes' as unknown as boolean }),
    );
    expect(error).toBeInstanceOf(TwoFactorConfigError);
    expect((error as TwoFactorConfigError).option).toBe('test');
  });

  it('runs the whole /2fa/send of an app in test mode without an SMS going out', async () => {
    const fake = await useFakeSmstools();
    const t = createApp({
      transport: smstools({ ...fake.transportOptions(), sender: 'MyApp', test: true }),
      sentTexts: () => fake.requests.map((r) => String((r.body as { message?: unknown }).message)),
    });
    const res = await json(await signIn(t), '/2fa/send').expect(200);
    expect(res.body).toMatchObject({ status: 'sent', channel: 'sms' });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]?.body).toMatchObject({ to: USERS.alice.phone.slice(1), test: true });
    expect(fake.messages).toHaveLength(0);
  });
});
