/**
 * whatever happens (the whole flow, wrong codes, lockout, resends, calls, provider and
 * store failures), no issued code, full number, client secret, cookie secret or cookie value reaches
 * a log line, the console, a process warning, an event or a response. findLeaks does the scanning.
 */
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TwoFactorError } from '../../src/errors.js';
import { memoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { startFakeSmstools } from '../../src/testing/fake-smstools.js';
import type { FakeSmstoolsFailure } from '../../src/testing/fake-smstools-types.js';
import { smstools } from '../../src/transports/smstools.js';
import {
  type Agent,
  type CreateAppOptions,
  createApp,
  json,
  SECRET,
  sendCode,
  signIn,
  type TestApp,
  USERS,
  wrongCode,
} from '../helpers/create-app.js';
import { appWith, type Behaviour, codeOf, fakeTransport, rejects } from '../helpers/faults.js';
import { findLeaks, safeStringify } from '../helpers/leaks.js';

const CLIENT_SECRET = 'cs_live_log_hygiene_5f4e3d2c1b';

/** Everything that left the process's mouth: console, stdout/stderr writes, process warnings. */
let captured: string[] = [];
const onWarning = (warning: Error) => captured.push(`${warning.name}: ${warning.message}`);

beforeEach(() => {
  captured = [];
  for (const name of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    vi.spyOn(console, name).mockImplementation((...args: unknown[]) => {
      captured.push(args.map((a) => (typeof a === 'string' ? a : safeStringify(a))).join(' '));
    });
  }
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, 'write').mockImplementation(((chunk: unknown, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write);
  }
  process.on('warning', onWarning);
});

afterEach(() => {
  process.off('warning', onWarning);
  vi.restoreAllMocks();
});

/** The app's own logger, or the default one (console.error / process.emitWarning) when `console`. */
function hygieneApp(logger: 'capturing' | 'console', opts: CreateAppOptions = {}): TestApp {
  const options = logger === 'console' ? { logger: undefined, ...opts.options } : opts.options;
  return createApp({ ...opts, options });
}

/** The scan over every app of the test, and everything captured; plus the provider's client secret. */
async function expectNoLeaks(apps: TestApp[]): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve)); // late warnings are emitted on nextTick
  expect(findLeaks(apps, captured)).toEqual([]);
  const everything = [
    ...captured,
    ...apps.flatMap((t) => [...t.logs, ...t.events.map(safeStringify), ...t.responses.map(safeStringify)]),
  ];
  for (const text of everything) expect(text).not.toContain(CLIENT_SECRET);
}

/** Login, guard, send, status, page, wrong code, resend, voice, right code, guard, logout. */
async function wholeFlow(t: TestApp, agent: Agent): Promise<void> {
  await agent.get('/account').set('Accept', 'text/html').expect(303);
  const code = await sendCode(t, agent);
  await agent.get('/2fa/status').expect(200);
  await agent.get('/2fa').set('Accept', 'text/html').expect(200);
  await json(agent, '/2fa/verify', { code: wrongCode(code) }).expect(400);
  await json(agent, '/2fa/verify', { code: `${code}0` }).expect(400);
  t.clock.advance(30_000);
  await json(agent, '/2fa/resend').expect(200);
  await json(agent, '/2fa/voice').expect(200);
  await json(agent, '/2fa/verify', { code }).expect(200);
  await agent.get('/api/data').expect(200);
  await agent.post('/logout').expect(200);
}

describe.each(['capturing', 'console'] as const)('with the %s logger', (logger) => {
  it('leaks nothing over the whole flow, JSON and form', async () => {
    const t = hygieneApp(logger);
    await wholeFlow(t, await signIn(t));
    const agent = await signIn(t, 'carol');
    const page = await agent.get('/2fa').set('Accept', 'text/html');
    const csrf = page.text.match(/name="tfa_csrf" value="([^"]+)"/)?.[1] ?? '';
    await agent
      .post('/2fa/send')
      .type('form')
      .set('Accept', 'text/html')
      .send({ tfa_csrf: csrf })
      .expect(303);
    const code = t.transport.lastCode(USERS.carol.phone) ?? '';
    await agent
      .post('/2fa/verify')
      .type('form')
      .set('Accept', 'text/html')
      .send({ tfa_csrf: csrf, code })
      .expect(303);
    await agent.get('/account').expect(200);
    await expectNoLeaks([t]);
  });

  it('leaks nothing through wrong codes, a burnt challenge, the lockout and the hard lock', async () => {
    const t = hygieneApp(logger, {
      options: { lockout: { threshold: 3, baseMs: 1_000, hardLimit: 7 }, limits: { phonePerHour: 100 } },
    });
    const agent = await signIn(t);
    for (let round = 0; round < 2; round++) {
      const code = await sendCode(t, agent);
      for (let i = 0; i < 5; i++) {
        await json(agent, '/2fa/verify', { code: wrongCode(code) });
        t.clock.advance(64_000);
      }
    }
    expect(t.events.map((e) => e.type)).toContain('user.locked');
    await json(agent, '/2fa/send').expect(429);
    await expectNoLeaks([t]);
  });

  it('leaks nothing while budgets and the allow-list block sends', async () => {
    const t = hygieneApp(logger, { options: { limits: { phonePerHour: 1 } } });
    await sendCode(t, await signIn(t));
    await json(await signIn(t), '/2fa/send').expect(429);
    await json(await signIn(t, 'dave'), '/2fa/send').expect(422);
    await expectNoLeaks([t]);
  });
});

describe('provider failures whose errors carry the number and the code', () => {
  /** An error the way a careless HTTP client builds one: the request and the answer inside it. */
  const noisyError: (msg: { to: string; text: string }) => Error = ({ to, text }) =>
    Object.assign(new Error(`POST /send to ${to} failed: "${text}" (client secret ${CLIENT_SECRET})`), {
      request: { to, text, headers: { 'X-Client-Secret': CLIENT_SECRET } },
      response: { status: 400, body: { error: '106', errorMsg: `Invalid number ${to}` } },
      cause: new Error(`upstream refused ${to.slice(1)}`),
    });

  const CASES: [string, Behaviour][] = [
    ['an Error', rejects(noisyError)],
    [
      'a TwoFactorError wrapping it',
      rejects((msg) => new TwoFactorError('ERR_2FA_SEND_FAILED', { cause: noisyError(msg) })),
    ],
  ];

  describe.each(['capturing', 'console'] as const)('with the %s logger', (logger) => {
    it.each(CASES)(
      'never logs %s raw: SMS, automatic call, resend and voice failures',
      async (_name, fail) => {
        // The SMS refused for this number (so voice.auto calls), then the call failing as well.
        const refused: Behaviour = async (msg) => {
          const error = (await Promise.resolve(fail(msg)).catch((e: unknown) => e)) as { cause: object };
          Object.assign(error.cause, { destinationRefused: true });
          throw error;
        };
        const transport = fakeTransport({ sms: refused, voice: fail });
        const t = appWith(transport, { options: logger === 'console' ? { logger: undefined } : {} });
        const agent = await signIn(t);
        await json(agent, '/2fa/send').expect(200);
        await vi.waitFor(async () =>
          expect((await agent.get('/2fa/status')).body).toMatchObject({ status: 'undelivered' }),
        );
        transport.behave.sms = () => Promise.resolve({ id: 'ok-1' });
        t.clock.advance(30_000);
        await json(agent, '/2fa/resend').expect(200);
        transport.behave.sms = fail;
        t.clock.advance(60_000);
        await json(agent, '/2fa/resend').expect(503);
        await json(agent, '/2fa/voice').expect(503);
        expect(t.events.filter((e) => e.type === 'code.send_failed')).toHaveLength(4);
        expect(t.logs.length + captured.length).toBeGreaterThan(0);
        await json(agent, '/2fa/verify', { code: codeOf(transport.calls[2]) }).expect(200);
        await expectNoLeaks([t]);
      },
    );
  });

  // Regression test for a fixed bug (src/delivery.ts, failureKind/providerCode): the core copies `error.cause.kind` and
  // `error.cause.providerCode` verbatim into the log line and into code.send_failed. A transport
  // whose error fields hold provider text (here the number and the code) leaks them. smstools()
  // sets safe values, but the core should not trust a custom transport's strings.
  it('never copies provider text from the error cause into logs and events', async () => {
    const transport = fakeTransport({
      sms: rejects(
        ({ to, text }) =>
          new TwoFactorError('ERR_2FA_SEND_FAILED', {
            cause: { kind: `rejected ${to}`, providerCode: text.match(/\d{6}/)?.[0] },
          }),
      ),
      voice: false,
    });
    const t = appWith(transport);
    await json(await signIn(t), '/2fa/send').expect(503);
    const leaks = findLeaks([t], captured);
    t.logs.length = 0; // keep the suite-wide scan from failing this expected failure twice
    t.events.length = 0;
    expect(leaks).toEqual([]);
  });
});

describe('the Smstools transport failing against the fake server', () => {
  const FAILURES: FakeSmstoolsFailure[] = [
    { error: '106', errorMsg: `Invalid number ${USERS.alice.phone} (${USERS.alice.phone.slice(1)})` },
    { error: '108', errorMsg: 'No credits' },
    { error: '104', status: 401, errorMsg: `bad secret ${CLIENT_SECRET}` },
    'html-5xx',
    'invalid-json',
    'no-messageid',
    '429',
    'reset',
  ];

  it.each(FAILURES)('leaks nothing when Smstools answers %o', async (failure) => {
    const fake = await startFakeSmstools({ clientId: 'client-7', clientSecret: CLIENT_SECRET });
    try {
      const t = createApp({
        transport: smstools({ ...fake.transportOptions(), sender: 'Acme' }),
        sentTexts: () => fake.requests.map((r) => String((r.body as { message?: unknown })?.message ?? '')),
        options: { logger: undefined },
      });
      fake.failNext(failure, 2); // the SMS and the automatic call
      const agent = await signIn(t);
      const res = await json(agent, '/2fa/send');
      expect([200, 503]).toContain(res.status);
      expect(fake.requests.length).toBeGreaterThan(0);
      if (res.status === 503)
        expect(captured.join('\n')).toMatch(/express-sms-2fa: sms send to \+32 4•• •• •• 01 failed/);
      await expectNoLeaks([t]);
    } finally {
      await fake.close();
    }
  });
});

describe('store failures whose errors carry keys and values', () => {
  it('never logs or answers the store error', async () => {
    const inner = memoryStore();
    const store: Store = {
      ...inner,
      set: async (key, value) => {
        throw new Error(`SET ${key} ${value} failed on redis://:${SECRET}@cache:6379`);
      },
    };
    const t = createApp({ store, options: { logger: undefined } });
    const agent = await signIn(t);
    const res = await json(agent, '/2fa/send').expect(503);
    expect(res.body.error.code).toBe('ERR_2FA_STORE_UNAVAILABLE');
    await expectNoLeaks([t]);
  });
});

describe('the webhook voice fallback failing in the background', () => {
  it('logs only the error code', async () => {
    const transport = Object.assign(
      fakeTransport({ sms: () => Promise.resolve({ id: 'm-1' }), voice: rejects(noisy) }),
      { parseDeliveryReport: ({ rawBody }: { rawBody: Buffer }) => JSON.parse(rawBody.toString()) },
    );
    const t = appWith(transport, { options: { logger: undefined } });
    await json(await signIn(t), '/2fa/send').expect(200);
    await request(t.app)
      .post('/2fa/webhooks/smstools')
      .set('Content-Type', 'application/json')
      .set('X-Smstools-Signature', 's-1')
      .send(JSON.stringify({ messageId: 'm-1', status: 'undelivered' }))
      .expect(204);
    await vi.waitFor(() =>
      expect(captured.join('\n')).toMatch(/voice fallback failed \(ERR_2FA_SEND_FAILED\)/),
    );
    await expectNoLeaks([t]);
  });

  function noisy({ to, text }: { to: string; text: string }) {
    return new Error(`call to ${to} reading "${text}" failed`);
  }
});

describe('the production warning', () => {
  it('names no secret', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    try {
      hygieneApp('console');
    } finally {
      vi.unstubAllEnvs();
    }
    await expectNoLeaks([]);
    expect(captured.join('\n')).toMatch(/memory store/);
  });
});
