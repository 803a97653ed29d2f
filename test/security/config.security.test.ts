import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../src/errors.js';
import { createApp, json, signIn } from '../helpers/create-app.js';

/** Builds an app with `options` and returns what the construction threw (or undefined). */
function constructionError(options: object): unknown {
  try {
    createApp({ options });
  } catch (error) {
    return error;
  }
  return undefined;
}

function expectConfigError(options: object, option: string): void {
  const error = constructionError(options);
  expect(error, JSON.stringify(options)).toBeInstanceOf(TwoFactorConfigError);
  expect((error as TwoFactorConfigError).option).toBe(option);
}

describe('page.alternative.href', () => {
  // Browsers strip tab, CR and LF from URLs: '/\t/evil.example' is followed as '//evil.example'.
  for (const href of ['/\t/evil.example', '/\n/evil.example', '/\r/evil.example', '/\r\n/evil.example']) {
    it(`refuses ${JSON.stringify(href)} at construction`, () => {
      expectConfigError({ page: { alternative: { href, text: 'Use a passkey' } } }, 'page.alternative.href');
    });
  }

  it('refuses any other control character in a path or an https URL', () => {
    for (const href of ['/login\u0000', '/lo\u007fgin', 'https://id.example/\tpasskey', '/a\u000bb']) {
      expectConfigError({ page: { alternative: { href, text: 'Use a passkey' } } }, 'page.alternative.href');
    }
  });

  it('still accepts a plain site path and an https URL', () => {
    for (const href of ['/login/passkey?from=2fa', 'https://id.example.com/passkey']) {
      expect(constructionError({ page: { alternative: { href, text: 'Passkey' } } }), href).toBeUndefined();
    }
  });
});

describe('page.signOut.action', () => {
  it('refuses a tab, CR or LF, which browsers strip into an off-site form target', () => {
    for (const action of ['/\t/evil.example', '/\n/evil.example', '/log\rout']) {
      expectConfigError({ page: { signOut: { action } } }, 'page.signOut.action');
    }
    expect(constructionError({ page: { signOut: { action: '/logout' } } })).toBeUndefined();
  });
});

describe('cookie.domain', () => {
  for (const domain of [
    'exa mple.com',
    'example.com;',
    'example.com\n',
    'exam_ple.com',
    'ex\u00e4mple.com',
    '.',
    'a..b',
  ]) {
    it(`refuses ${JSON.stringify(domain)} at construction, before any SMS can go out`, () => {
      expectConfigError({ cookie: { domain } }, 'cookie.domain');
    });
  }

  it('accepts a host name, with or without a leading dot, and the send then works', async () => {
    for (const domain of ['example.com', '.example.com', 'app-1.example.co.uk']) {
      expect(constructionError({ cookie: { domain } }), domain).toBeUndefined();
    }
    const t = createApp({ options: { cookie: { domain: 'example.com' } } });
    const res = await json(await signIn(t), '/2fa/send').expect(200);
    expect(String(res.headers['set-cookie'])).toContain('Domain=example.com');
  });
});
