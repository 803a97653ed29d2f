import type { Request } from 'express';
import type { Config } from '../options.js';
import { isHttps } from '../request-scheme.js';
import type { WarnOnce } from './warn-once.js';

/** Whether Express trusts the peer as a proxy (`trust proxy`), as `req.ip` and `req.secure` do. */
function trustsPeer(req: Request): boolean {
  const trust: unknown = req.app?.get('trust proxy fn');
  return typeof trust === 'function' && trust(req.socket?.remoteAddress, 0) === true;
}

const TRUST_PROXY_FIX =
  "set app.set('trust proxy', 1) (the number of proxies in front of the app, or their addresses) before your routes";

/**
 * What the `/2fa` routes check once per instance about how requests reach the app: HTTPS as
 * Express sees it (the cookies follow `req.secure`) and proxy headers Express ignores.
 */
export function createProxyChecks(config: Config, warnOnce: WarnOnce): (req: Request) => void {
  // Read once: NODE_ENV does not change under a running app.
  const production = process.env.NODE_ENV === 'production';
  const { secure } = config.cookie;

  return function checkHostRequest(req) {
    const forwardedFor = req.headers['x-forwarded-for'] !== undefined;
    // `req.secure` exactly, without Express's chain of getters (`isHttps`), on every /2fa request.
    if (!isHttps(req)) {
      if (secure === true) {
        warnOnce(
          'secure-over-http',
          "cookie.secure is true but this request came over plain HTTP (req.secure is false): browsers drop Secure cookies outside HTTPS, so no code can be verified. Serve the app over HTTPS, set app.set('trust proxy', 1) behind a TLS proxy, or use cookie.secure: 'auto' (the default)",
        );
      } else if (secure === 'auto' && production) {
        const proto = req.headers['x-forwarded-proto'];
        if (typeof proto === 'string' && proto.toLowerCase().includes('https')) {
          warnOnce(
            'untrusted-proto',
            `a request says X-Forwarded-Proto: https but Express does not trust the proxy, so it counts as plain HTTP and the cookies lose Secure and __Host-: ${TRUST_PROXY_FIX}`,
          );
        } else {
          warnOnce(
            'plain-http',
            `a request arrived over plain HTTP under NODE_ENV=production, so the cookies are not Secure: serve the app over HTTPS, or behind a TLS proxy ${TRUST_PROXY_FIX}`,
          );
        }
      }
    }
    if (forwardedFor && !trustsPeer(req)) {
      warnOnce(
        'untrusted-forwarded-for',
        `a request carries X-Forwarded-For but Express does not trust the proxy, so req.ip is the proxy's address and every user shares one IP send budget: ${TRUST_PROXY_FIX}`,
      );
    }
  };
}
