import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode, TwoFactorError } from '../../src/errors.js';
import { LOCALES } from '../../src/messages.js';
import { PAGE_TEXTS } from '../../src/page/texts.js';
import {
  type Agent,
  createApp,
  json,
  sendCode,
  signIn,
  type TestApp,
  wrongCode,
} from '../helpers/create-app.js';
import { appWith, fakeTransport, rejects } from '../helpers/faults.js';

const page = (agent: Agent, path = '/2fa') => agent.get(path).set('Accept', 'text/html');
const form = (agent: Agent, path: string, fields: Record<string, string>) =>
  agent.post(path).type('form').set('Accept', 'text/html').set('Sec-Fetch-Site', 'same-origin').send(fields);
const status = async (agent: Agent) => (await agent.get('/2fa/status').expect(200)).body;
const alertOf = (html: string) => html.match(/<p [^>]*id="tfa-error"[^>]*>([\s\S]*?)<\/p>/)?.[1] ?? null;

/** Sends, then types `n` wrong codes as JSON. */
async function failTimes(t: TestApp, agent: Agent, n: number): Promise<string> {
  const code = await sendCode(t, agent);
  for (let i = 0; i < n; i++) await json(agent, '/2fa/verify', { code: wrongCode(code) });
  return code;
}

describe('GET /2fa/status says why nothing is pending, and who may not act yet', () => {
  it('says the code expired (not just "none") while its record is kept', async () => {
    const t = createApp();
    const agent = await signIn(t);
    await sendCode(t, agent);
    t.clock.advance(5 * 60_000);
    expect(await status(agent)).toEqual({ status: 'none', ended: 'expired' });
    t.clock.advance(11 * 60_000);
    expect(await status(agent)).toEqual({ status: 'none' });
  });

  it('says the code was used up by wrong codes, and for how long the account waits', async () => {
    const t = createApp();
    const agent = await signIn(t);
    await failTimes(t, agent, 5);
    expect(await status(agent)).toEqual({ status: 'none', ended: 'exhausted', locked: { retryIn: 60 } });
    t.clock.advance(20_000);
    expect((await status(agent)).locked).toEqual({ retryIn: 40 });
  });

  it('adds the wait to a live challenge, and null for a hard lock', async () => {
    const t = createApp({ options: { lockout: { threshold: 2, baseMs: 60_000, hardLimit: 3 } } });
    const agent = await signIn(t);
    await failTimes(t, agent, 2);
    const live = await status(agent);
    expect(live).toMatchObject({ status: 'sent', attemptsLeft: 3, locked: { retryIn: 60 } });
    t.clock.advance(60_000);
    await json(agent, '/2fa/verify', { code: '000000' });
    expect((await status(agent)).locked).toEqual({ retryIn: null });
  });

  it('says "verified" to a browser that verified, so another tab can move on', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
    expect(await status(agent)).toEqual({ status: 'verified' });
  });

  it('tells that no SMS could be sent when the code came by call instead', async () => {
    // The provider refuses this number for SMS (transport.ts: destinationRefused): a call follows.
    const refused = () => new TwoFactorError('ERR_2FA_SEND_FAILED', { cause: { destinationRefused: true } });
    const t = appWith(fakeTransport({ sms: rejects(refused) }));
    const agent = await signIn(t);
    const sent = await json(agent, '/2fa/send').expect(200);
    expect(sent.body).toMatchObject({ channel: 'voice', fallback: 'failed' });
    expect(await status(agent)).toMatchObject({ channel: 'voice', status: 'calling', fallback: 'failed' });
    const fine = createApp();
    const other = await signIn(fine);
    expect((await json(other, '/2fa/send').expect(200)).body.fallback).toBe(null);
  });
});

describe('no sends while the account is in its failure delay', () => {
  it('refuses /resend and /voice with 429 ERR_2FA_LOCKED and its Retry-After, and sends nothing', async () => {
    const t = createApp({ options: { voice: { afterMs: 0 }, lockout: { threshold: 2, baseMs: 60_000 } } });
    const agent = await signIn(t);
    await failTimes(t, agent, 2);
    t.clock.advance(30_000);
    for (const path of ['/2fa/resend', '/2fa/voice']) {
      const res = await json(agent, path).expect(429);
      expect(res.body.error.code, path).toBe('ERR_2FA_LOCKED');
      expect(res.headers['retry-after'], path).toBe('30');
    }
    expect(t.transport.messages).toHaveLength(1);
    t.clock.advance(30_000);
    await json(agent, '/2fa/resend').expect(200);
  });

  it('refuses a new challenge too, but still reports a live one unchanged', async () => {
    const t = createApp({ options: { lockout: { threshold: 5, baseMs: 60 * 60_000 } } });
    const agent = await signIn(t);
    await failTimes(t, agent, 5);
    const res = await json(agent, '/2fa/send').expect(429);
    expect(res.body.error.code).toBe('ERR_2FA_LOCKED');
    expect(Number(res.headers['retry-after'])).toBe(3600);
    expect(t.transport.messages).toHaveLength(1);

    const other = createApp({ options: { lockout: { threshold: 2, baseMs: 60_000 } } });
    const browser = await signIn(other);
    await failTimes(other, browser, 2);
    expect((await json(browser, '/2fa/send').expect(200)).body).toMatchObject({ attemptsLeft: 3 });
    expect(other.transport.messages).toHaveLength(1);
  });
});

describe('form posts without JavaScript: an error is shown once', () => {
  it('redirects to the page without the error in the address; the page shows it once', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const res = await form(agent, '/2fa/verify', { code: wrongCode(code), returnTo: '/account' }).expect(303);
    expect(res.headers.location).toBe('/2fa?returnTo=%2Faccount');
    const shown = await page(agent, res.headers.location).expect(200);
    expect(alertOf(shown.text)).toBe('That code is not right. 4 attempts left.');
    const again = await page(agent, res.headers.location).expect(200);
    expect(alertOf(again.text)).toBe('');
  });

  it('says the state itself on a plain reload: expired, used up, waiting', async () => {
    const t = createApp();
    const agent = await signIn(t);
    await sendCode(t, agent);
    t.clock.advance(5 * 60_000);
    expect(alertOf((await page(agent)).text)).toBe('That code has expired. Ask for a new code.');

    const used = createApp({ options: { lockout: { threshold: 10 } } });
    const other = await signIn(used);
    await failTimes(used, other, 5);
    expect(alertOf((await page(other)).text)).toBe('Too many wrong codes. Ask for a new code.');

    const waiting = createApp({ options: { lockout: { threshold: 1, baseMs: 60_000 } } });
    const third = await signIn(waiting);
    await failTimes(waiting, third, 1);
    const html = (await page(third)).text;
    expect(alertOf(html)).toBe('Too many wrong codes. Please wait before trying again.');
    expect(html).toMatch(/<button class="tfa-primary tfa-wait" id="tfa-verify">Verify<\/button>/);
    expect(html).toMatch(/#tfa-verify\{--tfa-w:60\}/);
  });

  it('never lets the script send by itself after an error or on an ended challenge', async () => {
    const t = createApp();
    const agent = await signIn(t);
    await sendCode(t, agent);
    t.clock.advance(5 * 60_000);
    const html = (await page(agent)).text;
    const data = JSON.parse(html.match(/id="tfa-data"[^>]*>([\s\S]*?)<\/script>/)?.[1] ?? '{}');
    expect(data.ended).toBe('expired');
    expect(data.autoSend).toBe(false);
  });
});

describe('texts: one voice for the API and the page, in the locale, with plural forms', () => {
  it('answers API errors in the locale, in the same words as the page', async () => {
    for (const locale of LOCALES) {
      const t = createApp({ options: { locale } });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      const res = await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
      expect(res.body.error.message, locale).toBe(PAGE_TEXTS[locale].errors.ERR_2FA_CODE_INVALID);
      const short = await json(agent, '/2fa/verify', { code: '123' }).expect(400);
      expect(short.body.error.message, locale).toBe(
        PAGE_TEXTS[locale].codeFormat.toString().replace('{length}', '6'),
      );
    }
  });

  it('uses the same default text for every error code on the page and in the API', () => {
    for (const locale of LOCALES) {
      for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
        expect(PAGE_TEXTS[locale].errors[code], `${locale} ${code}`).toBeTruthy();
      }
    }
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      expect(PAGE_TEXTS.en.errors[code]).toBe(ERROR_CODES[code].message);
    }
  });

  it.each([
    ['en', '1 attempt left.', '2 attempts left.'],
    ['nl', 'Nog 1 poging.', 'Nog 2 pogingen.'],
    ['fr', 'Encore 1 essai.', 'Encore 2 essais.'],
    ['de', 'Noch 1 Versuch.', 'Noch 2 Versuche.'],
  ] as const)(
    'says the attempts left in %s with the plural rules of the language',
    async (locale, one, two) => {
      const t = createApp({ options: { locale } });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      for (const [times, text] of [
        [3, two],
        [1, one],
      ] as const) {
        let res = await form(agent, '/2fa/verify', { code: wrongCode(code) });
        for (let i = 1; i < times; i++) res = await form(agent, '/2fa/verify', { code: wrongCode(code) });
        expect(alertOf((await page(agent, res.headers.location)).text)).toContain(text);
      }
    },
  );
});

describe('page weight', () => {
  it('stays under 16 KB with the script, every text, a live challenge, another way and a way out, in every locale', async () => {
    for (const locale of LOCALES) {
      const t = createApp({
        options: {
          locale,
          page: {
            alternative: { href: '/login/passkey', text: 'Use a passkey instead' },
            signOut: { action: '/logout' },
            texts: { riskNotice: 'Codes by SMS can be intercepted. Add a passkey for better protection.' },
          },
        },
      });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      const res = await form(agent, '/2fa/verify', { code: wrongCode(code) });
      const html = (await page(agent, res.headers.location).expect(200)).text;
      expect(html).toContain('tfa-data');
      const bytes = Buffer.byteLength(html);
      expect(bytes, `${locale}: ${bytes} bytes`).toBeLessThan(16 * 1024);
    }
  });
});
