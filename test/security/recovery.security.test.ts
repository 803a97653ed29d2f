import { describe, expect, it } from 'vitest';
import { hashRecoveryCode } from '../../src/lifecycle/recovery/codes.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import {
  createApp,
  createClock,
  json,
  SECRET,
  sendCode,
  signIn,
  USERS,
  wrongCode,
} from '../helpers/create-app.js';
import { createLifecycleApp, createVault, generateCodes, verifiedAgent } from '../helpers/lifecycle.js';

/** A store that keeps a copy of every key and value ever written to it. */
function recordingStore(now: () => number): Store & { written: string[] } {
  const inner = memoryStore({ now });
  const written: string[] = [];
  return Object.assign(Object.create(null), inner, {
    written,
    get: inner.get.bind(inner),
    delete: inner.delete.bind(inner),
    consume: inner.consume.bind(inner),
    getMany: inner.getMany?.bind(inner),
    compareAndSet: (k: string, e: string | undefined, v: string, t: number) => {
      written.push(k, v);
      return inner.compareAndSet?.(k, e, v, t) ?? Promise.resolve(false);
    },
    set: (k: string, v: string, t: number) => {
      written.push(k, v);
      return inner.set(k, v, t);
    },
    increment: (k: string, t: number) => {
      written.push(k);
      return inner.increment(k, t);
    },
  });
}

describe('recovery codes: single use under concurrency', () => {
  it('50 parallel uses of one code: exactly one succeeds, one recovery.used, the code removed', async () => {
    const t = createLifecycleApp();
    const codes = await generateCodes(await verifiedAgent(t));
    const agents = await Promise.all(Array.from({ length: 50 }, () => signIn(t)));
    const answers = await Promise.all(
      agents.map((agent) => json(agent, '/2fa/recovery/verify', { code: codes[0] })),
    );
    const statuses = answers.map((res) => res.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    // The others: refused as busy (429) or, once it was used, as not right (400). None got in.
    expect(statuses.every((s) => s === 200 || s === 400 || s === 429)).toBe(true);
    expect(t.events.filter((e) => e.type === 'recovery.used')).toHaveLength(1);
    expect(t.vault.saved.get(USERS.alice.id)).toHaveLength(9);
    const passed = await Promise.all(
      agents.map((agent) => agent.get('/api/data').set('Accept', 'application/json')),
    );
    expect(passed.filter((res) => res.status === 200)).toHaveLength(1);
  });

  it('two app instances on one store, the app database slower than the lock: still exactly one', async () => {
    // Real time: the lock's TTL must really lapse.
    const clock = { now: () => Date.now(), advance: () => {} };
    const store = memoryStore({ now: clock.now });
    const vault = createVault();
    // save answers late: the per-user lock (8 × storeTimeoutMs = 80 ms) lapses meanwhile and the
    // next request loads the old set; only the store's consumed mark stands between it and a second use.
    const save = vault.options.save;
    vault.options.save = async (userId, hashes) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      await save(userId, hashes);
    };
    const options = { storeTimeoutMs: 10 };
    const a = createLifecycleApp({ clock, store, vault, options });
    const b = createLifecycleApp({ clock, store, vault, options });
    const codes = await a.tfa.recovery.generate(USERS.alice.id);
    const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => signIn(i % 2 ? a : b)));
    const answers: number[] = [];
    await Promise.all(
      agents.map(async (agent, i) => {
        await new Promise((resolve) => setTimeout(resolve, i * 12));
        answers.push((await json(agent, '/2fa/recovery/verify', { code: codes[0] })).status);
      }),
    );
    expect(answers.filter((s) => s === 200)).toHaveLength(1);
    expect([...a.events, ...b.events].filter((e) => e.type === 'recovery.used')).toHaveLength(1);
  });

  it('gives the code back when save fails: 503, and the code still works afterwards', async () => {
    const vault = createVault();
    const save = vault.options.save;
    let down = false;
    vault.options.save = async (userId, hashes) => {
      if (down) throw new Error('database down');
      await save(userId, hashes);
    };
    const t = createLifecycleApp({ vault });
    const codes = await t.tfa.recovery.generate(USERS.alice.id);
    down = true;
    const agent = await signIn(t);
    const refused = await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(503);
    expect(refused.body.error.code).toBe('ERR_2FA_STORE_UNAVAILABLE');
    expect(t.logs.some((line) => line.includes('recovery.save failed'))).toBe(true);
    await agent.get('/api/data').set('Accept', 'application/json').expect(401);
    down = false;
    await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(200);
  });
});

describe('recovery codes: never stored or logged in clear', () => {
  it('the store, the app database, logs and events never hold a code; save gets keyed hashes bound to the user', async () => {
    const clock = createClock();
    const store = recordingStore(clock.now);
    const t = createLifecycleApp({ clock, store });
    const agent = await verifiedAgent(t);
    const codes = await generateCodes(agent);
    const other = await signIn(t);
    await json(other, '/2fa/recovery/verify', { code: 'zzzz-zzzz-zzzz' }).expect(400);
    await json(other, '/2fa/recovery/verify', { code: codes[2] }).expect(200);

    const forms = codes.flatMap((code) => [code, code.replace(/-/g, ''), code.toUpperCase()]);
    const places = [
      ...store.written,
      ...[...t.vault.saved.values()].flat(),
      ...t.vault.saves.flatMap((s) => s.hashes),
      ...t.logs,
      ...t.events.map((e) => JSON.stringify(e)),
      ...t.transport.messages.map((m) => m.text),
    ];
    for (const place of places) for (const form of forms) expect(place).not.toContain(form);
    // Keyed: the same code under another secret, or for another user, is another hash.
    const plain = (codes[0] as string).replace(/-/g, '');
    const saved = t.vault.saves[0]?.hashes ?? [];
    expect(saved).toContain(hashRecoveryCode(SECRET, USERS.alice.id, plain));
    expect(saved).not.toContain(hashRecoveryCode(`${SECRET}-other`, USERS.alice.id, plain));
    expect(saved).not.toContain(hashRecoveryCode(SECRET, USERS.bob.id, plain));
  });

  it("one user's code does not open another user's account", async () => {
    const t = createLifecycleApp();
    const codes = await t.tfa.recovery.generate(USERS.alice.id);
    // Even with alice's hashes copied into bob's record.
    t.vault.saved.set(USERS.bob.id, [...(t.vault.saved.get(USERS.alice.id) ?? [])]);
    const bob = await signIn(t, 'bob');
    await json(bob, '/2fa/recovery/verify', { code: codes[0] }).expect(400);
  });
});

describe('recovery codes: wrong ones count toward the account lockout', () => {
  it('after `threshold` wrong recovery codes the account waits, for recovery codes and SMS codes alike', async () => {
    const t = createLifecycleApp({ options: { lockout: { threshold: 3, baseMs: 60_000 } } });
    const codes = await t.tfa.recovery.generate(USERS.alice.id);
    const agent = await signIn(t);
    for (let i = 0; i < 3; i++) {
      const res = await json(agent, '/2fa/recovery/verify', { code: `aaaa-bbbb-ccc${i}` }).expect(400);
      expect(res.body.error.code).toBe('ERR_2FA_CODE_INVALID');
    }
    expect(t.events.filter((e) => e.type === 'verify.failed').map((e) => e.failures)).toEqual([1, 2, 3]);
    const locked = await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(429);
    expect(locked.body.error.code).toBe('ERR_2FA_LOCKED');
    expect(locked.headers['retry-after']).toBe('60');
    // The same lockout: no SMS either while it lasts.
    const send = await json(agent, '/2fa/send').expect(429);
    expect(send.body.error.code).toBe('ERR_2FA_LOCKED');
    expect(t.vault.saved.get(USERS.alice.id)).toHaveLength(10);
    t.clock.advance(60_000);
    await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(200);
  });

  it('SMS and recovery failures add up to one count, and a hard lock refuses the right recovery code', async () => {
    const t = createLifecycleApp({ options: { lockout: { threshold: 3, baseMs: 0, hardLimit: 4 } } });
    const codes = await t.tfa.recovery.generate(USERS.alice.id);
    const agent = await signIn(t);
    const code = await sendCode(t, agent);
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
    await json(agent, '/2fa/recovery/verify', { code: 'aaaa-bbbb-cccc' }).expect(400);
    await json(agent, '/2fa/recovery/verify', { code: 'aaaa-bbbb-cccd' }).expect(400);
    expect(t.events.filter((e) => e.type === 'user.locked')).toHaveLength(1);
    const locked = await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(429);
    expect(locked.body.error.code).toBe('ERR_2FA_LOCKED');
    await t.tfa.unlock(USERS.alice.id);
    await json(agent, '/2fa/recovery/verify', { code: codes[0] }).expect(200);
  });

  it('a malformed code is refused unevaluated and does not count', async () => {
    const t = createApp({ options: { recovery: createVault().options, lockout: { threshold: 1 } } });
    const agent = await signIn(t);
    await json(agent, '/2fa/recovery/verify', { code: '123' }).expect(400);
    await json(agent, '/2fa/recovery/verify', { code: ['aaaa-bbbb-cccc'] }).expect(400);
    expect(t.events.filter((e) => e.type === 'verify.failed')).toHaveLength(0);
  });
});
