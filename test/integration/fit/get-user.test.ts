import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { User } from '../../../src/options.js';
import { EXPRESS_MATRIX, matrixApp, signInAs } from '../apps/kit.js';

/** An app whose getUser answers `shape` for the signed-in user. */
function appWith(shape: (id: string) => unknown) {
  return matrixApp(
    EXPRESS_MATRIX[0][1],
    (parts) => {
      parts.app.use(parts.session);
      parts.login(parts.app);
      parts.app.use(parts.tfa);
      parts.app.get('/account', parts.tfa.requireSecondFactor, (_req, res) => {
        res.send('account');
      });
    },
    {
      getUser: (req) => {
        const user = req.session.user;
        return user ? (shape(user.id) as User) : null;
      },
    },
  );
}

class ObjectId {
  constructor(private readonly hex: string) {}
  toHexString() {
    return this.hex;
  }
  toString() {
    return this.hex;
  }
}

describe.each(EXPRESS_MATRIX)('getUser results on %s', (_version, express) => {
  it('accepts a numeric id: the flow completes and events carry the id as a string', async () => {
    const t = matrixApp(
      express,
      (parts) => {
        parts.app.use(parts.session);
        parts.login(parts.app);
        parts.app.use(parts.tfa);
        parts.app.get('/account', parts.tfa.requireSecondFactor, (_req, res) => {
          res.send('account');
        });
      },
      // Typed: a number is a valid `User.id` (it was TS2322 before).
      { getUser: (req) => (req.session.user ? { id: 42, phone: '+32470123401', version: 3 } : null) },
    );
    const agent = await signInAs(t);
    await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}').expect(200);
    const code = t.transport.lastCode('+32470123401') ?? '';
    await agent.post('/2fa/verify').set('Content-Type', 'application/json').send({ code }).expect(200);
    await agent.get('/account').expect(200);
    expect(t.events.map((e) => [e.type, e.userId])).toEqual([
      ['code.sent', '42'],
      ['verify.succeeded', '42'],
    ]);
    expect(t.logs).toEqual([]);
  });
});

describe('a getUser result the package cannot use', () => {
  // Defect: each of these read as "not signed in" (401 "Sign in first.") with nothing logged.
  const cases: [string, (id: string) => unknown, string, RegExp][] = [
    ['an ObjectId-like id', (id) => ({ id: new ObjectId(id), phone: '+32470123401' }), '`id`', /String\(/],
    ['no id', () => ({ phone: '+32470123401' }), '`id`', /string or a number/],
    ['an empty id', () => ({ id: '', phone: '+32470123401' }), '`id`', /string or a number/],
    [
      'a Date version',
      (id) => ({ id, phone: '+32470123401', version: new Date(0) }),
      '`version`',
      /getTime\(\)/,
    ],
    [
      'an object sessionId',
      (id) => ({ id, phone: '+32470123401', sessionId: {} }),
      '`sessionId`',
      /req\.sessionID/,
    ],
    ['not an object', () => 'u-alice', 'user', /\{ id, phone/],
  ];

  it.each(cases)(
    'is logged once for %s, naming the field and the fix, and fails closed',
    async (_n, shape, field, fix) => {
      const t = appWith(shape);
      const agent = await signInAs(t);
      await agent.get('/account').expect(401);
      await agent.get('/2fa/status').expect(401);
      await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}').expect(401);
      expect(t.transport.messages).toEqual([]);
      expect(t.logs).toHaveLength(1);
      expect(t.logs[0]).toContain('getUser');
      expect(t.logs[0]).toContain(field);
      expect(t.logs[0]).toMatch(fix);
    },
  );

  it('says nothing when getUser answers null (nobody is signed in)', async () => {
    const t = appWith(() => null);
    await request(t.app).get('/account').expect(401);
    expect(t.logs).toEqual([]);
  });
});
