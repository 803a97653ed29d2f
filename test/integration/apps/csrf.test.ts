import { csrfSync } from 'csrf-sync';
import csurf from 'csurf';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import lusca from 'lusca';
import { describe, expect, it } from 'vitest';
import {
  type App,
  EXPRESS_MATRIX,
  formFlow,
  matrixApp,
  type Parts,
  pageData,
  scriptFlow,
  signInAs,
} from './kit.js';

/** The host app's CSRF middleware, as each package's README sets it up (forms read `_csrf`). */
const CSRF_MIDDLEWARE: [string, () => RequestHandler][] = [
  ['csurf', () => csurf()],
  ['lusca', () => lusca.csrf() as unknown as RequestHandler],
  [
    'csrf-sync',
    () =>
      csrfSync({
        getTokenFromRequest: (req) =>
          (req.body as { _csrf?: string } | undefined)?._csrf ?? (req.headers['x-csrf-token'] as string),
      }).csrfSynchronisedProtection,
  ],
];

/** The app's own routes: a page behind the guard, and a form of its own protected by its CSRF token. */
function routes({ app, tfa }: Parts) {
  app.get('/account', tfa.requireSecondFactor, (_req, res) => {
    res.send('account');
  });
}

function errors(app: App) {
  const refused: ErrorRequestHandler = (err, _req, res, _next) => {
    res.status(403).send(`host CSRF refused: ${(err as Error).message}`);
  };
  app.use(refused);
}

describe.each(EXPRESS_MATRIX)('host CSRF middleware on %s', (_version, express) => {
  describe.each(CSRF_MIDDLEWARE)('%s', (_name, csrf) => {
    // Defect: mounted before tfa, the host's CSRF check refused the package's posts (csurf "invalid csrf
    // token", lusca "CSRF token missing"), and the package's `_csrf` field collided with theirs.
    describe('mounted before tfa', () => {
      const build = () =>
        matrixApp(express, (parts) => {
          const { app } = parts;
          app.use(parts.session);
          parts.login(app);
          app.use(express.urlencoded({ extended: false }));
          app.use(csrf());
          app.use(parts.tfa);
          routes(parts);
          errors(app);
        });

      it('puts the host token on the page: `_csrf` in every form, and in the script data', async () => {
        const t = build();
        const agent = await signInAs(t);
        const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
        const data = pageData(page.text);
        expect(data.csrf).toEqual(expect.any(String));
        const forms = page.text.match(/<form method="post"[^>]*>[\s\S]*?<\/form>/g) ?? [];
        expect(forms.length).toBeGreaterThan(0);
        for (const form of forms) {
          expect(form).toContain(`<input type="hidden" name="_csrf" value="${data.csrf}">`);
          expect(form).toMatch(/<input type="hidden" name="tfa_csrf" value="[^"]+">/);
        }
      });

      it('completes the flow with JavaScript (JSON posts with X-CSRF-Token)', async () => {
        const t = build();
        await scriptFlow(t, await signInAs(t));
        expect(t.logs).toEqual([]);
      });

      it('completes the flow without JavaScript (form posts with _csrf and tfa_csrf)', async () => {
        const t = build();
        await formFlow(t, await signInAs(t));
        expect(t.logs).toEqual([]);
      });

      it('still refuses a post without the host token (the host check is not bypassed)', async () => {
        const t = build();
        const agent = await signInAs(t);
        const res = await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}');
        expect(res.status).toBe(403);
        expect(res.text).toMatch(/host CSRF refused/);
        expect(t.transport.messages).toEqual([]);
      });
    });

    describe('mounted after tfa', () => {
      const build = () =>
        matrixApp(express, (parts) => {
          const { app } = parts;
          app.use(parts.session);
          parts.login(app);
          app.use(parts.tfa);
          app.use(express.urlencoded({ extended: false }));
          app.use(csrf());
          routes(parts);
          errors(app);
        });

      it('completes the flow with JavaScript and without it', async () => {
        const t = build();
        const { data } = await scriptFlow(t, await signInAs(t));
        expect(data.csrf).toBeNull(); // the host middleware has not run for /2fa
        const other = build();
        await formFlow(other, await signInAs(other));
      });
    });
  });
});

describe('a host CSRF middleware whose req.csrfToken() fails', () => {
  it('renders the page without a host token and says once what to change', async () => {
    const express = EXPRESS_MATRIX[2][1];
    const t = matrixApp(express, (parts) => {
      parts.app.use(parts.session);
      parts.login(parts.app);
      parts.app.use((req, _res, next) => {
        (req as unknown as { csrfToken: () => string }).csrfToken = () => {
          throw new Error('misconfigured: no session secret');
        };
        next();
      });
      parts.app.use(parts.tfa);
    });
    const agent = await signInAs(t);
    for (let i = 0; i < 2; i++) {
      const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
      expect(pageData(page.text).csrf).toBeNull();
    }
    expect(t.logs).toHaveLength(1);
    expect(t.logs[0]).toContain('req.csrfToken()');
    expect(t.logs[0]).toContain('mount twoFactor() before that middleware');
  });
});
