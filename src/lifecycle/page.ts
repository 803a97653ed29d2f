// The page parts of recovery codes and remembered devices: the challenge page's box and link, the
// recovery-code form (GET /2fa/recovery) and the page that shows a new set of codes once.
import type { Response } from 'express';
import { DAY, HOUR } from '../constants.js';
import type { Config } from '../options.js';
import { newNonce, sendDocument } from '../page/document.js';
import { fillText, plural } from '../page/format.js';
import type { PageTexts, PageView } from '../page/options.js';
import { escapeHtml, hiddenTokens } from '../page/render.js';
import { withWithin } from './fresh.js';

const CSS = `
.tfa-remember{display:flex;gap:.6rem;align-items:flex-start;margin:.75rem 0 0;font-size:.95rem;cursor:pointer}
.tfa-remember input{width:1.15rem;height:1.15rem;margin:.15rem 0 0;flex:none;accent-color:var(--tfa-accent)}
.tfa-rcode{letter-spacing:.08em;text-indent:0;font-size:1.35rem;text-transform:lowercase}
.tfa-codes{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));gap:.1rem 1rem;list-style:decimal inside;padding:.9rem 1rem;margin:1rem 0;border:1px dashed var(--tfa-border);border-radius:10px;font:600 1rem/1.9 ui-monospace,monospace}
.tfa-codes li::marker{color:var(--tfa-muted);font-weight:400}
.tfa-codes-actions{display:grid;grid-template-columns:repeat(3,1fr);gap:.5rem}
.tfa-codes-actions a{display:grid;place-items:center;border:1px solid var(--tfa-accent);border-radius:10px;color:var(--tfa-accent);text-decoration:none;min-height:2.75rem}
.tfa-done{display:block;margin-top:1rem;text-align:center;color:var(--tfa-accent);font-weight:600}
@media print{body{background:#fff;padding:0}.tfa-card{box-shadow:none}.tfa-codes-actions,.tfa-done,.tfa-icon{display:none}}
`;

/** The box's text for the configured lifetime: whole days, or hours under a day. */
export function rememberLabel(texts: PageTexts, ttlMs: number, locale: string): string {
  if (ttlMs >= DAY) {
    const days = Math.round(ttlMs / DAY);
    return fillText(plural(texts.rememberDevice, days, locale), { days });
  }
  const hours = Math.max(1, Math.round(ttlMs / HOUR));
  return fillText(plural(texts.rememberDeviceHours, hours, locale), { hours });
}

/** What the challenge page shows of recovery codes and remembered devices, for `PageView`. */
export function lifecycleView(
  config: Config,
  texts: PageTexts,
  routes: string,
  returnTo: string,
  /** A step-up's `within`: the recovery form keeps it, so a stale browser is asked, not sent back. */
  within?: number,
): Pick<PageView, 'recovery' | 'rememberDevice'> {
  return {
    recovery: config.recovery
      ? {
          href: withWithin(`${routes}/recovery?returnTo=${encodeURIComponent(returnTo)}`, within),
          text: texts.useRecoveryCode,
        }
      : null,
    rememberDevice: config.rememberDevice
      ? { label: rememberLabel(texts, config.rememberDevice.ttlMs, config.locale) }
      : null,
  };
}

/** The unchecked "Don't ask again on this device" box, inside the verify form. */
export function rememberBox(view: Pick<PageView, 'rememberDevice'>): string {
  if (!view.rememberDevice) return '';
  return `<label class="tfa-remember" for="tfa-remember"><input type="checkbox" id="tfa-remember" name="remember" value="1"><span>${escapeHtml(view.rememberDevice.label)}</span></label>`;
}

/** The challenge page's "Use a recovery code" link (a page with a plain form: no JavaScript needed). */
export function recoveryLink(view: Pick<PageView, 'recovery'>): string {
  if (!view.recovery) return '';
  return `<p class="tfa-alt"><a href="${escapeHtml(view.recovery.href)}" id="tfa-use-recovery">${escapeHtml(view.recovery.text)}</a></p>`;
}

/** The challenge page's own extra CSS for the box. */
export const LIFECYCLE_CSS = CSS;

const KEY_ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><circle cx="8" cy="15" r="4"/><path d="M10.8 12.2 20 3M16 7l3 3M14 9l2 2"/></svg>';

function shell(res: Response, config: Config, title: string, body: string, script = ''): void {
  const nonce = newNonce();
  sendDocument(res, config, {
    nonce,
    title,
    css: CSS,
    mainId: 'tfa',
    top: `<div class="tfa-icon" aria-hidden="true">${KEY_ICON}</div>\n`,
    body,
    scripts: script ? `<script nonce="${nonce}">${script}</script>` : '',
  });
}

export interface RecoveryFormView {
  texts: PageTexts;
  routes: string;
  returnTo: string;
  csrfToken: string;
  hostCsrfToken: string | null;
  /** The error of the last post, in words. */
  error: string;
  /** A step-up's `within`, kept on the form's post and its link back. */
  within?: number;
}

/** GET /2fa/recovery: one field, one button, a link back; a plain form post. */
export function renderRecoveryForm(res: Response, config: Config, view: RecoveryFormView): void {
  const { texts, routes, returnTo } = view;
  const back = withWithin(`${routes}?returnTo=${encodeURIComponent(returnTo)}`, view.within);
  shell(
    res,
    config,
    texts.recoveryTitle,
    `<p class="tfa-intro" id="tfa-intro">${escapeHtml(texts.recoveryIntro)}</p>
<form method="post" action="${escapeHtml(withWithin(`${routes}/recovery/verify`, view.within))}" id="tfa-recovery-form" novalidate>${hiddenTokens(view)}<input type="hidden" name="returnTo" value="${escapeHtml(returnTo)}">
<label class="tfa-label" for="tfa-recovery-code">${escapeHtml(texts.recoveryLabel)}</label>
<input class="tfa-code tfa-rcode" id="tfa-recovery-code" name="code" autocomplete="off" autocapitalize="none" spellcheck="false" maxlength="24" required autofocus${view.error ? ' aria-invalid="true"' : ''} aria-describedby="tfa-error tfa-recovery-hint">
<div class="tfa-slot"><p class="tfa-error" id="tfa-error" role="alert">${escapeHtml(view.error)}</p><p class="tfa-muted" id="tfa-recovery-hint">${escapeHtml(texts.recoveryHint)}</p></div>
<button class="tfa-primary" id="tfa-recovery-submit" type="submit">${escapeHtml(texts.recoverySubmit)}</button>
</form>
<p class="tfa-alt"><a href="${escapeHtml(back)}" id="tfa-recovery-back">${escapeHtml(texts.recoveryBack)}</a></p>`,
  );
}

/** Copy and Print need JavaScript: their buttons appear only with it; Download is a plain link. */
const CODES_SCRIPT = `(()=>{const d=document,t=d.getElementById('tfa-codes').innerText.trim(),s=d.getElementById('tfa-codes-status'),c=d.getElementById('tfa-copy'),p=d.getElementById('tfa-print');c.hidden=p.hidden=false;c.addEventListener('click',()=>navigator.clipboard.writeText(t).then(()=>{s.textContent=c.dataset.done}));p.addEventListener('click',()=>print())})()`;

/** The new codes, shown once (the form post's own answer: nothing to reload, nothing cached). */
export function renderCodesPage(
  res: Response,
  config: Config,
  texts: PageTexts,
  codes: readonly string[],
  returnTo: string,
): void {
  const file = `${texts.codesTitle}\n\n${codes.join('\n')}\n`;
  const download = `data:text/plain;charset=utf-8,${encodeURIComponent(file)}`;
  shell(
    res,
    config,
    texts.codesTitle,
    `<p class="tfa-intro">${escapeHtml(texts.codesIntro)}</p>
<ol class="tfa-codes" id="tfa-codes">${codes.map((code) => `<li><code>${escapeHtml(code)}</code></li>`).join('')}</ol>
<div class="tfa-codes-actions"><button class="tfa-secondary" type="button" id="tfa-copy" data-done="${escapeHtml(texts.codesCopied)}" hidden>${escapeHtml(texts.codesCopy)}</button><a href="${escapeHtml(download)}" download="recovery-codes.txt" id="tfa-download">${escapeHtml(texts.codesDownload)}</a><button class="tfa-secondary" type="button" id="tfa-print" hidden>${escapeHtml(texts.codesPrint)}</button></div>
<p class="tfa-status" id="tfa-codes-status" role="status"></p>
<a class="tfa-done" href="${escapeHtml(returnTo)}" id="tfa-codes-done">${escapeHtml(texts.codesDone)}</a>`,
    CODES_SCRIPT,
  );
}
