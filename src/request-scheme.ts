import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';

type TrustProxy = (address: string | undefined, hop: number) => unknown;

/**
 * Whether Express sees this request as HTTPS: exactly `req.secure` (Express 4 and 5), computed the
 * way Express's `protocol` getter does (the socket's TLS, or the first X-Forwarded-Proto value when
 * `trust proxy` trusts the peer) but without its chain of getters (`secure` → `protocol` →
 * `app.get` → `req.get`), a third of the guard's cost on a real request. `trust proxy` is read on
 * every call, so a setting changed at run time counts at once, and a custom function is called
 * with the same arguments, once. A request outside Express (no app), or with a `secure` property
 * of its own, is read as `req.secure === true`; a `secure` redefined on Express's request
 * prototype is not followed.
 * test/unit/request-scheme.test.ts compares both on real sockets under every setting.
 */
export function isHttps(req: Request): boolean {
  const { app } = req;
  // Outside Express, or a request given its own `secure` (a test's, a middleware's): that value.
  if (typeof app !== 'function' || Object.hasOwn(req, 'secure')) return req.secure === true;
  const socket = req.socket as TLSSocket;
  const proto = socket.encrypted ? 'https' : 'http';
  const trust = app.get('trust proxy fn') as TrustProxy;
  if (!trust(socket.remoteAddress, 0)) return proto === 'https';
  // Express: `req.get('X-Forwarded-Proto') || proto`, then the part before the first comma, trimmed.
  const header = (req.headers['x-forwarded-proto'] as string | undefined) || proto;
  const comma = header.indexOf(',');
  return (comma !== -1 ? header.substring(0, comma) : header).trim() === 'https';
}
