import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { describe, expect, it } from 'vitest';
import { EXPRESS_MATRIX, formFlow, matrixApp, type Parts, scriptFlow, signInAs } from './kit.js';

/** Users by numeric id; the phone lives elsewhere and is looked up asynchronously. */
const ACCOUNTS = new Map([[7, { id: 7, username: 'alice', version: 2 }]]);
const PHONES = new Map([[7, '+32470123401']]);
const phoneOf = async (id: number) => PHONES.get(id) ?? null;

/** express-session + passport-local, as passport's own example wires it (one Passport per app). */
function passportApp(parts: Parts) {
  const { app, express, tfa } = parts;
  const auth = new passport.Passport();
  auth.use(
    new LocalStrategy((username, _password, done) => {
      done(null, [...ACCOUNTS.values()].find((u) => u.username === username) ?? false);
    }),
  );
  auth.serializeUser((user, done) => done(null, (user as { id: number }).id));
  auth.deserializeUser((id: number, done) => done(null, ACCOUNTS.get(id) ?? false));
  app.use(parts.session);
  app.use(auth.session());
  app.post(
    '/login',
    express.urlencoded({ extended: false }),
    auth.authenticate('local', { failWithError: true }),
    (_req, res) => {
      res.send('ok');
    },
  );
  app.use(tfa);
  app.get('/account', tfa.requireSecondFactor, (req, res) => {
    res.send(`account ${(req.user as { id: number }).id}`);
  });
  app.post('/logout', (req, res, next) => {
    tfa.clear(res);
    req.logout((err) => (err ? next(err) : res.redirect(303, '/')));
  });
}

const options = {
  getUser: async (req: Parameters<Parts['tfa']>[0]) => {
    const user = req.user as { id: number; version: number } | undefined;
    return user
      ? { id: user.id, phone: await phoneOf(user.id), sessionId: req.sessionID, version: user.version }
      : null;
  },
};

describe.each(EXPRESS_MATRIX)('express-session + passport-local on %s', (_version, express) => {
  it('completes the flow with JavaScript: numeric id, async phone lookup', async () => {
    const t = matrixApp(express, passportApp, options);
    const agent = await signInAs(t);
    await scriptFlow(t, agent);
    expect((await agent.get('/account').expect(200)).text).toBe('account 7');
    expect(t.events.map((e) => [e.type, e.userId])).toEqual([
      ['code.sent', '7'],
      ['verify.succeeded', '7'],
    ]);
    expect(t.logs).toEqual([]);
  });

  it('completes the flow without JavaScript', async () => {
    const t = matrixApp(express, passportApp, options);
    await formFlow(t, await signInAs(t));
  });

  it('tfa.clear before req.logout ends the verified state; a new login must verify again', async () => {
    const t = matrixApp(express, passportApp, options);
    const agent = await signInAs(t);
    await scriptFlow(t, agent);
    const out = await agent.post('/logout').expect(303);
    const cleared = (out.headers['set-cookie'] as unknown as string[]).filter((c) =>
      /^2fa(-challenge)?=;/.test(c),
    );
    expect(cleared).toHaveLength(2);
    await agent.post('/login').type('form').send({ username: 'alice', password: 'pw' }).expect(200);
    await agent.get('/account').expect(401);
  });
});
