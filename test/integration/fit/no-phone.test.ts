import { describe, expect, it } from 'vitest';
import { USERS } from '../../helpers/create-app.js';
import { EXPRESS_MATRIX, matrixApp, pageData, signInAs } from '../apps/kit.js';

/** An app whose user alice has `phone` on file (a `phones` entry of `undefined` means the key is absent). */
function appWithPhone(express: (typeof EXPRESS_MATRIX)[number][1], phone: unknown) {
  return matrixApp(
    express,
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
        if (!req.session.user) return null;
        const user = { id: req.session.user.id, sessionId: req.sessionID } as Record<string, unknown>;
        if (phone !== undefined) user.phone = phone;
        return user as { id: string };
      },
    },
  );
}

const missing = (events: { type: string }[]) => events.filter((e) => e.type === 'destination.missing');

describe.each(EXPRESS_MATRIX)('no phone on file, on %s', (_version, express) => {
  // Defect: the page showed "•••" and the send answered 422 with nothing said; with getUser returning
  // null instead, the guard looped through loginPath. Now: a state of its own, an event, no send.
  it.each([
    ['null', null, 'none'],
    ['absent', undefined, 'none'],
    ['an empty string', '', 'none'],
    ['a national number', '0470123401', 'invalid-number'],
    ['a 00-prefixed number', '0032470123401', 'invalid-number'],
  ])(
    'with a phone that is %s: the page says so, never sends, and the event fires',
    async (_n, phone, reason) => {
      const t = appWithPhone(express, phone);
      const agent = await signInAs(t);
      const redirect = await agent.get('/account').set('Accept', 'text/html').expect(303);
      const page = await agent
        .get(redirect.headers.location as string)
        .set('Accept', 'text/html')
        .expect(200);
      expect(page.text).toContain('id="tfa-no-phone"');
      expect(page.text).toContain('There is no mobile number on file for your account');
      expect(page.text).not.toContain('•••');
      expect(page.text).toContain('<button class="tfa-primary" id="tfa-send" formaction="/2fa/send" hidden>');
      const data = pageData(page.text);
      expect(data.autoSend).toBe(false);
      expect(data.phoneMissing).toBe(true);

      const sent = await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}');
      expect(sent.status).toBe(422);
      expect(sent.body.error.code).toBe('ERR_2FA_NO_PHONE');
      expect(t.transport.messages).toEqual([]);
      expect(missing(t.events)).toEqual([
        expect.objectContaining({ type: 'destination.missing', userId: USERS.alice.id, reason }),
        expect.objectContaining({ type: 'destination.missing', userId: USERS.alice.id, reason }),
      ]);
      expect(t.events.filter((e) => e.type === 'send.blocked')).toEqual([]);
    },
  );
});

describe('a phone on file that is not in international form', () => {
  it('is logged once, naming `phone` and the E.164 fix, never the number', async () => {
    const t = appWithPhone(EXPRESS_MATRIX[2][1], '0470123401');
    const agent = await signInAs(t);
    await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    await agent.post('/2fa/send').set('Content-Type', 'application/json').send('{}').expect(422);
    expect(t.logs).toHaveLength(1);
    expect(t.logs[0]).toContain('`phone`');
    expect(t.logs[0]).toContain('E.164');
    expect(t.logs[0]).not.toContain('470123401');
  });

  it('is not logged for a user who simply has no phone (null)', async () => {
    const t = appWithPhone(EXPRESS_MATRIX[2][1], null);
    const agent = await signInAs(t);
    await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    expect(t.logs).toEqual([]);
  });

  it('lets a form post (no JavaScript) land back on the page in its no-phone state', async () => {
    const t = appWithPhone(EXPRESS_MATRIX[2][1], null);
    const agent = await signInAs(t);
    const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    const token = page.text.match(/name="tfa_csrf" value="([^"]+)"/)?.[1] ?? '';
    const res = await agent
      .post('/2fa/send')
      .type('form')
      .set('Accept', 'text/html')
      .send({ tfa_csrf: token });
    expect(res.status).toBe(303);
    const again = await agent
      .get(res.headers.location as string)
      .set('Accept', 'text/html')
      .expect(200);
    expect(again.text).toContain('id="tfa-no-phone"');
  });
});
