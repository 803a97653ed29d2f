/**
 * Upgrading the package over a database migrated by the previous release: the table is there but
 * not its verify function (`<table>_verify`) until the app runs `migrate()` or the new
 * `postgresStore.schema()`. Verify keeps working on the five-method path meanwhile, and the app
 * is told once how to get the one-statement verify; once the function exists it is used again.
 */
import { describe, expect, it } from 'vitest';
import { createApp, json, sendCode, signIn, wrongCode } from '../helpers/create-app.js';
import { POSTGRES_CLIENTS, requirePostgres, usePostgresTables } from '../helpers/postgres.js';

const postgresUp = await requirePostgres();

for (const { name, connect } of POSTGRES_CLIENTS) {
  describe.skipIf(!postgresUp)(`postgresStore() on ${name} over the previous release's schema`, () => {
    const { query, freshStore } = usePostgresTables(connect, name);

    /** The previous release's schema: the table and its index, no verify function. */
    async function previousSchema() {
      const fresh = await freshStore('upgrade');
      await query(`DROP FUNCTION "${fresh.table}_verify"`, []);
      return fresh;
    }

    it('verifies on the generic path, counts wrong codes, and warns once naming the fix', async () => {
      const { store } = await previousSchema();
      const t = createApp({ store });
      const alice = await signIn(t, 'alice');
      const code = await sendCode(t, alice);
      const wrong = await json(alice, '/2fa/verify', { code: wrongCode(code) });
      expect(wrong.status).toBe(400);
      expect(wrong.body.error.code).toBe('ERR_2FA_CODE_INVALID');
      expect((await alice.get('/2fa/status').expect(200)).body).toMatchObject({ attemptsLeft: 4 });
      await json(alice, '/2fa/verify', { code }).expect(200);
      await alice.get('/api/data').expect(200);
      // A second user, a second verify: still no second warning.
      const bob = await signIn(t, 'bob');
      await json(bob, '/2fa/verify', { code: await sendCode(t, bob, 'bob') }).expect(200);

      const warnings = t.logs.filter((m) => m.includes('_verify'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('await store.migrate()');
      expect(warnings[0]).toContain('postgresStore.schema()');
      expect(t.logs).toHaveLength(1);
    });

    it('pays the failed call of the missing function once, not on every verify', async () => {
      const { store, rec } = await previousSchema();
      const t = createApp({ store });
      const alice = await signIn(t, 'alice');
      const code = await sendCode(t, alice);
      await json(alice, '/2fa/verify', { code: wrongCode(code) }).expect(400);
      rec.reset();
      await json(alice, '/2fa/verify', { code: wrongCode(code) }).expect(400);
      await json(alice, '/2fa/verify', { code }).expect(200);
      expect(rec.calls.filter((call) => call.text.includes('_verify'))).toEqual([]);
      expect(t.logs.filter((m) => m.includes('_verify'))).toHaveLength(1);
    });

    it('takes the one-statement verify again once the function exists', async () => {
      const { store, rec } = await previousSchema();
      const t = createApp({ store });
      const alice = await signIn(t, 'alice');
      await json(alice, '/2fa/verify', { code: await sendCode(t, alice) }).expect(200);
      await store.migrate();
      const bob = await signIn(t, 'bob');
      const code = await sendCode(t, bob, 'bob');
      rec.reset();
      await json(bob, '/2fa/verify', { code }).expect(200);
      // The function's statement only: no failed call first, no generic path after. (This is the
      // first verify of the process the database answers: the same statement probes its clock first,
      // server-deadline.ts.)
      expect(rec.calls).toHaveLength(2);
      expect(rec.calls.every((call) => call.text.includes('_verify'))).toBe(true);
      expect(t.logs.filter((m) => m.includes('_verify'))).toHaveLength(1);
    });
  });
}
