import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';

type TrustProxy = (address: string | undefined, hop: number) => unknown;

/**
 * Whether Express sees this request as HTTPS: exactly `req.secure` (Express 4 and 5), computed the
 * way Express's `protocol` getter does (the socket's TLS, or the first X-Forwarded-Proto value when
 * `trust proxy` trusts the peer) but without its chain of getters (`secure` → `protocol` →
 * `app.get` → `req.get`), a third of the guard's cost on a real request. `trust proxy` is read on
 * every call, so a setting changed at run time counts at once, and a custom function is called
 * with the same arguments, once. A request outside Express (no app), or with a `secure` or
 * `protocol` property of its own, or whose app redefined `secure` or `protocol` (on `app.request`),
 * is read as `req.secure === true`. (The getters' check is kept per prototype: an app that
 * redefines them after its first request is not seen.) Behind a trusted proxy, `req.get` (Express's
 * or one an app or library put in its place) is asked for X-Forwarded-Proto, as Express's getter asks it.
 * test/unit/request-scheme.test.ts compares both on real sockets under every setting.
 */
export function isHttps(req: Request): boolean {
  const { app } = req;
  // Outside Express, a request given its own `secure` or `protocol` (a test's, a middleware's that
  // forces https), or an app that redefined the getters: their value.
  if (
    typeof app !== 'function' ||
    Object.hasOwn(req, 'secure') ||
    Object.hasOwn(req, 'protocol') ||
    !expressGetters(req)
  ) {
    return req.secure === true;
  }
  const socket = req.socket as TLSSocket;
  const proto = socket.encrypted ? 'https' : 'http';
  const trust = app.get('trust proxy fn') as TrustProxy;
  if (!trust(socket.remoteAddress, 0)) return proto === 'https';
  // Express: `req.get('X-Forwarded-Proto') || proto`, then the part before the first comma, trimmed.
  // Asked through `req.get` as Express's getter asks it: an app's or a library's own `get` (on the
  // request, on `app.request`, or on Express's shared request object) answers here too.
  const header = (req.get('X-Forwarded-Proto') as string | undefined) || proto;
  // Not text: Express's getter throws on it; that error, not a guess.
  if (typeof header !== 'string') return req.secure === true;
  const comma = header.indexOf(',');
  return (comma !== -1 ? header.substring(0, comma) : header).trim() === 'https';
}

/** Per request prototype: whether `secure` and `protocol` are still Express's own getters. */
const ownGetters = new WeakMap<object, boolean>();

/**
 * Express defines `secure`, `protocol` and `xhr` together on its base request object; an app that
 * redefines one of the first two (on `app.request`, say) defines it on another object of the chain.
 */
function expressGetters(req: Request): boolean {
  const proto = Object.getPrototypeOf(req) as object | null;
  if (proto === null) return false;
  let known = ownGetters.get(proto);
  if (known === undefined) {
    const owner = ownerOf(proto, 'secure');
    known = owner !== undefined && owner === ownerOf(proto, 'protocol') && owner === ownerOf(proto, 'xhr');
    ownGetters.set(proto, known);
  }
  return known;
}

function ownerOf(start: object, name: string): object | undefined {
  for (let at: object | null = start; at !== null; at = Object.getPrototypeOf(at) as object | null) {
    if (Object.hasOwn(at, name)) return at;
  }
  return undefined;
}
