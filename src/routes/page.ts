import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Runtime } from '../context.js';
import { formToken } from '../crypto.js';
import { voiceAvailable } from '../delivery.js';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { hostCsrfToken } from '../host/csrf.js';
import { isCrossSiteByFetchMetadata, safeReturnTo } from '../http.js';
import type { CheckedUser } from '../options.js';
import type { PageView } from '../page/options.js';
import { errorText, renderPage, resolveTexts, scriptTags } from '../page/render.js';
import { PAGE_SCRIPT } from '../page/script.js';
import { ipKey } from '../phone.js';
import { missingPhone, phoneOnFile } from './destination.js';
import { liveView, load } from './load.js';

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
  const loaded = await load(rt, req, user);
  const query = req.query as Record<string, unknown>;
  const errorCode =
    typeof query.error === 'string' && Object.hasOwn(ERROR_CODES, query.error)
      ? (query.error as ErrorCode)
      : null;
  const texts = resolveTexts(config.page, config.locale);
  const dest = phoneOnFile(rt, user);
  // Nothing to send to: the page says so (issue 11's enrollment form will offer to add one).
  if (!dest) missingPhone(rt, user, ipKey(req.ip));
  const nonce = randomBytes(16).toString('base64');
  const base: Omit<PageView, 'script'> = {
    texts,
    locale: config.locale,
    phone: dest?.masked ?? '',
    phoneMissing: !dest,
    codeLength: config.codeLength,
    challenge: liveView(rt, loaded),
    error: errorCode ? { code: errorCode, message: errorText(texts, errorCode) } : null,
    csrfToken: formToken(config.secrets[0] as string, user.id, user.sessionId ?? ''),
    hostCsrfToken: hostCsrfToken(req, rt.warnOnce),
    returnTo: safeReturnTo(query.returnTo ?? loaded.challenge?.returnTo),
    paths: routePaths(routes),
    nonce,
    voiceAvailable: voiceAvailable(rt),
    alternative: config.page.alternative ?? null,
    signOut: config.page.signOut ? { method: 'post', label: texts.signOut, ...config.page.signOut } : null,
    autoSend: dest !== null && !isCrossSiteByFetchMetadata(req),
  };
  const view: PageView = { ...base, script: scriptTags(base, PAGE_SCRIPT) };
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.setHeader('X-Frame-Options', 'DENY');
  // Not `no-referrer`: with it Chromium sends `Origin: null` on the form posts, which the origin check refuses.
  res.setHeader('Referrer-Policy', 'same-origin');
  res.status(200).type('html').send(renderPage(view, config.page));
}
