// isHttps (src/request-scheme.ts) against Express's own `req.secure`, on real requests over real
// sockets: every `trust proxy` form, X-Forwarded-Proto values, HTTP and HTTPS, mounted sub-apps.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Request, Response } from 'express';
import express5 from 'express';
import express417 from 'express417';
import { afterAll, describe, expect, it } from 'vitest';
import { isHttps } from '../../src/request-scheme.js';
import { EXPRESS_VERSIONS, type ExpressModule } from '../helpers/create-app.js';

const VERSIONS = [['Express 4.17', express417 as unknown as ExpressModule], ...EXPRESS_VERSIONS] as const;

// HTTPS without a certificate in the repository: TLS 1.2 with a pre-shared key.
const PSK = Buffer.from('request-scheme-test-psk-01234567');
const TLS = { ciphers: 'PSK-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' } as const;
/** The client's side (Node's https.request takes tls.connect's options; its types omit these). */
const PSK_CLIENT = {
  ...TLS,
  checkServerIdentity: () => undefined,
  pskCallback: () => ({ psk: PSK, identity: 'test' }),
} as https.RequestOptions;

type Trust = ((address: string | undefined, hop: number) => unknown) | boolean | number | string | string[];

/** Every form `app.set('trust proxy', …)` takes, and an app that never sets it. */
const SETTINGS: [string, Trust | undefined][] = [
  ['unset', undefined],
  ['false', false],
  ['true', true],
  ['0 hops', 0],
  ['1 hop', 1],
  ['2 hops', 2],
  ["'loopback'", 'loopback'],
  ["'127.0.0.1'", '127.0.0.1'],
  ["'10.0.0.1' (not the peer)", '10.0.0.1'],
  ["'10.0.0.1, 127.0.0.1'", '10.0.0.1, 127.0.0.1'],
  ["'127.0.0.0/8'", '127.0.0.0/8'],
  ["['uniquelocal', 'linklocal']", ['uniquelocal', 'linklocal']],
  ["['loopback', '10.0.0.0/8']", ['loopback', '10.0.0.0/8']],
  ['a function: loopback, first hop', (address, hop) => address === '127.0.0.1' && hop === 0],
  ['a function: always', () => true],
  ['a function: never', () => false],
  ['a function: truthy non-boolean', () => 'yes'],
  ['a function: undefined', () => undefined],
];

/** X-Forwarded-Proto as sent (an array is the header sent twice; Node joins it with ", "). */
const PROTOS: (string | string[] | undefined)[] = [
  undefined,
  'https',
  'http',
  'HTTPS',
  ' https ',
  'https, http',
  'http, https',
  'https,http',
  '',
  ',https',
  'https ,',
  'wss',
  ['https', 'http'],
  ['http', 'https'],
];

interface Answer {
  express: boolean;
  ours: boolean;
  /** The trust function's arguments while each computed its answer (a custom function only). */
  expressCalls: unknown[][];
  oursCalls: unknown[][];
}

const servers: (http.Server | https.Server)[] = [];
afterAll(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

/** An app answering, on `path`, isHttps and Express's `req.secure` of the same request. */
function answering(express: ExpressModule, trust: Trust | undefined, mount: 'app' | 'child' | 'both') {
  const app = express();
  const calls: unknown[][] = [];
  const recorded =
    typeof trust === 'function'
      ? (address: string | undefined, hop: number) => {
          calls.push([address, hop]);
          return trust(address, hop);
        }
      : trust;
  const route = (req: Request, res: Response) => {
    calls.length = 0;
    const ours = isHttps(req);
    const oursCalls = calls.splice(0);
    const secure = req.secure;
    res.json({ express: secure, ours, expressCalls: calls.splice(0), oursCalls } satisfies Answer);
  };
  if (mount === 'app') {
    if (recorded !== undefined) app.set('trust proxy', recorded);
    app.get('/', route);
    return app;
  }
  // A mounted sub-app inherits the parent's settings, or overrides them with its own.
  const child = express();
  child.get('/', route);
  if (recorded !== undefined) app.set('trust proxy', recorded);
  if (mount === 'both') child.set('trust proxy', false);
  app.use('/child', child);
  return app;
}

async function listen(app: http.RequestListener, tls: boolean) {
  const server = tls ? https.createServer({ ...TLS, pskCallback: () => PSK }, app) : http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function get(server: http.Server, tls: boolean, path: string, proto: string | string[] | undefined) {
  const headers = proto === undefined ? {} : { 'x-forwarded-proto': proto };
  const { port } = server.address() as AddressInfo;
  const options = { host: '127.0.0.1', port, path, headers };
  return new Promise<Answer>((resolve, reject) => {
    const done = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () =>
        res.statusCode === 200 ? resolve(JSON.parse(body) as Answer) : reject(new Error(`${res.statusCode}`)),
      );
    };
    const req = tls ? https.request({ ...options, ...PSK_CLIENT }, done) : http.request(options, done);
    req.on('error', reject);
    req.end();
  });
}

describe.each(VERSIONS)('isHttps equals req.secure on %s', (_name, express) => {
  for (const tls of [false, true]) {
    for (const mount of ['app', 'child', 'both'] as const) {
      it.each(SETTINGS)(`${tls ? 'HTTPS' : 'HTTP'}, ${mount}: trust proxy %s`, async (_label, trust) => {
        const server = await listen(answering(express, trust, mount), tls);
        const path = mount === 'app' ? '/' : '/child/';
        for (const proto of PROTOS) {
          const answer = await get(server, tls, path, proto);
          expect({ proto, ours: answer.ours }).toEqual({ proto, ours: answer.express });
          expect(answer.oursCalls).toEqual(answer.expressCalls);
        }
        server.closeAllConnections();
        server.close();
      });
    }
  }

  it.each(['secure', 'protocol'])('follows `%s` redefined on the app’s request prototype', async (name) => {
    // An app behind TLS that says so with its own getter instead of `trust proxy`.
    const app = answering(express, undefined, 'app');
    Object.defineProperty(app.request, name, {
      configurable: true,
      get: name === 'secure' ? () => true : () => 'https',
    });
    const server = await listen(app, false);
    expect(await get(server, false, '/', undefined)).toMatchObject({ ours: true, express: true });
  });

  it.each(['app.request', 'the request'])(
    'asks an app’s own `req.get` (on %s) for X-Forwarded-Proto behind a trusted proxy, as Express does',
    async (where) => {
      // A proxy that terminates TLS for every request and says so its own way: the app's `get`
      // answers https for X-Forwarded-Proto whatever the header says.
      function ownGet(this: Request, name: string) {
        const lower = name.toLowerCase();
        return lower === 'x-forwarded-proto' ? 'https' : this.headers[lower];
      }
      const app = express();
      app.set('trust proxy', (address: string | undefined) => address === '127.0.0.1');
      if (where === 'app.request') {
        Object.defineProperty(app.request, 'get', { configurable: true, writable: true, value: ownGet });
      } else {
        app.use((req, _res, next) => {
          (req as { get: unknown }).get = ownGet;
          next();
        });
      }
      app.get('/', (req: Request, res: Response) => {
        const ours = isHttps(req);
        res.json({ ours, express: req.secure });
      });
      const server = await listen(app, false);
      for (const proto of PROTOS) {
        expect({ proto, ...(await get(server, false, '/', proto)) }).toEqual({
          proto,
          ours: true,
          express: true,
        });
      }
    },
  );

  it("asks a `get` put on the request prototype Express's getters live on (a library replacing it for every app)", async () => {
    // A library may replace express.request.get itself (the object Express's getters are defined
    // on): Express's `req.protocol` calls the replacement, so must we.
    const shared = Object.getPrototypeOf(express().request) as { get: unknown };
    const original = shared.get;
    shared.get = function (this: Request, name: string) {
      return name.toLowerCase() === 'x-forwarded-proto' ? 'http' : this.headers[name.toLowerCase()];
    };
    try {
      const app = express();
      app.set('trust proxy', (address: string | undefined) => address === '127.0.0.1');
      app.get('/', (req: Request, res: Response) => {
        res.json({ ours: isHttps(req), express: req.secure });
      });
      const server = await listen(app, false);
      expect(await get(server, false, '/', 'https')).toEqual({ ours: false, express: false });
    } finally {
      shared.get = original;
    }
  });

  it('sees the answer change when the app changes trust proxy while running', async () => {
    const app = answering(express, undefined, 'app');
    const server = await listen(app, false);
    expect((await get(server, false, '/', 'https')).ours).toBe(false);
    app.set('trust proxy', true);
    expect(await get(server, false, '/', 'https')).toMatchObject({ ours: true, express: true });
    app.set('trust proxy', false);
    expect(await get(server, false, '/', 'https')).toMatchObject({ ours: false, express: false });
  });
});

describe('isHttps outside Express', () => {
  it("reads a request's own `secure`: a plain object counts as HTTPS only with secure: true", () => {
    expect(isHttps({ headers: {}, secure: true } as unknown as Request)).toBe(true);
    expect(isHttps({ headers: {}, secure: false } as unknown as Request)).toBe(false);
    expect(isHttps({ headers: {} } as unknown as Request)).toBe(false);
    expect(isHttps({ headers: {}, secure: 'yes' } as unknown as Request)).toBe(false);
  });

  it("follows a request's own `secure` over what Express would compute", async () => {
    for (const own of [true, false]) {
      const app = express5();
      app.get('/', (req, res) => {
        Object.defineProperty(req, 'secure', { value: own });
        res.json({ ours: isHttps(req), express: req.secure });
      });
      const server = await listen(app, !own);
      expect(await get(server, !own, '/', undefined)).toEqual({ ours: own, express: own });
    }
  });

  it("follows a request's own `protocol` (a middleware forcing https without trust proxy), as Express's `secure` does", async () => {
    for (const own of ['https', 'http']) {
      const app = express5();
      app.get('/', (req, res) => {
        Object.defineProperty(req, 'protocol', { value: own });
        res.json({ ours: isHttps(req), express: req.secure });
      });
      const server = await listen(app, own === 'http');
      expect(await get(server, own === 'http', '/', undefined)).toEqual({
        ours: own === 'https',
        express: own === 'https',
      });
    }
  });

  it('a bare Node request (no Express) counts as plain, as `req.secure === true` did', async () => {
    let seen: boolean | undefined;
    const server = await listen((req, res) => {
      seen = isHttps(req as Request);
      res.end('{}');
    }, true);
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      https
        .request({ host: '127.0.0.1', port, ...PSK_CLIENT }, (res) => res.resume().on('end', resolve))
        .on('error', reject)
        .end();
    });
    expect(seen).toBe(false);
  });
});
