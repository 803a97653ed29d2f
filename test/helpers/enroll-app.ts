import type { Request } from 'express';
import type { EnrollOptions } from '../../src/lifecycle/enroll/options.js';
import type { CheckedUser } from '../../src/options.js';
import {
  type Agent,
  type CreateAppOptions,
  createApp,
  json,
  type TestApp,
  USERS,
  type Username,
} from './create-app.js';

/** What the app's `enroll.save` received, in order. */
export interface SaveCall {
  userId: string;
  phone: string;
  /** Whether the request given to save was the enrollment verify request. */
  path: string;
}

export interface EnrollApp extends TestApp {
  /** The app's own records: the number on file (`null`: none) and the version, per user id. */
  db: Map<string, { phone: string | null; version: number }>;
  saves: SaveCall[];
}

/** Numbers the tests type (mobiles in the allowed countries), registered for the leak scan. */
export const TYPED = {
  be: { national: '0470 12 34 99', e164: '+32470123499', masked: '+32 4•• •• •• 99' },
  be2: { national: '0471 55 66 77', e164: '+32471556677', masked: '+32 4•• •• •• 77' },
  nl: { national: '06 12345679', e164: '+31612345679', masked: '+31 6 ••••••79' },
  fr: { national: '06 12 34 56 78', e164: '+33612345678', masked: '+33 6 •• •• •• 78' },
} as const;

/**
 * The test app with `enroll`: `getUser` reads the number and the version from the app's records
 * (as an app must, so a change reaches every session), and `save` writes both, bumping the version.
 * dave starts without a number; the others with theirs.
 */
export function createEnrollApp(
  opts: CreateAppOptions & { enroll?: Partial<EnrollOptions>; noPhone?: Username[] } = {},
): EnrollApp {
  const db = new Map<string, { phone: string | null; version: number }>();
  const noPhone = new Set<Username>(opts.noPhone ?? ['dave']);
  for (const [name, user] of Object.entries(USERS)) {
    db.set(user.id, { phone: noPhone.has(name as Username) ? null : user.phone, version: 1 });
  }
  const saves: SaveCall[] = [];
  const t = createApp({
    ...opts,
    options: {
      getUser: (req: Request) => {
        const user = req.session.user;
        const record = user && db.get(user.id);
        if (!user || !record) return null;
        return { id: user.id, phone: record.phone, sessionId: req.sessionID, version: record.version };
      },
      enroll: {
        save: (user: CheckedUser, phone: string, req: Request) => {
          saves.push({ userId: user.id, phone, path: req.path });
          const record = db.get(user.id);
          if (record) {
            record.phone = phone;
            record.version += 1;
          }
        },
        ...opts.enroll,
      },
      ...opts.options,
    },
  });
  t.phones.delete(USERS.dave.id);
  for (const [key, typed] of Object.entries(TYPED)) t.phones.set(`typed:${key}`, typed.e164);
  return Object.assign(t, { db, saves });
}

/** Signs in and verifies on the number on file: a fresh verified browser. */
export async function verifiedAgent(t: TestApp, agent: Agent, username: Username = 'alice'): Promise<void> {
  const phone = (t as EnrollApp).db?.get(USERS[username].id)?.phone ?? USERS[username].phone;
  const sent = await json(agent, '/2fa/send');
  if (sent.status !== 200) throw new Error(`send answered ${sent.status} ${JSON.stringify(sent.body)}`);
  const code = t.transport.lastCode(phone);
  const verified = await json(agent, '/2fa/verify', { code });
  if (verified.status !== 200) throw new Error(`verify answered ${verified.status}`);
}

/** Types `phone` on the enrollment page (JSON) and reads the code sent to `e164`. */
export async function enrollCode(t: TestApp, agent: Agent, phone: string, e164: string, country = 'BE') {
  const sent = await json(agent, '/2fa/enroll/send', { phone, country });
  if (sent.status !== 200)
    throw new Error(`enroll send answered ${sent.status} ${JSON.stringify(sent.body)}`);
  const code = t.transport.lastCode(e164);
  if (!code) throw new Error('no code was sent');
  return code;
}
