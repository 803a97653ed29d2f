// A TypeScript consumer of the packed package, typechecked under moduleResolution node10, node16 and
// bundler (test/package/check.mjs): every public name of `.` and `./testing` must resolve with types.
import express from 'express';
import session from 'express-session';
import {
  ERROR_CODES,
  memoryStore,
  memoryTransport,
  type RecoveryOptions,
  type RememberedDevice,
  redisStore,
  type Store,
  smstools,
  type TwoFactorEvent,
  type TwoFactorOptions,
  twoFactor,
  type User,
} from 'express-sms-2fa';
import { checkStore, type FakeSmstools, startFakeSmstools } from 'express-sms-2fa/testing';

declare module 'express-session' {
  interface SessionData {
    user?: { id: number; phone: string | null };
  }
}

const app = express();
app.use(session({ secret: 'x'.repeat(32), resave: false, saveUninitialized: false }));

// A numeric id and a missing phone are valid users.
const getUser: TwoFactorOptions['getUser'] = (req): User | null =>
  req.session.user
    ? { id: req.session.user.id, phone: req.session.user.phone, sessionId: req.sessionID }
    : null;

const store: Store = memoryStore();
const recovery: RecoveryOptions = { load: () => [], save: () => {} };
const tfa = twoFactor({
  secret: 'x'.repeat(32),
  getUser,
  transport: memoryTransport(),
  store,
  allowedCountries: ['BE'],
  cookie: { secure: 'auto' },
  page: { signOut: { action: '/logout', method: 'post' } },
  recovery,
  rememberDevice: { ttlMs: 7 * 86_400_000 },
  onEvent: (event: TwoFactorEvent) => void event.type,
  enroll: { save: async (user, phone) => void [user.id, phone], maxAgeMs: 300_000 },
});
app.post('/2fa/webhooks/smstools', tfa.webhook);
app.use(tfa);
app.get('/account', tfa.requireSecondFactor, (req, res) => {
  const method: 'sms' | 'voice' | 'recovery' | 'device' | undefined = req.secondFactor?.method;
  res.send(method);
});
app.post('/account/delete', tfa.requireSecondFactor.within(5 * 60_000), (_req, res) => {
  res.send('deleted');
});
app.get('/devices', tfa.requireSecondFactor, async (req, res) => {
  const id = req.session.user?.id ?? 0;
  const devices: RememberedDevice[] = await tfa.devices.list(id);
  const codes: string[] = req.query.fresh ? await tfa.recovery.generate(id) : [];
  res.json({ devices, codes: codes.length, left: await tfa.recovery.count(id) });
});
app.post('/logout', (req, res) => {
  tfa.clear(res);
  req.session.destroy(() => res.redirect('/'));
});

export const unused = [ERROR_CODES.ERR_2FA_NO_PHONE.status, redisStore, smstools, checkStore] as const;
export async function fake(): Promise<FakeSmstools> {
  return startFakeSmstools();
}
