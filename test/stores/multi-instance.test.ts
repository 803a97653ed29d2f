/**
 * Two app processes behind an imaginary load balancer, one database: sessions, challenges, attempt
 * counters, lockouts and send locks are shared, so spreading requests over the instances gains an
 * attacker nothing. The same tests run on every engine, each instance on another client: Redis
 * (node-redis and ioredis), Redis Cluster (node-redis createCluster and ioredis Cluster) and
 * PostgreSQL (pg and postgres.js). On Redis the verify is one script
 * and on PostgreSQL one function call (`verifyAttempt`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SECRET, SESSION_SECRET, USERS } from '../helpers/create-app.js';
import { type Engine, postgresEngine, redisClusterEngine, redisEngine } from '../helpers/instance-engines.js';
import { requirePostgres } from '../helpers/postgres.js';
import { requireRedis } from '../helpers/redis.js';
import { requireRedisCluster } from '../helpers/redis-cluster.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const INSTANCE_SCRIPT = fileURLToPath(new URL('../helpers/instance.ts', import.meta.url));
/** A child starts in about a second; on a loaded 2-core machine it can take far longer. */
const START_TIMEOUT_MS = 45_000;
const ALICE = USERS.alice;

const ENGINES: Engine[] = [
  redisEngine(await requireRedis()),
  redisClusterEngine(await requireRedisCluster()),
  postgresEngine(await requirePostgres()),
];

interface Instance {
  name: string;
  url: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts `test/helpers/instance.ts` as a child process and resolves once it listens. */
function startInstance(name: string, engineEnv: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', INSTANCE_SCRIPT], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...engineEnv,
      TFA_SECRET: SECRET,
      TFA_SESSION_SECRET: SESSION_SECRET,
      TFA_USERS: JSON.stringify(USERS),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stderr?.on('data', keep);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await gone;
  };
  return new Promise<Instance>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`instance ${name} did not listen within ${START_TIMEOUT_MS} ms:\n${log}`));
    }, START_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited (${code ?? signal}) before listening:\n${log}`));
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      keep(chunk);
      stdout += chunk.toString();
      const port = /LISTENING (\d+)/.exec(stdout)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({ name, url: `http://127.0.0.1:${port}`, child, output: () => log, stop });
    });
  });
}

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
  body: any;
  headers: Headers;
  setCookies: string[];
}

/**
 * One browser: a cookie jar shared by every instance (cookies do not care about ports), so a
 * request can go to A and the next to B, as behind a load balancer without sticky sessions.
 */
class Browser {
  readonly jar = new Map<string, string>();

  async request(at: Instance, method: string, path: string, body?: object): Promise<Answer> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.jar.size > 0) {
      headers.cookie = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    if (body) headers['content-type'] = 'application/json';
    const res = await fetch(`${at.url}${path}`, {
      method,
      headers,
      body: body ? JSON.stringify(body) : undefined,
      redirect: 'manual',
    });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some(
        (a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now(),
      );
      if (value === '' || expired) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed, headers: res.headers, setCookies };
  }

  post(at: Instance, path: string, body: object = {}) {
    return this.request(at, 'POST', path, body);
  }

  get(at: Instance, path: string) {
    return this.request(at, 'GET', path);
  }
}

/** The signed verified cookie `2fa=…` (not the challenge cookie `2fa-challenge=…`). */
const setsVerifiedCookie = (answer: Answer) => answer.setCookies.some((c) => /^2fa=[^;]+/.test(c));
const wrongCode = (code: string) => code.replace(/\d$/, (d) => String((Number(d) + 1) % 10));

for (const engine of ENGINES) {
  describe.skipIf(!engine.up)(`two app instances sharing one ${engine.name}`, () => {
    let a: Instance;
    let b: Instance;

    beforeAll(async () => {
      await engine.setUp();
      const [startedA, startedB] = await Promise.allSettled([
        startInstance('A', engine.env[0]),
        startInstance('B', engine.env[1]),
      ]);
      if (startedA.status === 'fulfilled') a = startedA.value;
      if (startedB.status === 'fulfilled') b = startedB.value;
      if (startedA.status === 'rejected') throw startedA.reason;
      if (startedB.status === 'rejected') throw startedB.reason;
    }, START_TIMEOUT_MS + 5_000);

    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await engine.tearDown();
    });

    beforeEach(async () => {
      await engine.reset();
      await Promise.all([a, b].map((at) => fetch(`${at.url}/__test/reset`, { method: 'POST' })));
    });

    async function signIn(at: Instance): Promise<Browser> {
      const browser = new Browser();
      const res = await fetch(`${at.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: ALICE.password }),
      });
      expect(res.status, 'login').toBe(200);
      // express-session sends the headers before its store has saved the new session and ends the
      // body after: a request sent on the headers alone can race the save (and lose, on a slow store).
      expect(await res.text()).toBe('ok');
      for (const line of res.headers.getSetCookie()) {
        const pair = line.split(';')[0] ?? '';
        browser.jar.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
      }
      return browser;
    }

    /** What `at`'s memory transport recorded for alice: the newest code and how many messages. */
    async function outbox(at: Instance): Promise<{ code: string | null; sent: number }> {
      const res = await fetch(`${at.url}/__test/last-code?phone=${encodeURIComponent(ALICE.phone)}`);
      return (await res.json()) as { code: string | null; sent: number };
    }

    async function sendCode(browser: Browser, at: Instance): Promise<string> {
      const sent = await browser.post(at, '/2fa/send');
      expect(sent.status, JSON.stringify(sent.body)).toBe(200);
      const { code } = await outbox(at);
      if (!code) throw new Error(`instance ${at.name} recorded no code`);
      return code;
    }

    describe('a challenge started on instance A', () => {
      it('verifies on instance B, and the verified browser passes the guard on both', async () => {
        const browser = await signIn(a);
        const code = await sendCode(browser, a);

        // B sees A's challenge and A's login session.
        const status = await browser.get(b, '/2fa/status');
        expect(status.status).toBe(200);
        expect(status.body).toMatchObject({ status: 'sent', attemptsLeft: 5 });
        expect((await browser.get(b, '/account')).status).toBe(401);

        const verified = await browser.post(b, '/2fa/verify', { code });
        expect(verified.status, JSON.stringify(verified.body)).toBe(200);
        expect(verified.body).toEqual({ verified: true, returnTo: '/' });
        expect(setsVerifiedCookie(verified)).toBe(true);

        for (const at of [a, b]) {
          const account = await browser.get(at, '/account');
          expect(account.status, `guard on ${at.name}`).toBe(200);
          expect(account.body).toBe(`account of ${ALICE.id} via sms`);
        }
        // Single use holds across instances: the code is gone on A too.
        const replay = await browser.post(a, '/2fa/verify', { code });
        expect(replay.status).toBe(409);
        expect(replay.body.error.code).toBe('ERR_2FA_NO_CHALLENGE');
      });
    });

    describe('when 50 wrong codes arrive in parallel, spread over both instances', () => {
      /** Refused unevaluated: the challenge is burnt, the account is in its delay, or another check
       * of the account is running (one at a time per account). */
      const REFUSALS = ['ERR_2FA_TOO_MANY_ATTEMPTS', 'ERR_2FA_LOCKED', 'ERR_2FA_COOLDOWN'];

      async function guessInParallel(browser: Browser, code: string, count: number): Promise<Answer[]> {
        const answers = await Promise.all(
          Array.from({ length: count }, (_, i) =>
            browser.post(i % 2 === 0 ? a : b, '/2fa/verify', { code: wrongCode(code) }),
          ),
        );
        for (const r of answers.filter((x) => x.status === 429))
          expect(REFUSALS).toContain(r.body.error.code);
        expect(answers.some(setsVerifiedCookie)).toBe(false);
        return answers;
      }
      const evaluated = (answers: Answer[]) =>
        answers.filter((r) => r.status === 400 && r.body.error?.code === 'ERR_2FA_CODE_INVALID');

      it('evaluates at most maxAttempts (5) of them and refuses the rest with 429', async () => {
        const browser = await signIn(a);
        const code = await sendCode(browser, a);
        const burst = await guessInParallel(browser, code, 50);
        const invalid = evaluated(burst);
        expect(invalid.length).toBeGreaterThanOrEqual(1);
        expect(invalid.length).toBeLessThanOrEqual(5);
        expect(invalid.length + burst.filter((r) => r.status === 429).length).toBe(50);

        // How many of the burst get evaluated depends on timing (the others are refused while one
        // check runs). Keep guessing in parallel waves until the attempts are spent: the total never
        // passes 5, whatever the interleaving.
        for (let wave = 0; wave < 20 && invalid.length < 5; wave++) {
          invalid.push(...evaluated(await guessInParallel(browser, code, 10)));
          expect(invalid.length).toBeLessThanOrEqual(5);
        }
        expect(invalid).toHaveLength(5);
        // Each evaluated guess saw its own count: no two instances read the same attemptsLeft.
        const left = invalid.map((r) => r.body.error.attemptsLeft as number);
        expect(new Set(left).size).toBe(5);

        // The attempts are spent: more guesses are refused unevaluated, and so is the right code.
        expect(evaluated(await guessInParallel(browser, code, 10))).toHaveLength(0);
        for (const at of [a, b]) {
          const late = await browser.post(at, '/2fa/verify', { code });
          expect(late.status, `right code on ${at.name}`).toBe(429);
          expect(setsVerifiedCookie(late)).toBe(false);
        }
      });
    });

    describe('when 50 right codes arrive in parallel, spread over both instances', () => {
      it('verifies exactly one of them, with exactly one verified cookie', async () => {
        const browser = await signIn(a);
        const code = await sendCode(browser, a);
        const answers = await Promise.all(
          Array.from({ length: 50 }, (_, i) => browser.post(i % 2 === 0 ? a : b, '/2fa/verify', { code })),
        );
        const ok = answers.filter((r) => r.status === 200);
        expect(ok).toHaveLength(1);
        expect(answers.filter(setsVerifiedCookie)).toHaveLength(1);
        expect(setsVerifiedCookie(ok[0] as Answer)).toBe(true);
        for (const r of answers.filter((x) => x.status !== 200)) {
          expect(['ERR_2FA_NO_CHALLENGE', 'ERR_2FA_TOO_MANY_ATTEMPTS', 'ERR_2FA_COOLDOWN']).toContain(
            r.body.error.code,
          );
        }
      });
    });

    describe('when the account collects failures on instance A', () => {
      it('is delayed on instance B too: no new code there, not in a new login either', async () => {
        const browser = await signIn(a);
        const first = await sendCode(browser, a);
        for (let i = 0; i < 5; i++) {
          const wrong = await browser.post(a, '/2fa/verify', { code: wrongCode(first) });
          expect(wrong.status).toBe(400);
        }

        // The challenge is burnt, and B sends no new code while the account is in its delay:
        // it could not be checked anyway.
        const refused = await browser.post(b, '/2fa/send');
        expect(refused.status).toBe(429);
        expect(refused.body.error.code).toBe('ERR_2FA_LOCKED');
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(setsVerifiedCookie(refused)).toBe(false);

        // A new session on B does not reset the account counter either.
        const again = await signIn(b);
        const stillLocked = await again.post(b, '/2fa/send');
        expect(stillLocked.status).toBe(429);
        expect(stillLocked.body.error.code).toBe('ERR_2FA_LOCKED');
        const [fromA, fromB] = await Promise.all([outbox(a), outbox(b)]);
        expect(fromA.sent + fromB.sent).toBe(1);
        expect((await again.get(a, '/account')).status).toBe(401);
      });
    });

    describe('when the same browser asks both instances to send at once', () => {
      it('sends one SMS', async () => {
        const browser = await signIn(a);
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) => browser.post(i % 2 === 0 ? a : b, '/2fa/send')),
        );
        for (const r of answers) {
          if (r.status === 200) continue;
          expect(r.status, JSON.stringify(r.body)).toBe(429);
          expect(['ERR_2FA_COOLDOWN', 'ERR_2FA_RATE_LIMITED']).toContain(r.body.error.code);
        }
        const [fromA, fromB] = await Promise.all([outbox(a), outbox(b)]);
        expect(fromA.sent + fromB.sent).toBe(1);
      });
    });
  });
}
