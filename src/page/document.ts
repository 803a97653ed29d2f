// The headers and the HTML frame of every page the package serves: the challenge page, the
// enrollment page, the recovery form and the codes page.
import { randomBytes } from 'node:crypto';
import type { Response } from 'express';
import type { Config } from '../options.js';
import { escapeHtml } from './render.js';
import { STYLES } from './styles.js';

/** A fresh CSP nonce for one response. */
export const newNonce = (): string => randomBytes(16).toString('base64');

/**
 * Scripts and styles only with this response's nonce, no framing, form posts to this site only.
 * `connect` lets the page's script call the routes (the challenge page polls `/status`).
 */
export function setPageHeaders(res: Response, nonce: string, options: { connect?: boolean } = {}): void {
  const connect = options.connect ? " connect-src 'self';" : '';
  res.setHeader(
    'Content-Security-Policy',
    `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}';${connect} img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.setHeader('X-Frame-Options', 'DENY');
  // Not `no-referrer`: with it Chromium sends `Origin: null` on the form posts, which the origin check refuses.
  res.setHeader('Referrer-Policy', 'same-origin');
}

export interface Document {
  nonce: string;
  title: string;
  /** The page's own CSS, after the shared styles and before the app's `page.css`. */
  css: string;
  /** The `id` of the card (`<main>`). */
  mainId: string;
  /** Markup above the title (an icon), if any. */
  top?: string;
  body: string;
  /** Complete `<script nonce>` tags, if any. */
  scripts?: string;
}

/** Sends a whole page of the package's own (headers included), in the app's locale and `page.css`. */
export function sendDocument(res: Response, config: Config, page: Document): void {
  const { nonce } = page;
  // The app's CSS cannot close the <style> element it is put in.
  const appCss = typeof config.page.css === 'string' ? config.page.css.replace(/<\//g, '<\\/') : '';
  setPageHeaders(res, nonce);
  res
    .status(200)
    .type('html')
    .send(`<!doctype html>
<html lang="${escapeHtml(config.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)}</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLES}${page.css}${appCss}</style>
</head>
<body>
<main class="tfa-card" id="${page.mainId}" aria-labelledby="tfa-title">
${page.top ?? ''}<h1 class="tfa-title" id="tfa-title">${escapeHtml(page.title)}</h1>
${page.body}
</main>
${page.scripts ?? ''}
</body>
</html>`);
}
