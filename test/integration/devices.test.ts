import { describe, expect, it } from 'vitest';
import { createClock, EXPRESS_VERSIONS, json, sendCode, signIn, USERS } from '../helpers/create-app.js';
import {
  countingStore,
  createLifecycleApp,
  formTokenOf,
  signInAgain,
  verifiedAgent,
} from '../helpers/lifecycle.js';

const deviceCookie = (res: { headers: Record<string, unknown> }) =>
  ([] as string[])
    .concat((res.headers['set-cookie'] as string[] | undefined) ?? [])
    .find((c) => c.startsWith('2fa-device='));

describe.each(EXPRESS_VERSIONS)('remembered devices on %s', (_name, express) => {
  describe('the challenge page', () => {
    it('shows an unchecked "Don\'t ask again on this device for 30 days" box inside the verify form', async () => {
      const t = createLifecycleApp({ express });
      const page = await (await signIn(t)).get('/2fa').set('Accept', 'text/html').expect(200);
      const box = page.text.match(/<label class="tfa-remember"[\s\S]*?<\/label>/)?.[0] ?? '';
      expect(box).toContain('<input type="checkbox" id="tfa-remember" name="remember" value="1">');
      expect(box).not.toContain('checked');
      expect(box).toContain('Don&#39;t ask again on this device for 30 days');
      const form = page.text.slice(page.text.indexOf('<form method="post" action="/2fa/verify"'));
      expect(form.indexOf('tfa-remember')).toBeLessThan(form.indexOf('</form>'));
    });

    it('says the configured lifetime: 7 days, 1 day, 12 hours; no box when rememberDevice is off', async () => {
      for (const [ttlMs, text] of [
        [7 * 86_400_000, 'for 7 days'],
        [86_400_000, 'for 1 day<'],
        [12 * 3_600_000, 'for 12 hours'],
      ] as const) {
        const t = createLifecycleApp({ express, options: { rememberDevice: { ttlMs } } });
        const page = await (await signIn(t)).get('/2fa').set('Accept', 'text/html').expect(200);
        expect(page.text).toContain(text);
      }
      const off = createLifecycleApp({ express, remember: false });
      const page = await (await signIn(off)).get('/2fa').set('Accept', 'text/html').expect(200);
      expect(page.text).not.toContain('id="tfa-remember"');
    });
  });

  describe('with JSON requests', () => {
    it('remembers the device when asked: cookie, device.remembered, tfa.devices.list', async () => {
      const t = createLifecycleApp({ express });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      const res = await json(agent, '/2fa/verify', { code, remember: true })
        .set('User-Agent', 'Mozilla/5.0 (X11; Linux) Chromium/130')
        .expect(200);
      const cookie = deviceCookie(res) ?? '';
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).toMatch(/Path=\//);
      expect(cookie).toMatch(/Max-Age=2592000/);

      const devices = await t.tfa.devices.list(USERS.alice.id);
      expect(devices).toEqual([
        {
          id: expect.stringMatching(/^[A-Za-z0-9_-]{12}$/),
          createdAt: t.clock.now(),
          lastUsedAt: t.clock.now(),
          userAgent: 'Mozilla/5.0 (X11; Linux) Chromium/130',
          ipPrefix: '127.0.0.0/24',
        },
      ]);
      expect(t.events.filter((e) => e.type === 'device.remembered')).toEqual([
        expect.objectContaining({ userId: USERS.alice.id, deviceId: devices[0]?.id }),
      ]);
    });

    it('a new session on that device passes the guard with no SMS, after one store read, then none', async () => {
      const clock = createClock();
      const store = countingStore(clock.now);
      const t = createLifecycleApp({ express, clock, store });
      const agent = await verifiedAgent(t, 'alice', { remember: true });
      const sent = t.transport.messages.length;
      await signInAgain(agent);
      clock.advance(60_000);

      store.calls.length = 0;
      const first = await agent.get('/account').expect(200);
      expect(first.text).toBe('account of u-alice via device');
      expect(store.calls.filter((c) => c === 'get' || c === 'getMany')).toEqual(['get']);
      // The ordinary session-bound verified cookie: the next requests cost the guard no store at all.
      expect(
        ([] as string[]).concat(first.headers['set-cookie'] ?? []).some((c) => c.startsWith('2fa=')),
      ).toBe(true);
      await new Promise((resolve) => setImmediate(resolve));
      store.calls.length = 0;
      await agent.get('/account').expect(200);
      await agent.get('/api/data').expect(200);
      expect(store.calls).toEqual([]);
      expect(t.transport.messages).toHaveLength(sent);
      const [device] = await t.tfa.devices.list(USERS.alice.id);
      expect(device?.lastUsedAt).toBe(clock.now());
    });

    it('GET /2fa on a remembered device goes straight to returnTo, sending nothing', async () => {
      const t = createLifecycleApp({ express });
      const agent = await verifiedAgent(t, 'alice', { remember: true });
      const sent = t.transport.messages.length;
      await signInAgain(agent);
      const res = await agent.get('/2fa?returnTo=%2Faccount').set('Accept', 'text/html').expect(303);
      expect(res.headers.location).toBe('/account');
      await agent.get('/account').expect(200);
      expect(t.transport.messages).toHaveLength(sent);
    });

    it('without the box, the next session asks again', async () => {
      const t = createLifecycleApp({ express });
      const agent = await verifiedAgent(t);
      await signInAgain(agent);
      await agent.get('/account').set('Accept', 'application/json').expect(401);
      expect(await t.tfa.devices.list(USERS.alice.id)).toEqual([]);
    });

    it('ignores the box when rememberDevice is off', async () => {
      const t = createLifecycleApp({ express, remember: false });
      const agent = await signIn(t);
      const code = await sendCode(t, agent);
      const res = await json(agent, '/2fa/verify', { code, remember: true }).expect(200);
      expect(deviceCookie(res)).toBeUndefined();
    });

    it('lists several devices, most recently used first; revoke and revokeAll forget them', async () => {
      const t = createLifecycleApp({ express });
      const laptop = await verifiedAgent(t, 'alice', { remember: true });
      t.clock.advance(1000);
      await verifiedAgent(t, 'alice', { remember: true });
      t.clock.advance(1000);
      await signInAgain(laptop);
      await laptop.get('/account').expect(200);
      const devices = await t.tfa.devices.list(USERS.alice.id);
      expect(devices).toHaveLength(2);
      expect(devices[0]?.lastUsedAt).toBeGreaterThan(devices[1]?.lastUsedAt ?? Number.POSITIVE_INFINITY);

      expect(await t.tfa.devices.revoke(USERS.alice.id, devices[1]?.id as string)).toBe(true);
      expect(await t.tfa.devices.revoke(USERS.alice.id, devices[1]?.id as string)).toBe(false);
      expect(await t.tfa.devices.list(USERS.alice.id)).toHaveLength(1);
      expect(await t.tfa.devices.revokeAll(USERS.alice.id)).toBe(1);
      expect(await t.tfa.devices.list(USERS.alice.id)).toEqual([]);
      expect(t.events.filter((e) => e.type === 'device.revoked').map((e) => e.deviceId)).toEqual([
        devices[1]?.id,
        devices[0]?.id,
      ]);
    });
  });

  describe('with HTML form posts (no JavaScript)', () => {
    it('the checked box in the plain form remembers the device; the next session skips the SMS', async () => {
      const t = createLifecycleApp({ express });
      const agent = await signIn(t);
      const page = await agent.get('/2fa?returnTo=%2Faccount').set('Accept', 'text/html').expect(200);
      const token = formTokenOf(page.text);
      await agent
        .post('/2fa/send')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token, returnTo: '/account' })
        .expect(303);
      const code = t.transport.lastCode(USERS.alice.phone);
      const ok = await agent
        .post('/2fa/verify')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token, code, remember: '1' })
        .expect(303);
      expect(ok.headers.location).toBe('/account');
      expect(deviceCookie(ok)).toBeDefined();

      await signInAgain(agent);
      const account = await agent.get('/account').set('Accept', 'text/html').expect(200);
      expect(account.text).toBe('account of u-alice via device');
    });
  });
});
