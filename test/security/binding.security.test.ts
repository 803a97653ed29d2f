import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createApp, json, sendCode, signIn, USERS } from '../helpers/create-app.js';

function cookieHeader(res: request.Response): string {
  const cookies = (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
  return cookies.map((c) => c.split(';')[0]).join('; ');
}

describe('a code is bound to its user and its browser (R-04)', () => {
  it("refuses Bob's code in Alice's browser", async () => {
    const t = createApp();
    const alice = await signIn(t, 'alice');
    const bob = await signIn(t, 'bob');
    await sendCode(t, alice, 'alice');
    const bobCode = await sendCode(t, bob, 'bob');
    const res = await json(alice, '/2fa/verify', { code: bobCode }).expect(400);
    expect(res.body.error.code).toBe('ERR_2FA_CODE_INVALID');
    await alice.get('/api/data').expect(401);
  });

  it("refuses Alice's code typed in another browser where Alice is signed in too", async () => {
    const t = createApp();
    const first = await signIn(t, 'alice');
    const second = await signIn(t, 'alice');
    const code = await sendCode(t, first, 'alice');
    const res = await json(second, '/2fa/verify', { code }).expect(409);
    expect(res.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
    await second.get('/api/data').expect(401);
    await json(first, '/2fa/verify', { code }).expect(200);
  });

  it("refuses Alice's challenge cookie when Bob presents it (stolen challenge cookie)", async () => {
    const t = createApp();
    const alice = await signIn(t, 'alice');
    const sent = await json(alice, '/2fa/send').expect(200);
    const code = t.transport.lastCode(USERS.alice.phone);
    const bob = await signIn(t, 'bob');
    const stolen = cookieHeader(sent)
      .split('; ')
      .find((c) => c.startsWith('2fa-challenge='));
    const bobSession = (await bob.get('/2fa/status')).request.cookies;
    expect(stolen).toMatch(/^2fa-challenge=.+/);
    expect(bobSession).toMatch(/connect\.sid=/);
    const res = await request(t.app)
      .post('/2fa/verify')
      .set('Cookie', `${bobSession}; ${stolen}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ code }));
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
  });

  it('refuses a challenge started before a re-login (new session)', async () => {
    const t = createApp();
    const agent = await signIn(t, 'alice');
    const code = await sendCode(t, agent, 'alice');
    await agent
      .post('/login')
      .type('form')
      .send({ username: 'alice', password: USERS.alice.password })
      .expect(200);
    const res = await json(agent, '/2fa/verify', { code }).expect(409);
    expect(res.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
  });

  it('never takes the destination from the request (R-20, R-21)', async () => {
    const t = createApp();
    const agent = await signIn(t, 'alice');
    await json(agent, '/2fa/send', {
      to: '+32470999999',
      phone: ['+32470999999'],
      sender: 'Evil',
      test: true,
    }).expect(200);
    expect(t.transport.messages).toHaveLength(1);
    expect(t.transport.messages[0]).toMatchObject({ channel: 'sms', to: USERS.alice.phone });
    expect(Object.keys(t.transport.messages[0] ?? {}).sort()).toEqual(['at', 'channel', 'id', 'text', 'to']);
  });
});

describe('session fixation (R-35)', () => {
  it('does not verify a browser that shares the session cookie but never received the verified cookie', async () => {
    const t = createApp();
    const victim = await signIn(t, 'alice');
    const code = await sendCode(t, victim, 'alice');
    const sessionOnly = (await victim.get('/2fa/status')).request.cookies
      .split('; ')
      .filter((c: string) => c.startsWith('connect.sid='))
      .join('; ');
    expect(sessionOnly).toMatch(/^connect\.sid=.+/);
    await json(victim, '/2fa/verify', { code }).expect(200);
    await request(t.app).get('/api/data').set('Cookie', sessionOnly).expect(401);
    await victim.get('/api/data').expect(200);
  });
});

describe('one challenge per session (parallel and crossing sends)', () => {
  it('lets a send that crossed the first answer join its challenge instead of sending again', async () => {
    const t = createApp();
    const agent = await signIn(t, 'alice');
    const sessionOnly = (await agent.get('/2fa/status')).request.cookies;
    await json(agent, '/2fa/send').expect(200);
    // The same browser session, but the request left before the challenge cookie arrived.
    const crossing = await request(t.app)
      .post('/2fa/send')
      .set('Cookie', sessionOnly)
      .set('Content-Type', 'application/json')
      .send('{}')
      .expect(200);
    expect(t.transport.messages).toHaveLength(1);
    const joined = cookieHeader(crossing);
    expect(joined).toMatch(/2fa-challenge=/);
    const code = t.transport.lastCode(USERS.alice.phone);
    await request(t.app)
      .post('/2fa/verify')
      .set('Cookie', `${sessionOnly}; ${joined}`)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ code }))
      .expect(200);
  });
});
