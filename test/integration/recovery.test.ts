import { describe, expect, it } from 'vitest';
import { EXPRESS_VERSIONS, json, signIn, USERS } from '../helpers/create-app.js';
import {
  createLifecycleApp,
  createVault,
  formTokenOf,
  generateCodes,
  verifiedAgent,
} from '../helpers/lifecycle.js';

describe.each(EXPRESS_VERSIONS)('recovery codes on %s', (_name, express) => {
  describe('with JSON requests', () => {
    it('generates 10 grouped codes of ≥ 50 bits, once, and hands save only keyed hashes', async () => {
      const t = createLifecycleApp({ express });
      const agent = await verifiedAgent(t);
      const res = await json(agent, '/2fa/recovery/generate').expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const codes = res.body.codes as string[];
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      for (const code of codes)
        expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}-[0-9a-hjkmnp-tv-z]{4}$/);
      // 12 symbols of a 32-letter alphabet: 60 bits.
      expect(12 * Math.log2(32)).toBeGreaterThanOrEqual(50);
      const hashes = t.vault.saved.get(USERS.alice.id) ?? [];
      expect(hashes).toHaveLength(10);
      for (const hash of hashes) {
        for (const code of codes) {
          expect(hash).not.toContain(code.replace(/-/g, ''));
          expect(hash).not.toContain(code);
        }
      }
      expect(t.events.filter((e) => e.type === 'recovery.generated')).toEqual([
        expect.objectContaining({ userId: USERS.alice.id, codesLeft: 10 }),
      ]);
    });

    it('signs in with one code on a new session: verified with method recovery, a notice SMS, codesLeft 9', async () => {
      const t = createLifecycleApp({ express });
      const codes = await generateCodes(await verifiedAgent(t));
      const agent = await signIn(t);
      await agent.get('/api/data').set('Accept', 'application/json').expect(401);
      const sentBefore = t.transport.messages.length;

      const res = await json(agent, '/2fa/recovery/verify', { code: codes[3], returnTo: '/account' }).expect(
        200,
      );
      expect(res.body).toEqual({ verified: true, returnTo: '/account' });
      expect(res.headers['cache-control']).toBe('no-store');
      expect((await agent.get('/account').expect(200)).text).toBe('account of u-alice via recovery');
      expect(t.vault.saved.get(USERS.alice.id)).toHaveLength(9);

      expect(t.events.filter((e) => e.type === 'recovery.used')).toEqual([
        expect.objectContaining({ userId: USERS.alice.id, codesLeft: 9 }),
      ]);
      // The notice goes to the number on file, and holds nothing that reads as a code.
      await new Promise((resolve) => setImmediate(resolve));
      const notices = t.transport.messages.slice(sentBefore);
      expect(notices).toHaveLength(1);
      expect(notices[0]?.to).toBe(USERS.alice.phone);
      expect(notices[0]?.text).toMatch(/recovery code was just used/);
      expect(notices[0]?.text).not.toMatch(/\d/);
    });

    it('accepts the code as people type it: upper case, spaces, no dashes, O for 0', async () => {
      const t = createLifecycleApp({ express });
      const codes = await generateCodes(await verifiedAgent(t));
      const typed = (codes[0] as string).toUpperCase().replace(/-/g, ' ').replace(/0/g, 'O');
      const agent = await signIn(t);
      await json(agent, '/2fa/recovery/verify', { code: typed }).expect(200);
    });

    it('refuses a used code, a code of the old set after regeneration, and a malformed one', async () => {
      const t = createLifecycleApp({ express });
      const verified = await verifiedAgent(t);
      const first = await generateCodes(verified);
      const second = await generateCodes(verified);
      expect(t.events.filter((e) => e.type === 'recovery.generated')).toHaveLength(2);

      const agent = await signIn(t);
      const old = await json(agent, '/2fa/recovery/verify', { code: first[0] }).expect(400);
      expect(old.body.error.code).toBe('ERR_2FA_CODE_INVALID');
      await json(agent, '/2fa/recovery/verify', { code: second[0] }).expect(200);

      const again = await signIn(t);
      const reused = await json(again, '/2fa/recovery/verify', { code: second[0] }).expect(400);
      expect(reused.body.error.code).toBe('ERR_2FA_CODE_INVALID');
      const malformed = await json(again, '/2fa/recovery/verify', { code: 'not-a-code' }).expect(400);
      expect(malformed.body.error.code).toBe('ERR_2FA_BAD_REQUEST');
      const notString = await json(again, '/2fa/recovery/verify', { code: 123 }).expect(400);
      expect(notString.body.error.code).toBe('ERR_2FA_BAD_REQUEST');
      await again.get('/api/data').set('Accept', 'application/json').expect(401);
    });

    it('needs a verification from the last 5 minutes to generate (401 with verifyUrl), even when enroll is unset', async () => {
      const t = createLifecycleApp({ express });
      const agent = await verifiedAgent(t);
      t.clock.advance(5 * 60_000 + 1);
      const res = await json(agent, '/2fa/recovery/generate', { returnTo: '/settings' }).expect(401);
      expect(res.body.error).toMatchObject({
        code: 'ERR_2FA_REQUIRED',
        verifyUrl: '/2fa?returnTo=%2Fsettings&within=300000',
      });
      // That page asks this verified-but-stale browser for a code again (step-up), instead of waving it on.
      const page = await agent.get(res.body.error.verifyUrl).set('Accept', 'text/html').expect(200);
      expect(page.text).toContain('id="tfa-code"');
      expect(t.vault.saves).toHaveLength(0);
      const fresh = await signIn(t);
      const notVerified = await json(fresh, '/2fa/recovery/generate').expect(401);
      expect(notVerified.body.error.code).toBe('ERR_2FA_REQUIRED');
    });

    it('takes a recovery-code sign-in as fresh: a user who lost the phone can make a new set', async () => {
      const t = createLifecycleApp({ express });
      const codes = await generateCodes(await verifiedAgent(t));
      const agent = await signIn(t);
      await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(200);
      expect(await generateCodes(agent)).toHaveLength(10);
    });

    it('honours recovery.count, and tfa.recovery.generate / count work from the server side', async () => {
      const t = createLifecycleApp({ express });
      expect(await t.tfa.recovery.generate(USERS.bob.id)).toHaveLength(10);
      expect(await t.tfa.recovery.count(USERS.bob.id)).toBe(10);
      const vault = createVault(5);
      const small = createLifecycleApp({ express, vault });
      expect(await small.tfa.recovery.generate('u-bob')).toHaveLength(5);
      expect(vault.saved.get('u-bob')).toHaveLength(5);
      expect(small.events.filter((e) => e.type === 'recovery.generated')).toEqual([
        expect.objectContaining({ userId: 'u-bob', codesLeft: 5 }),
      ]);
    });

    it('is not mounted without the recovery option', async () => {
      const t = createLifecycleApp({ express, options: { recovery: undefined } });
      const agent = await verifiedAgent(t);
      await json(agent, '/2fa/recovery/generate').expect(404);
      await json(agent, '/2fa/recovery/verify', { code: 'abcd-efgh-2345' }).expect(404);
      const page = await (await signIn(t)).get('/2fa').set('Accept', 'text/html').expect(200);
      expect(page.text).not.toContain('Use a recovery code');
      await expect(t.tfa.recovery.generate('u-alice')).rejects.toThrow(/recovery: \{ load, save \}/);
    });
  });

  describe('with HTML form posts (no JavaScript)', () => {
    it('challenge page → "Use a recovery code" → form → 303 to returnTo; a wrong code comes back with its error', async () => {
      const t = createLifecycleApp({ express });
      const codes = await generateCodes(await verifiedAgent(t));
      const agent = await signIn(t);
      const page = await agent.get('/2fa?returnTo=%2Faccount').set('Accept', 'text/html').expect(200);
      const link = page.text.match(/<a href="([^"]+)" id="tfa-use-recovery">Use a recovery code<\/a>/)?.[1];
      expect(link).toBe('/2fa/recovery?returnTo=%2Faccount');

      const form = await agent
        .get(link ?? '')
        .set('Accept', 'text/html')
        .expect(200);
      expect(form.headers['cache-control']).toBe('no-store');
      expect(form.headers['content-security-policy']).toContain("form-action 'self'");
      expect(form.text).toContain('action="/2fa/recovery/verify"');
      expect(form.text).toContain('name="returnTo" value="/account"');
      const token = formTokenOf(form.text);

      const wrong = await agent
        .post('/2fa/recovery/verify')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token, code: 'aaaa-bbbb-cccc', returnTo: '/account' })
        .expect(303);
      expect(wrong.headers.location).toBe('/2fa/recovery?returnTo=%2Faccount');
      const shown = await agent
        .get(wrong.headers.location ?? '')
        .set('Accept', 'text/html')
        .expect(200);
      expect(shown.text).toContain('That code is not right.');

      const ok = await agent
        .post('/2fa/recovery/verify')
        .type('form')
        .set('Accept', 'text/html')
        .send({ tfa_csrf: token, code: codes[1], returnTo: '/account' })
        .expect(303);
      expect(ok.headers.location).toBe('/account');
      expect((await agent.get('/account').set('Accept', 'text/html').expect(200)).text).toContain(
        'via recovery',
      );
    });

    it('a form post to generate answers with the codes page: the codes once, copy, download, print', async () => {
      const t = createLifecycleApp({ express });
      const agent = await verifiedAgent(t);
      const page = await agent.get('/2fa/recovery').set('Accept', 'text/html').expect(303);
      expect(page.headers.location).toBe('/');
      const res = await agent
        .post('/2fa/recovery/generate')
        .type('form')
        .set('Accept', 'text/html')
        .set('Sec-Fetch-Site', 'same-origin')
        .send({ returnTo: '/account' })
        .expect(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['content-type']).toMatch(/text\/html/);
      const shown = [...res.text.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1]);
      expect(shown).toHaveLength(10);
      expect(res.text).toContain('id="tfa-copy"');
      expect(res.text).toContain('download="recovery-codes.txt"');
      expect(res.text).toContain('id="tfa-print"');
      expect(res.text).toContain('href="/account" id="tfa-codes-done"');
      // The codes work.
      const other = await signIn(t);
      await json(other, '/2fa/recovery/verify', { code: shown[9] }).expect(200);
    });

    it('a stale form post to generate is sent to verify again, nothing generated', async () => {
      const t = createLifecycleApp({ express });
      const agent = await verifiedAgent(t);
      t.clock.advance(6 * 60_000);
      const res = await agent
        .post('/2fa/recovery/generate')
        .type('form')
        .set('Accept', 'text/html')
        .set('Sec-Fetch-Site', 'same-origin')
        .send({ returnTo: '/account' })
        .expect(303);
      expect(res.headers.location).toBe('/2fa?returnTo=%2Faccount&within=300000');
      expect(t.vault.saves).toHaveLength(0);
    });
  });

  it('the page texts are translated (nl)', async () => {
    const t = createLifecycleApp({ express, options: { locale: 'nl' } });
    const agent = await signIn(t);
    const page = await agent.get('/2fa').set('Accept', 'text/html').expect(200);
    expect(page.text).toContain('Een herstelcode gebruiken');
    expect(page.text).toContain('Niet meer vragen op dit apparaat gedurende 30 dagen');
    const form = await agent.get('/2fa/recovery').set('Accept', 'text/html').expect(200);
    expect(form.text).toContain('Aanmelden met deze code');
  });
});
