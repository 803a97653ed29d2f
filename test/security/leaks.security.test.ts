import { describe, expect, it } from 'vitest';
import { createApp, json, SECRET, sendCode, signIn, USERS } from '../helpers/create-app.js';
import { findLeaks } from '../helpers/leaks.js';

// Every test in the suite is scanned after it runs (test/helpers/leak-scan.ts). These tests show
// that the scan catches each kind of leak, so a clean suite means something.
describe('the leak scan', () => {
  it('finds nothing in a whole normal flow', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code }).expect(200);
    expect(findLeaks([t], [])).toEqual([]);
  });

  it('finds an issued code echoed in a response body', async () => {
    const t = createApp();
    t.app.get('/debug', (_req, res) => {
      res.json({ last: t.transport.lastCode(USERS.alice.phone) });
    });
    const agent = await signIn(t);
    await sendCode(t, agent);
    await agent.get('/debug').expect(200);
    expect(findLeaks([t], []).join()).toMatch(/GET \/debug body holds an issued code/);
    t.responses.length = 0; // keep this test's own scan clean
  });

  it('finds a full phone number, the secret and a cookie value in logs, headers and the console', async () => {
    const t = createApp();
    const agent = await signIn(t);
    const res = await json(agent, '/2fa/send').expect(200);
    const cookie = decodeURIComponent(
      String((res.headers['set-cookie'] as unknown as string[])[0])
        .split(';')[0]
        ?.split('=')[1] ?? '',
    );
    expect(findLeaks([{ ...t, logs: ['sent to 0470123401'] }], []).join()).toMatch(/^logger holds a secret/);
    expect(findLeaks([t], [`secret is ${SECRET}`]).join()).toMatch(/^console holds/);
    expect(cookie.length).toBeGreaterThan(20);
    expect(findLeaks([t], [`cookie ${cookie}`]).join()).toMatch(/^console holds/);
    const leakyHeader = {
      ...t.responses[0],
      headers: { 'x-debug': USERS.alice.phone },
    } as (typeof t.responses)[0];
    expect(findLeaks([{ ...t, responses: [...t.responses, leakyHeader] }], []).join()).toMatch(
      /headers holds/,
    );
    expect(findLeaks([{ ...t, events: [{ type: 'x', phone: '+32470123401' }] }], []).join()).toMatch(
      /^event holds/,
    );
  });
});
