/**
 * Parts for the integration matrix: small real apps, each wired the way its README recipe or a
 * common stack wires it (session, passport, CSRF middleware, helmet, body parsers, routers,
 * proxies, htmx), built per test, with every response captured for the suite's leak scan.
 */
import session from 'express-session';
import express417 from 'express417';
import request from 'supertest';
import type { TwoFactorEvent } from '../../../src/events.js';
import type { TwoFactorOptions } from '../../../src/options.js';
import { type MemoryTransport, memoryTransport } from '../../../src/transports/memory.js';
import { type TwoFactor, twoFactor } from '../../../src/two-factor.js';
import { type CapturedResponse, captureResponses } from '../../helpers/capture.js';
import {
  createdApps,
  EXPRESS_VERSIONS,
  type ExpressModule,
  SECRET,
  SESSION_SECRET,
  USERS,
} from '../../helpers/create-app.js';

/** The lowest Express the package claims (the peer range), the latest 4 and 5. */
export const EXPRESS_MATRIX = [
  ['Express 4.17', express417 as unknown as ExpressModule],
  ...EXPRESS_VERSIONS,
] as const;

export type App = ReturnType<ExpressModule>;

export interface MatrixApp {
  app: App;
  tfa: TwoFactor;
  transport: MemoryTransport;
  events: TwoFactorEvent[];
  logs: string[];
  phones: Map<string, string>;
  responses: CapturedResponse[];
  sentTexts: () => string[];
}

export interface Parts {
  app: App;
  express: ExpressModule;
  tfa: TwoFactor;
  /** express-session, as most apps configure it. */
  session: ReturnType<typeof session>;
  /** `POST /login` (form): the app's own first factor, setting `req.session.user`. */
  login: (app: App) => void;
}

/**
 * An app built by `wire`, which mounts the parts in the order under test. `tfa` reads the user
 * from the session unless `options.getUser` says otherwise.
 */
export function matrixApp(
  express: ExpressModule,
  wire: (parts: Parts) => void,
  options: Partial<TwoFactorOptions> = {},
  /** Texts sent through another transport (the fake Smstools), for the leak scan. */
  otherTexts: () => string[] = () => [],
): MatrixApp {
  const app = express();
  const responses = captureResponses(app as unknown as Parameters<typeof captureResponses>[0]);
  const transport = memoryTransport();
  const events: TwoFactorEvent[] = [];
  const logs: string[] = [];
  const phones = new Map<string, string>(Object.values(USERS).map((u) => [u.id, u.phone]));
  const tfa = twoFactor({
    secret: SECRET,
    getUser: (req) => {
      const user = (req as { session?: { user?: { id: string } } }).session?.user;
      return user ? { id: user.id, phone: phones.get(user.id) ?? null, sessionId: req.sessionID } : null;
    },
    transport,
    allowedCountries: ['BE', 'NL'],
    onEvent: (event) => events.push(event),
    logger: { warn: (m) => logs.push(m), error: (m) => logs.push(m) },
    ...options,
  });
  const parts: Parts = {
    app,
    express,
    tfa,
    session: session({ secret: SESSION_SECRET, resave: false, saveUninitialized: false }),
    login: (target) =>
      target.post('/login', express.urlencoded({ extended: false }), (req, res, next) => {
        const { username } = req.body as { username?: string };
        const user = Object.values(USERS).find((u) => u.id === `u-${username}`);
        if (!user) {
          res.status(401).send('bad login');
          return;
        }
        req.session.regenerate((err) => {
          if (err) return next(err);
          req.session.user = { id: user.id, phone: user.phone };
          res.status(200).send('ok');
        });
      }),
  };
  wire(parts);
  const built: MatrixApp = {
    app,
    tfa,
    transport,
    events,
    logs,
    phones,
    responses,
    sentTexts: () => [...transport.messages.map((m) => m.text), ...otherTexts()],
  };
  createdApps.push({ ...built, store: undefined as never, clock: undefined as never, versions: new Map() });
  return built;
}

export type Agent = ReturnType<typeof request.agent>;

export async function signInAs(t: MatrixApp, username = 'alice', path = '/login'): Promise<Agent> {
  const agent = request.agent(t.app);
  await agent.post(path).type('form').send({ username, password: 'pw' }).expect(200);
  return agent;
}

/** The page's data block, as the enhancement script reads it. */
export function pageData(
  html: string,
): { csrf: string | null; paths: Record<string, string> } & Record<string, unknown> {
  const json = html.match(/<script type="application\/json" id="tfa-data"[^>]*>([^<]*)<\/script>/)?.[1];
  if (!json) throw new Error('no tfa-data block on the page');
  return JSON.parse(json);
}

/** Every hidden field of the form with this id. */
export function formFields(html: string, formId: string): Record<string, string> {
  const form = html.match(new RegExp(`<form [^>]*id="${formId}"[^>]*>([\\s\\S]*?)</form>`))?.[1] ?? '';
  const fields: Record<string, string> = {};
  for (const [, name, value] of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
    fields[name as string] = (value as string).replace(/&amp;/g, '&').replace(/&quot;/g, '"');
  return fields;
}

/** What the page's script does with JavaScript on: JSON posts carrying the host's CSRF token headers. */
export function scriptPost(agent: Agent, path: string, csrf: string | null, body: object = {}) {
  const req = agent.post(path).set('Content-Type', 'application/json').set('Accept', 'application/json');
  if (csrf) req.set('X-CSRF-Token', csrf).set('CSRF-Token', csrf);
  return req.send(JSON.stringify(body));
}

/** The code the memory transport sent to alice. */
export const codeOf = (t: MatrixApp, username: keyof typeof USERS = 'alice') =>
  t.transport.lastCode(USERS[username].phone) ?? '';

/**
 * The whole flow the way the page drives it with JavaScript: open the guarded page, follow the
 * redirect to the challenge page, send, verify, land back on `returnTo`.
 */
export async function scriptFlow(t: MatrixApp, agent: Agent, guarded = '/account') {
  const redirect = await agent.get(guarded).set('Accept', 'text/html').expect(303);
  const page = await agent
    .get(redirect.headers.location as string)
    .set('Accept', 'text/html')
    .expect(200);
  const data = pageData(page.text);
  const sent = await scriptPost(agent, data.paths.send as string, data.csrf, { returnTo: data.returnTo });
  if (sent.status !== 200) throw new Error(`send answered ${sent.status}: ${sent.text.slice(0, 200)}`);
  const verified = await scriptPost(agent, data.paths.verify as string, data.csrf, { code: codeOf(t) });
  if (verified.status !== 200)
    throw new Error(`verify answered ${verified.status}: ${verified.text.slice(0, 200)}`);
  await agent.get(verified.body.returnTo).expect(200);
  return { page, data, verified };
}

/** The same flow with JavaScript off: plain form posts and 303 redirects. */
export async function formFlow(t: MatrixApp, agent: Agent, guarded = '/account') {
  const redirect = await agent.get(guarded).set('Accept', 'text/html').expect(303);
  const pageUrl = redirect.headers.location as string;
  const page = await agent.get(pageUrl).set('Accept', 'text/html').expect(200);
  // One form; "Text me a code" posts it to its own route.
  const sendAction = page.text.match(/id="tfa-send" formaction="([^"]+)"/)?.[1] ?? '';
  const sent = await agent
    .post(sendAction)
    .type('form')
    .set('Accept', 'text/html')
    .send(formFields(page.text, 'tfa-form'));
  if (sent.status !== 303) throw new Error(`send answered ${sent.status}: ${sent.text.slice(0, 200)}`);
  const again = await agent
    .get(sent.headers.location as string)
    .set('Accept', 'text/html')
    .expect(200);
  const verifyAction = again.text.match(/<form method="post" action="([^"]+)" id="tfa-form"/)?.[1] ?? '';
  const verified = await agent
    .post(verifyAction)
    .type('form')
    .set('Accept', 'text/html')
    .send({ ...formFields(again.text, 'tfa-form'), code: codeOf(t) });
  if (verified.status !== 303)
    throw new Error(`verify answered ${verified.status}: ${verified.text.slice(0, 200)}`);
  await agent.get(verified.headers.location as string).expect(200);
  return { page, verified };
}
