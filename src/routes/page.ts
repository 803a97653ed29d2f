import type { Request, Response } from 'express';
import type { Runtime } from '../context.js';
import { formToken } from '../crypto.js';
import { voiceAvailable } from '../delivery.js';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { hostCsrfToken } from '../host/csrf.js';
import { isCrossSiteByFetchMetadata, safeReturnTo } from '../http.js';
import { withinOfRequest, withWithin } from '../lifecycle/fresh.js';
import { lifecycleView } from '../lifecycle/page.js';
import type { CheckedUser } from '../options.js';
import { newNonce, setPageHeaders } from '../page/document.js';
import type { PageView } from '../page/options.js';
import { errorText, renderPage, resolveTexts, scriptTags } from '../page/render.js';
import { PAGE_SCRIPT } from '../page/script.js';
import { ipKey } from '../phone.js';
import { missingPhone, phoneOnFile } from './destination.js';
import { type Flash, takeFlash } from './flash.js';
import { load } from './load.js';
import { browserState } from './state.js';

export function routePaths(path: string) {
  return {
    page: path,
    send: `${path}/send`,
    resend: `${path}/resend`,
    voice: `${path}/voice`,
    verify: `${path}/verify`,
    status: `${path}/status`,
  };
}

/** The error to show: the one a form post left (once), or one named by an `?error=CODE` link. */
export function errorOf(rt: Runtime, req: Request, res: Response): Flash | null {
  const flash = takeFlash(rt, req, res);
  if (flash) return flash;
  const query = (req.query as Record<string, unknown>).error;
  return typeof query === 'string' && Object.hasOwn(ERROR_CODES, query) ? { code: query as ErrorCode } : null;
}

/**
 * GET /2fa: renders the page for the current state. It never sends anything by itself. `routes` is
 * where the routes answer for this request (they follow the mount point).
 */
export async function showPage(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  routes: string,
): Promise<void> {
  const { config } = rt;
  const dest = phoneOnFile(rt, user);
  const query = req.query as Record<string, unknown>;
  // Nothing to send to: the page says so, or, with `enroll`, the user adds a number first.
  if (!dest) {
    missingPhone(rt, user, ipKey(req.ip));
    if (config.enroll) {
      const back = safeReturnTo(query.returnTo);
      res.redirect(303, `${routes}/enroll${back === '/' ? '' : `?returnTo=${encodeURIComponent(back)}`}`);
      return;
    }
  }
  const loaded = await load(rt, req, user);
  const state = browserState(rt, loaded);
  const error = errorOf(rt, req, res);
  const texts = resolveTexts(config.page, config.locale);
  // A step-up (`within`): the page's posts and polls carry it, so a stale browser is asked again.
  const within = withinOfRequest(req);
  const paths = routePaths(routes);
  const nonce = newNonce();
  const returnTo = safeReturnTo(
    (req.query as Record<string, unknown>).returnTo ?? loaded.challenge?.returnTo,
  );
  const base: Omit<PageView, 'script'> = {
    texts,
    locale: config.locale,
    phone: dest?.masked ?? '',
    phoneMissing: !dest,
    codeLength: config.codeLength,
    challenge: state.challenge,
    ended: state.ended,
    locked: state.locked,
    error: error ? { ...error, message: errorText(texts, error.code) } : null,
    csrfToken: formToken(config.secrets[0] as string, user.id, user.sessionId ?? ''),
    hostCsrfToken: hostCsrfToken(req, rt.warnOnce),
    returnTo,
    paths: {
      page: paths.page,
      send: withWithin(paths.send, within),
      resend: withWithin(paths.resend, within),
      voice: withWithin(paths.voice, within),
      verify: withWithin(paths.verify, within),
      status: withWithin(paths.status, within),
    },
    nonce,
    voiceAvailable: voiceAvailable(rt),
    signOut: config.page.signOut ? { method: 'post', label: texts.signOut, ...config.page.signOut } : null,
    alternative: config.page.alternative ?? null,
    ...lifecycleView(config, texts, routes, returnTo, within),
    // The script sends on load only into a clean state, and only when the page was opened from
    // this site (or typed in), so that another site cannot spend the user's SMS budget by opening it.
    autoSend: dest !== null && !isCrossSiteByFetchMetadata(req) && !state.ended && !state.locked && !error,
  };
  const view: PageView = { ...base, script: scriptTags(base, PAGE_SCRIPT) };
  setPageHeaders(res, nonce, { connect: true });
  res.status(200).type('html').send(renderPage(view, config.page));
}
