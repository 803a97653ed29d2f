import csurf from 'csurf';
import { describe, expect, it } from 'vitest';
import { TwoFactorConfigError } from '../../../src/errors.js';
import { memoryTransport } from '../../../src/transports/memory.js';
import { twoFactor } from '../../../src/two-factor.js';
import { EXPRESS_MATRIX, formFields, matrixApp, signInAs } from '../apps/kit.js';

const express = EXPRESS_MATRIX[2][1];

function appWithSignOut(signOut: object, withCsurf = false) {
  return matrixApp(
    express,
    (parts) => {
      const { app, tfa } = parts;
      app.use(parts.session);
      parts.login(app);
      app.use(express.urlencoded({ extended: false }));
      if (withCsurf) app.use(csurf());
      app.use(tfa);
      app.post('/logout', (req, res) => {
        tfa.clear(res);
        req.session.destroy(() => res.redirect(303, '/'));
      });
      app.get('/logout', (req, res) => {
        tfa.clear(res);
        req.session.destroy(() => res.redirect(303, '/'));
      });
    },
    { page: { signOut } as never },
  );
}

const signOutForm = (html: string) => html.match(/<form [^>]*id="tfa-sign-out"[^>]*>[\s\S]*?<\/form>/)?.[0];

describe('page.signOut', () => {
  // Defect: the page said "Sign out and contact support" without any way to sign out.
  it('puts a sign-out form on the page that posts to action, and it signs the user out', async () => {
    const t = appWithSignOut({ action: '/logout' });
    const agent = await signInAs(t);
    const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    const form = signOutForm(page.text);
    expect(form).toMatch(/^<form method="post" action="\/logout" id="tfa-sign-out"/);
    expect(form).toContain('>Sign out</button>');
    const out = await agent
      .post('/logout')
      .type('form')
      .send(formFields(page.text, 'tfa-sign-out'))
      .expect(303);
    expect(out.headers.location).toBe('/');
    await agent.get('/2fa').set('Accept', 'application/json').expect(401);
  });

  it("carries the host app's CSRF token, so csurf accepts the sign-out", async () => {
    const t = appWithSignOut({ action: '/logout', label: 'Log out' }, true);
    const agent = await signInAs(t);
    const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    const form = signOutForm(page.text) ?? '';
    expect(form).toMatch(/<input type="hidden" name="_csrf" value="[^"]+">/);
    expect(form).toContain('>Log out</button>');
    await agent.post('/logout').type('form').send(formFields(page.text, 'tfa-sign-out')).expect(303);
  });

  it('is a plain link with method: get', async () => {
    const t = appWithSignOut({ action: '/logout', method: 'get' });
    const agent = await signInAs(t);
    const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    expect(page.text).toContain('<a href="/logout" id="tfa-sign-out" class="tfa-sign-out">Sign out</a>');
  });

  it('is there in the no-phone state too', async () => {
    const t = appWithSignOut({ action: '/logout' });
    t.phones.clear();
    const agent = await signInAs(t);
    const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    expect(page.text).toContain('id="tfa-no-phone"');
    expect(signOutForm(page.text)).toBeDefined();
  });

  it('is absent by default', async () => {
    const t = appWithSignOut(undefined as never);
    const agent = await signInAs(t);
    const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    expect(page.text).not.toContain('tfa-sign-out');
  });

  const base = {
    secret: 'a-secret-that-is-at-least-32-characters!',
    getUser: () => null,
    transport: memoryTransport(),
    allowedCountries: ['BE'],
  };
  it.each([
    [{ action: 'https://evil.example/logout' }, 'page.signOut.action'],
    [{ action: '//evil.example/logout' }, 'page.signOut.action'],
    [{}, 'page.signOut.action'],
    [{ action: '/logout', method: 'delete' }, 'page.signOut.method'],
    [{ action: '/logout', label: ' ' }, 'page.signOut.label'],
    [{ action: '/logout', lable: 'x' }, 'page.signOut.lable'],
  ])('throws at construction for %j, naming %s', (signOut, option) => {
    let thrown: unknown;
    try {
      twoFactor({ ...base, page: { signOut } as never });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TwoFactorConfigError);
    expect((thrown as TwoFactorConfigError).option).toBe(option);
  });
});
