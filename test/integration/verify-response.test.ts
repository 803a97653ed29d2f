/**
 * What POST /2fa/verify puts on the wire, on both Express versions: the status, `Cache-Control:
 * no-store`, the JSON with its length, and nothing else of ours. No ETag (an answer that must not
 * be cached needs no validator), no Set-Cookie unless the verify changed a cookie.
 */
import { describe, expect, it } from 'vitest';
import {
  createApp,
  EXPRESS_VERSIONS,
  json,
  sendCode,
  signIn,
  USERS,
  wrongCode,
} from '../helpers/create-app.js';

const OURS = ['cache-control', 'content-type', 'content-length', 'set-cookie', 'etag', 'retry-after'];

/** The headers of ours (and Express's) in an answer, without the ones Node adds to every one. */
const oursOf = (headers: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(headers).filter(([name]) => OURS.includes(name)));

describe.each(EXPRESS_VERSIONS)('POST /2fa/verify on the wire (%s)', (_name, express) => {
  it('answers a wrong code with no-store JSON, no ETag and no cookie', async () => {
    const t = createApp({ express });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const res = await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    const body =
      '{"error":{"code":"ERR_2FA_CODE_INVALID","message":"That code is not right.","attemptsLeft":4}}';
    expect(res.text).toBe(body);
    expect(oursOf(res.headers)).toEqual({
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(body.length),
    });
  });

  it('answers a refused code with its Retry-After, no ETag and no cookie', async () => {
    const t = createApp({ express, options: { maxAttempts: 2 } });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    for (let i = 0; i < 2; i++) await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    const res = await json(agent, '/2fa/verify', { code }).expect(429);
    expect(res.body.error.code).toBe('ERR_2FA_TOO_MANY_ATTEMPTS');
    expect(oursOf(res.headers)).toEqual({
      'cache-control': 'no-store',
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(res.text)),
      'retry-after': '1',
    });
  });

  it('answers the right code with the verified cookie, the challenge cookie cleared, and no ETag', async () => {
    const t = createApp({ express });
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    const res = await json(agent, '/2fa/verify', { code }).expect(200);
    expect(res.text).toBe('{"verified":true,"returnTo":"/"}');
    expect(res.headers.etag).toBeUndefined();
    expect(res.headers['content-length']).toBe(String(res.text.length));
    const cookies = (res.headers['set-cookie'] as unknown as string[]).map((c) => c.split('=')[0]);
    expect(cookies).toEqual(['2fa', '2fa-challenge']);
  });

  it('answers the right code with the path to go back to as JSON writes it, quotes and non-ASCII escaped alike', async () => {
    const t = createApp({ express });
    const agent = await signIn(t);
    const returnTo = '/next?q="é"&x=%7B';
    expect((await json(agent, '/2fa/send', { returnTo })).status).toBe(200);
    const code = t.transport.lastCode(t.phones.get(USERS.alice.id) ?? USERS.alice.phone) ?? '';
    const res = await json(agent, '/2fa/verify', { code }).expect(200);
    expect(res.text).toBe(JSON.stringify({ verified: true, returnTo }));
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
  });

  // A wrong code and a used-up challenge are handed back to the router, not thrown; a missing
  // challenge is still thrown. A form post answers all three the same way: the page, with the error.
  it('answers a refused form post with the page and its flash, whether the refusal was thrown or handed back', async () => {
    const t = createApp({ express, options: { maxAttempts: 2 } });
    const agent = await signIn(t);
    const form = (code: string) =>
      agent
        .post('/2fa/verify')
        .set('Accept', 'text/html')
        .set('Sec-Fetch-Site', 'same-origin')
        .type('form')
        .send({ code, returnTo: '/account' });
    const shape = (res: { status: number; headers: Record<string, unknown> }) => ({
      status: res.status,
      location: res.headers.location,
      cookies: ((res.headers['set-cookie'] as string[] | undefined) ?? []).map((c) => c.split('=')[0]),
      ours: Object.keys(oursOf(res.headers)).sort(),
    });
    const missing = shape(await form('123456')); // thrown: ERR_2FA_NO_CHALLENGE
    const code = await sendCode(t, agent);
    const wrong = shape(await form(wrongCode(code))); // handed back: ERR_2FA_CODE_INVALID
    await form(wrongCode(code));
    const refused = shape(await form(code)); // handed back: ERR_2FA_TOO_MANY_ATTEMPTS
    const page = { status: 303, location: '/2fa?returnTo=%2Faccount', cookies: ['2fa-flash'] };
    expect(missing).toMatchObject(page);
    expect(wrong).toEqual(missing);
    expect(refused).toEqual(missing);
  });
});
