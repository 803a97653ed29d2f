import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { LOCALES } from '../../src/messages.js';
import { DEFAULT_TEXTS, escapeHtml } from '../../src/page/render.js';
import { PAGE_TEXTS } from '../../src/page/texts.js';
import { type Agent, createApp, json, sendCode, signIn, USERS } from '../helpers/create-app.js';

const page = (agent: Agent, path = '/2fa') => agent.get(path).set('Accept', 'text/html');

/** The value of the hidden `name` field, as the browser would read it. */
const hiddenValue = (html: string, name: string) =>
  html.match(new RegExp(`<input type="hidden" name="${name}" value="([^"]*)">`))?.[1];

const unescapeHtml = (value: string) =>
  value
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** The JSON the enhancement script reads. */
const pageData = (html: string) => {
  const raw = html.match(
    /<script type="application\/json" id="tfa-data" nonce="[^"]+">([\s\S]*?)<\/script>/,
  )?.[1];
  if (!raw) throw new Error('no tfa-data block');
  return JSON.parse(raw);
};

describe('GET /2fa, the challenge page', () => {
  describe('before any send', () => {
    it('never sends: not on GET, not on HEAD, not on reload', async () => {
      const t = createApp();
      const agent = await signIn(t);
      for (let i = 0; i < 3; i++) await page(agent).expect(200);
      await agent.head('/2fa').set('Accept', 'text/html').expect(200);
      expect(t.transport.messages).toHaveLength(0);
    });

    it('shows the masked number and "Text me a code"; the code field is there but waits, disabled', async () => {
      const t = createApp();
      const agent = await signIn(t);
      const res = await page(agent).expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.text).toContain('we will text a code to <strong>+32 4•• •• •• 01</strong>.');
      expect(res.text).toContain(
        '<button class="tfa-primary" id="tfa-send" formaction="/2fa/send">Text me a code</button>',
      );
      expect(res.text).toMatch(/<input class="tfa-code" id="tfa-code"[^>]* disabled[ >]/);
      expect(res.text).toContain('<button class="tfa-primary" id="tfa-verify" hidden></button>');
      expect(res.text).toContain('<div class="tfa-actions" id="tfa-actions" hidden>');
      expect(res.text).not.toContain('+32470123401');
    });
  });

  describe('sending on load (the script)', () => {
    it('lets the script send on load only when the page was opened from this site or typed in', async () => {
      const t = createApp();
      const agent = await signIn(t);
      for (const [site, autoSend] of [
        [undefined, true],
        ['none', true],
        ['same-origin', true],
        ['same-site', false],
        ['cross-site', false],
      ] as const) {
        const req = page(agent);
        if (site) req.set('Sec-Fetch-Site', site);
        expect(pageData((await req.expect(200)).text).autoSend, String(site)).toBe(autoSend);
      }
      expect(t.transport.messages).toHaveLength(0);
    });
  });

  describe('with a live challenge', () => {
    it('has a labelled one-time-code field, verify, and the resend / call buttons with their countdowns', async () => {
      const t = createApp();
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      const res = await page(agent).expect(200);
      expect(res.text).toContain('<label class="tfa-label" for="tfa-code">Verification code</label>');
      const input = res.text.match(/<input class="tfa-code"[^>]*>/)?.[0] ?? '';
      expect(input).toContain('id="tfa-code"');
      expect(input).toContain('name="code"');
      expect(input).toContain('autocomplete="one-time-code"');
      expect(input).toContain('inputmode="numeric"');
      expect(input).toContain('autofocus');
      expect(input).not.toContain('disabled');
      expect(res.text).toContain('<button class="tfa-primary" id="tfa-send" formaction="/2fa/send" hidden>');
      expect(res.text).toContain('We sent a code by SMS to <strong>+32 4•• •• •• 01</strong>.');
      expect(res.text).toContain('Enter the 6-digit code we sent you.');
      // Without JavaScript the buttons wait in CSS, for as long as the server will refuse them.
      expect(res.text).toContain(
        '<button class="tfa-secondary tfa-wait" id="tfa-resend" formaction="/2fa/resend">Send the SMS again</button>',
      );
      expect(res.text).toContain(
        '<button class="tfa-secondary tfa-wait" id="tfa-voice" formaction="/2fa/voice">Call me instead</button>',
      );
      expect(res.text).toContain('#tfa-resend{--tfa-w:30}#tfa-voice{--tfa-w:30}');
      expect(res.text).not.toContain(code);

      t.clock.advance(30_000);
      const later = await page(agent).expect(200);
      expect(later.text).toContain('id="tfa-resend" formaction="/2fa/resend">Send the SMS again</button>');
      expect(later.text).toContain('id="tfa-voice" formaction="/2fa/voice">Call me instead</button>');
      expect(later.text).not.toContain('tfa-secondary tfa-wait');
    });

    it('says "Calling you now…" after a voice call', async () => {
      const t = createApp();
      const agent = await signIn(t);
      await sendCode(t, agent);
      t.clock.advance(30_000);
      await json(agent, '/2fa/voice').expect(200);
      const res = await page(agent).expect(200);
      expect(res.text).toContain('We are calling <strong>+32 4•• •• •• 01</strong> to read you the code.');
      expect(res.text).toMatch(
        /<p class="tfa-status" id="tfa-status" role="status" data-tone="info">Calling you now…<\/p>/,
      );
      expect(res.text).toContain('Enter the 6-digit code from the call.');
      expect(res.text).toContain('id="tfa-voice" formaction="/2fa/voice">Call me again</button>');
    });

    it('has no "call me instead" button when voice is off', async () => {
      const t = createApp({ options: { voice: false } });
      const agent = await signIn(t);
      await sendCode(t, agent);
      const res = await page(agent).expect(200);
      expect(res.text).not.toContain('id="tfa-voice');
      expect(pageData(res.text).voiceAvailable).toBe(false);
    });
  });

  describe('errors', () => {
    it('ignores an ?error= that is not an error code, inherited names included', async () => {
      const t = createApp();
      const agent = await signIn(t);
      for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'nope']) {
        const res = await page(agent, `/2fa?error=${name}`).expect(200);
        expect(res.text).not.toContain('native code');
        expect(pageData(res.text).error).toBeUndefined();
      }
    });

    const codes = Object.keys(ERROR_CODES) as ErrorCode[];

    it.each(codes)('shows the text for ?error=%s in the alert', async (code) => {
      const t = createApp();
      const agent = await signIn(t);
      const res = await page(agent, `/2fa?error=${code}`).expect(200);
      const text = DEFAULT_TEXTS.errors[code] ?? ERROR_CODES[code].message;
      expect(res.text).toContain(`<p class="tfa-error" id="tfa-error" role="alert">${escapeHtml(text)}</p>`);
    });

    it('adds the attempts left to a wrong code', async () => {
      const t = createApp();
      const agent = await signIn(t);
      await sendCode(t, agent);
      await json(agent, '/2fa/verify', { code: '000000' });
      const res = await page(agent, '/2fa?error=ERR_2FA_CODE_INVALID').expect(200);
      expect(res.text).toContain(
        `${escapeHtml(DEFAULT_TEXTS.errors.ERR_2FA_CODE_INVALID)} 4 attempts left.</p>`,
      );
      expect(res.text).toContain('aria-invalid="true"');
    });

    it('ignores an unknown error code', async () => {
      const t = createApp();
      const agent = await signIn(t);
      const res = await page(agent, '/2fa?error=%3Cb%3Ehi').expect(200);
      expect(res.text).toContain('<p class="tfa-error" id="tfa-error" role="alert"></p>');
      expect(res.text).not.toContain('<b>hi');
    });
  });

  describe('forms', () => {
    it('has one form whose buttons post to their routes, with the tfa_csrf token, and the token is accepted', async () => {
      const t = createApp();
      const agent = await signIn(t);
      await sendCode(t, agent);
      const res = await page(agent).expect(200);
      const forms = res.text.match(/<form [^>]*>/g) ?? [];
      expect(forms).toEqual(['<form method="post" action="/2fa/verify" id="tfa-form" novalidate>']);
      const targets = (res.text.match(/<button [^>]*>/g) ?? []).map(
        (b) => b.match(/formaction="([^"]+)"/)?.[1],
      );
      expect(targets).toEqual([undefined, '/2fa/send', '/2fa/resend', '/2fa/voice']);
      const tokens = res.text.match(/<input type="hidden" name="tfa_csrf" value="[^"]+">/g) ?? [];
      expect(tokens).toHaveLength(1);
      const token = hiddenValue(res.text, 'tfa_csrf');
      t.clock.advance(30_000);
      const resent = await agent
        .post('/2fa/resend')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token, returnTo: '/' })
        .expect(303);
      expect(resent.headers.location).toBe('/2fa');
      expect(t.transport.messages).toHaveLength(2);
    });

    it.each([
      ['//evil.com', '/'],
      ['/\\evil.com', '/'],
      ['https://evil.com/x', '/'],
      ['%2F%2Fevil.com', '/'],
      ['javascript:alert(1)', '/'],
      ['/account?tab=1&x=%22%3E', '/account?tab=1&x=%22%3E'],
    ])('sanitises returnTo=%s to %s in the hidden field', async (returnTo, expected) => {
      const t = createApp();
      const agent = await signIn(t);
      const res = await page(agent, `/2fa?returnTo=${encodeURIComponent(returnTo)}`).expect(200);
      expect(unescapeHtml(hiddenValue(res.text, 'returnTo') ?? '')).toBe(expected);
      expect(pageData(res.text).returnTo).toBe(expected);
    });
  });

  describe('options', () => {
    it('replaces the title, texts and error texts, and adds the css', async () => {
      const t = createApp({
        options: {
          page: {
            title: 'Acme check',
            texts: { send: 'Send it', errors: { ERR_2FA_LOCKED: 'Locked, sorry' } },
            css: '.tfa-card{border:3px solid rebeccapurple}',
          },
        },
      });
      const agent = await signIn(t);
      const res = await page(agent, '/2fa?error=ERR_2FA_LOCKED').expect(200);
      expect(res.text).toContain('<title>Acme check</title>');
      expect(res.text).toContain('<h1 class="tfa-title" id="tfa-title">Acme check</h1>');
      expect(res.text).toContain('id="tfa-send" formaction="/2fa/send">Send it</button>');
      expect(res.text).toContain('role="alert">Locked, sorry</p>');
      expect(res.text).toMatch(/\.tfa-card\{border:3px solid rebeccapurple\}<\/style>/);
      expect(pageData(res.text).texts).toMatchObject({ send: 'Send it' });
      // The script gets the app's own error texts; the others come in the API's answers.
      expect(pageData(res.text).texts.errors.ERR_2FA_LOCKED).toBe('Locked, sorry');
      expect(pageData(res.text).texts.errors.ERR_2FA_CODE_INVALID).toBeUndefined();
    });

    it('renders with a custom render function, which gets the view, and keeps the CSP', async () => {
      const t = createApp({
        options: {
          page: {
            texts: { verify: 'Go' },
            render: (view) =>
              `<!doctype html><title>Mine</title><form method="post" action="${view.paths.send}"><input type="hidden" name="tfa_csrf" value="${view.csrfToken}"></form><p>${view.phone}|${view.codeLength}|${view.texts.verify}|${view.challenge === null}</p>${view.script}`,
          },
        },
      });
      const agent = await signIn(t);
      const res = await page(agent).expect(200);
      expect(res.text).toContain('<title>Mine</title>');
      expect(res.text).toContain('<p>+32 4•• •• •• 01|6|Go|true</p>');
      const nonce = res.headers['content-security-policy']?.match(/'nonce-([^']+)'/)?.[1];
      expect(res.text).toContain(`<script nonce="${nonce}">`);
      const token = hiddenValue(res.text, 'tfa_csrf');
      await agent
        .post('/2fa/send')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token })
        .expect(303);
      expect(t.transport.messages).toHaveLength(1);
    });
  });

  describe('in the language of the locale option', () => {
    it('has every text, every plural form the language uses, and every error text in every locale', () => {
      const keys = Object.keys(DEFAULT_TEXTS).sort();
      for (const locale of LOCALES) {
        const texts = PAGE_TEXTS[locale];
        expect(Object.keys(texts).sort(), locale).toEqual(keys);
        expect(Object.keys(texts.errors).sort(), locale).toEqual(Object.keys(ERROR_CODES).sort());
        for (const [key, value] of Object.entries(texts)) {
          if (key !== 'riskNotice' && key !== 'errors') expect(value, `${locale}.${key}`).not.toBe('');
        }
        // A text with plural forms has every form the language's rules choose for 0 to 200.
        const rules = new Intl.PluralRules(locale);
        for (const [key, value] of Object.entries(texts)) {
          if (typeof value !== 'object' || key === 'errors') continue;
          for (let n = 0; n <= 200; n++) {
            const form = rules.select(n);
            if (form !== 'many') expect(value, `${locale}.${key}.${form}`).toHaveProperty(form);
          }
        }
        // The placeholders each text is filled with survive the translation.
        for (const key of Object.keys(DEFAULT_TEXTS) as (keyof typeof DEFAULT_TEXTS)[]) {
          const placeholders = (text: unknown) => String(text).match(/\{[a-z]+\}/g) ?? [];
          if (key !== 'errors')
            expect(placeholders(texts[key]), `${locale}.${key}`).toEqual(placeholders(DEFAULT_TEXTS[key]));
        }
      }
    });

    it("renders in Dutch with locale: nl, with the app's own texts over the Dutch ones", async () => {
      const t = createApp({ options: { locale: 'nl', page: { texts: { send: 'Code, aub' } } } });
      const agent = await signIn(t);
      const res = await page(agent, '/2fa?error=ERR_2FA_LOCKED').expect(200);
      expect(res.text).toContain('<html lang="nl">');
      expect(res.text).toContain('<title>Verificatie in twee stappen</title>');
      expect(res.text).toContain(escapeHtml(PAGE_TEXTS.nl.errors.ERR_2FA_LOCKED ?? ''));
      expect(res.text).toContain('id="tfa-send" formaction="/2fa/send">Code, aub</button>');
      expect(res.text).toContain('<label class="tfa-label" for="tfa-code">Verificatiecode</label>');
      expect(pageData(res.text).texts.introSent).toBe(PAGE_TEXTS.nl.introSent);
      await sendCode(t, agent);
      expect(t.transport.messages[0]?.text).toMatch(/^Uw verificatiecode/);
    });

    it('stays English by default', async () => {
      const agent = await signIn(createApp());
      const res = await page(agent).expect(200);
      expect(res.text).toContain('<html lang="en">');
      expect(res.text).toContain('<title>Two-step verification</title>');
    });
  });

  describe('another way to sign in, and the risk notice (security.md R-40)', () => {
    it('shows neither by default', async () => {
      const agent = await signIn(createApp());
      const res = await page(agent).expect(200);
      expect(res.text).not.toContain('class="tfa-alt"');
      expect(res.text).not.toContain('Codes by SMS');
    });

    it('links to page.alternative and shows texts.riskNotice, escaped, and gives both to render', async () => {
      const alternative = { href: '/login/passkey?from=2fa&x="y"', text: 'Use a passkey <instead>' };
      const notice = 'Codes by SMS can be intercepted & phished.';
      const t = createApp({ options: { page: { alternative, texts: { riskNotice: notice } } } });
      const agent = await signIn(t);
      const res = await page(agent).expect(200);
      expect(res.text).toContain(
        '<p class="tfa-alt"><a href="/login/passkey?from=2fa&amp;x=&quot;y&quot;">Use a passkey &lt;instead&gt;</a></p>',
      );
      expect(res.text).toContain('<p class="tfa-muted">Codes by SMS can be intercepted &amp; phished.</p>');

      let seen: unknown;
      const custom = createApp({
        options: {
          page: {
            alternative,
            texts: { riskNotice: notice },
            render: (view) => {
              seen = { alternative: view.alternative, notice: view.texts.riskNotice };
              return '<!doctype html><title>Mine</title>';
            },
          },
        },
      });
      await page(await signIn(custom)).expect(200);
      expect(seen).toEqual({ alternative, notice });
    });

    it('accepts an https URL and refuses, at startup, links that could leave for anywhere else', () => {
      const options = (alternative: unknown) => ({ page: { alternative } }) as never;
      expect(() =>
        createApp({ options: options({ href: 'https://id.example.com/passkey', text: 'Passkey' }) }),
      ).not.toThrow();
      for (const href of [
        'javascript:alert(1)',
        '//evil.example',
        '/\\evil.example',
        'http://x.example',
        'login',
        '',
      ]) {
        expect(() => createApp({ options: options({ href, text: 'Passkey' }) }), href).toThrow(
          /page\.alternative\.href/,
        );
      }
      expect(() => createApp({ options: options({ href: '/login', text: ' ' }) })).toThrow(
        /page\.alternative\.text/,
      );
      expect(() => createApp({ options: options({ href: '/login', text: 'x', target: '_blank' }) })).toThrow(
        /page\.alternative.*target/,
      );
    });
  });

  describe('escaping and the Content-Security-Policy', () => {
    it('escapes every text: a title with <script> comes out as text, in HTML and in the data block', async () => {
      const evil = '<script>alert(1)</script>"\'&';
      const t = createApp({
        options: {
          page: {
            title: evil,
            css: '.x{color:red}</style><script>alert(2)</script>',
            texts: {
              intro: `${evil} {phone}`,
              send: evil,
              signOutHint: evil,
              errors: { ERR_2FA_LOCKED: evil },
            },
          },
        },
      });
      const agent = await signIn(t);
      const res = await page(agent, '/2fa?error=ERR_2FA_LOCKED').expect(200);
      expect(res.text).not.toContain('<script>alert(1)');
      expect(res.text).not.toContain('</script>"');
      expect(res.text).toContain('<title>&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</title>');
      expect(res.text).toContain(
        '&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp; <strong>+32 4•• •• •• 01</strong>',
      );
      expect(pageData(res.text).texts.send).toBe(evil);
      expect(res.text).toContain('.x{color:red}<\\/style><script>alert(2)<\\/script></style>');
      // Only the data block and the nonce'd script: nothing else can run.
      const outsideStyle = res.text.replace(/<style[^>]*>[\s\S]*?<\/style>/, '');
      expect(outsideStyle.match(/<script\b[^>]*>/g)).toHaveLength(2);
    });

    it('sends a strict CSP whose fresh nonce matches the inline style and script, and nothing inline besides', async () => {
      const t = createApp();
      const agent = await signIn(t);
      const [a, b] = [await page(agent).expect(200), await page(agent).expect(200)];
      const csp = a.headers['content-security-policy'] ?? '';
      const nonce = csp.match(/script-src 'nonce-([A-Za-z0-9+/=]+)'/)?.[1];
      expect(nonce).toBeTruthy();
      expect(csp).toContain(`style-src 'nonce-${nonce}'`);
      expect(csp).toContain("default-src 'none'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-(inline|eval)/);
      expect(a.text).toContain(`<style nonce="${nonce}">`);
      expect(a.text).toContain(`<script nonce="${nonce}">`);
      expect(b.headers['content-security-policy']).not.toContain(nonce);
      expect(a.text).not.toMatch(/\son[a-z]+=/i); // no inline event handlers
      expect(a.text).not.toMatch(/\sstyle=/i); // no style attributes (the CSP would block them)
      expect(a.text).not.toMatch(/\b(eval|new Function)\(/);
      expect(a.headers['cache-control']).toBe('no-store');
      expect(a.headers['x-frame-options']).toBe('DENY');
      expect(a.headers['referrer-policy']).toBe('same-origin');
    });

    it('gives the script its data: texts, paths, the challenge and no secret', async () => {
      const t = createApp();
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      const res = await page(agent).expect(200);
      const data = pageData(res.text);
      expect(data.paths).toEqual({
        page: '/2fa',
        send: '/2fa/send',
        resend: '/2fa/resend',
        voice: '/2fa/voice',
        verify: '/2fa/verify',
        status: '/2fa/status',
      });
      expect(data.challenge).toMatchObject({ status: 'sent', channel: 'sms', resendIn: 30, attemptsLeft: 5 });
      expect(data.codeLength).toBe(6);
      expect(JSON.stringify(data)).not.toContain(code);
      expect(JSON.stringify(data)).not.toContain(USERS.alice.phone);
    });
  });

  it('answers 401 without a first factor, or redirects a browser to loginPath when it is set', async () => {
    const plain = createApp();
    const denied = await request(plain.app).get('/2fa').set('Accept', 'text/html').expect(401);
    expect(denied.body.error.code).toBe('ERR_2FA_UNAUTHENTICATED');
    const withLogin = createApp({ options: { loginPath: '/login' } });
    const res = await request(withLogin.app).get('/2fa').set('Accept', 'text/html').expect(303);
    expect(res.headers.location).toBe('/login');
  });
});
