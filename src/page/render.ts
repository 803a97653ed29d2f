import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { FORM_TOKEN_FIELD, HOST_CSRF_FIELD } from '../host/csrf.js';
import type { Locale } from '../messages.js';
import type { PageOptions, PageTexts, PageView } from './options.js';
import { PAGE_TEXTS } from './texts.js';

export { DEFAULT_TEXTS } from './texts.js';

/** The texts in the locale's defaults, with the app's own texts (`page.texts`, `page.title`) over them. */
export function resolveTexts(options: PageOptions, locale: Locale = 'en'): PageTexts {
  const defaults = PAGE_TEXTS[locale];
  const { errors, ...texts } = options.texts ?? {};
  const defined = Object.fromEntries(Object.entries(texts).filter(([, value]) => typeof value === 'string'));
  const definedErrors = Object.fromEntries(
    Object.entries(errors ?? {}).filter(([, value]) => typeof value === 'string'),
  );
  return {
    ...defaults,
    ...defined,
    ...(typeof options.title === 'string' ? { title: options.title } : {}),
    errors: { ...defaults.errors, ...definedErrors },
  };
}

export function errorText(texts: PageTexts, code: ErrorCode): string {
  return texts.errors[code] ?? ERROR_CODES[code].message;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
export const escapeHtml = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

/** Fills `{name}` placeholders, escaping the template and every value. */
export function fill(template: string, values: Record<string, string | number>): string {
  return escapeHtml(template).replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? escapeHtml(values[name]) : whole,
  );
}

const STYLES = `
:root{color-scheme:light dark;--tfa-accent:#1d4ed8;--tfa-accent-text:#fff;--tfa-accent-soft:#e0e9ff;--tfa-bg:#eef1f6;--tfa-card:#fff;--tfa-text:#111827;--tfa-muted:#4b5563;--tfa-border:#6b7280;--tfa-error:#b91c1c;--tfa-error-bg:#fef2f2;--tfa-ok:#166534;--tfa-radius:14px}
@media (prefers-color-scheme:dark){:root{--tfa-accent:#93b4ff;--tfa-accent-text:#0b1020;--tfa-accent-soft:#1e2a4a;--tfa-bg:#0f1115;--tfa-card:#1a1d24;--tfa-text:#f3f4f6;--tfa-muted:#c2c7d0;--tfa-border:#8b93a1;--tfa-error:#fca5a5;--tfa-error-bg:#2a1719;--tfa-ok:#86efac}}
*{box-sizing:border-box}
[hidden]{display:none!important}
html{-webkit-text-size-adjust:100%}
body{margin:0;min-height:100vh;min-height:100dvh;display:grid;place-items:center;padding:1rem;background:var(--tfa-bg);color:var(--tfa-text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
.tfa-card{width:100%;max-width:27rem;background:var(--tfa-card);border-radius:var(--tfa-radius);padding:2rem 1.75rem 1.5rem;box-shadow:0 1px 2px rgb(0 0 0/.06),0 8px 24px rgb(0 0 0/.08)}
.tfa-icon{display:grid;place-items:center;width:3rem;height:3rem;margin:0 0 1rem;border-radius:50%;background:var(--tfa-accent-soft);color:var(--tfa-accent)}
.tfa-icon svg{width:1.5rem;height:1.5rem}
.tfa-title{font-size:1.5rem;line-height:1.25;margin:0 0 .5rem}
.tfa-card p{margin:.5rem 0}
.tfa-intro strong{white-space:nowrap}
.tfa-muted{color:var(--tfa-muted);font-size:.95rem}
.tfa-status{color:var(--tfa-ok);font-weight:600;min-height:1.5em}
.tfa-status:empty{min-height:0;margin:0}
.tfa-error{color:var(--tfa-error);background:var(--tfa-error-bg);border-radius:8px;padding:.6rem .8rem;font-weight:600}
.tfa-error:empty{padding:0;margin:0}
.tfa-label{display:block;font-weight:600;margin-top:1.25rem}
.tfa-code{display:block;width:100%;margin:.4rem 0 .25rem;padding:.55rem .75rem;font:600 1.75rem/1.2 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;letter-spacing:.35em;text-align:center;font-variant-numeric:tabular-nums;border:2px solid var(--tfa-border);border-radius:10px;background:var(--tfa-card);color:inherit}
.tfa-code:focus{outline:3px solid var(--tfa-accent);outline-offset:2px;border-color:var(--tfa-accent)}
.tfa-code[aria-invalid=true]{border-color:var(--tfa-error)}
.tfa-card button{font:inherit;cursor:pointer;border-radius:10px;padding:.7rem 1rem;min-height:2.75rem}
.tfa-primary{width:100%;margin-top:.75rem;border:0;background:var(--tfa-accent);color:var(--tfa-accent-text);font-weight:600}
.tfa-primary:hover:not(:disabled){filter:brightness(1.1)}
.tfa-secondary{width:100%;border:1px solid var(--tfa-border);background:transparent;color:inherit}
.tfa-secondary:hover:not(:disabled){background:var(--tfa-accent-soft)}
.tfa-card button:focus-visible{outline:3px solid var(--tfa-accent);outline-offset:2px}
.tfa-card button:disabled{cursor:not-allowed;opacity:.75}
.tfa-actions{display:grid;gap:.5rem;margin-top:1.25rem;padding-top:1.25rem;border-top:1px solid color-mix(in srgb,var(--tfa-border) 35%,transparent)}
.tfa-actions form{margin:0}
.tfa-alt{margin:1rem 0 0;text-align:center}.tfa-alt a{color:var(--tfa-accent);font-weight:600}
.tfa-notice{margin-top:1rem;font-size:.875rem}
.tfa-foot{margin-top:1.25rem!important;font-size:.875rem}
@media (max-width:30rem){body{place-items:start center;padding:.75rem}.tfa-card{padding:1.5rem 1.25rem 1.25rem;margin-top:1rem}}
`;

const ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" focusable="false"><rect x="6" y="2" width="12" height="20" rx="2.5"/><path d="M10.5 18.5h3"/><path d="M9.5 9.5l2 2 3.5-4"/></svg>';

/** The `css` option inside `<style>`: it cannot close the element (`<\/` is an escaped `/` in CSS). */
const cssText = (css: unknown) => (typeof css === 'string' ? css.replace(/<\//g, '<\\/') : '');

/** Escapes JSON for a `<script type="application/json">` block: no `</script>` or comment can end it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The data block the enhancement script reads, and the script itself, both nonce'd. */
export function scriptTags(view: Omit<PageView, 'script'>, source: string): string {
  const data = {
    texts: view.texts,
    phone: view.phone,
    codeLength: view.codeLength,
    challenge: view.challenge,
    error: view.error?.code ?? null,
    returnTo: view.returnTo,
    paths: view.paths,
    voiceAvailable: view.voiceAvailable,
    autoSend: view.autoSend,
    phoneMissing: view.phoneMissing,
    csrf: view.hostCsrfToken,
  };
  return `<script type="application/json" id="tfa-data" nonce="${escapeHtml(view.nonce)}">${scriptJson(data)}</script>
<script nonce="${escapeHtml(view.nonce)}">${source}</script>`;
}

/** The intro line for the current state (escaped HTML). */
function introOf(view: PageView): string {
  const { texts, challenge } = view;
  const template = !challenge
    ? texts.intro
    : challenge.channel === 'voice'
      ? texts.introVoice
      : texts.introSent;
  return template
    .split('{phone}')
    .map((part) => fill(part, {}))
    .join(`<strong>${escapeHtml(view.phone)}</strong>`);
}

function statusOf(view: PageView): string {
  const status = view.challenge?.status;
  const { texts } = view;
  if (status === 'delivered') return view.challenge?.channel === 'voice' ? texts.called : texts.delivered;
  if (status === 'calling') return texts.calling;
  if (status === 'undelivered') return texts.undelivered;
  return '';
}

function errorOf(view: PageView): string {
  if (!view.error) return '';
  const { texts, challenge } = view;
  const attempts =
    view.error.code === 'ERR_2FA_CODE_INVALID' && challenge
      ? ` ${fill(texts.attemptsLeft, { attempts: challenge.attemptsLeft })}`
      : '';
  return `${escapeHtml(view.error.message)}${attempts}`;
}

/** A button that may count down: its label says when it unlocks (the script keeps it live). */
function waitButton(name: 'resend' | 'voice', wait: number | null, texts: PageTexts): string {
  const now = name === 'resend' ? texts.resend : texts.voice;
  const later = name === 'resend' ? texts.resendIn : texts.voiceIn;
  const label = wait && wait > 0 ? fill(later, { seconds: wait }) : escapeHtml(now);
  return `<button type="submit" class="tfa-secondary" id="tfa-${name}" data-tfa="${name}" data-wait="${wait ?? 0}">${label}</button>`;
}

/** The package's form token, and the host app's CSRF token when it has one. */
export function hiddenTokens(view: Pick<PageView, 'csrfToken' | 'hostCsrfToken'>): string {
  return `<input type="hidden" name="${FORM_TOKEN_FIELD}" value="${escapeHtml(view.csrfToken)}">${hostToken(view)}`;
}

/** The host app's CSRF token as the `_csrf` field its middleware reads, when it has one. */
function hostToken(view: Pick<PageView, 'hostCsrfToken'>): string {
  return view.hostCsrfToken
    ? `<input type="hidden" name="${HOST_CSRF_FIELD}" value="${escapeHtml(view.hostCsrfToken)}">`
    : '';
}

/** `page.signOut`: a form posting to the app's sign-out route (with its CSRF token), or a link. */
function signOutControl(view: PageView): string {
  const out = view.signOut;
  if (!out) return '';
  if (out.method === 'get')
    return `<a href="${escapeHtml(out.action)}" id="tfa-sign-out" class="tfa-sign-out">${escapeHtml(out.label)}</a>`;
  return `<form method="post" action="${escapeHtml(out.action)}" id="tfa-sign-out" class="tfa-sign-out">${hostToken(view)}<button type="submit" class="tfa-secondary">${escapeHtml(out.label)}</button></form>`;
}

/** The server-rendered challenge page: it works without JavaScript (plain forms, 303 redirects). */
export function renderPage(view: PageView, options: PageOptions): string {
  if (options.render) return options.render(view);
  const { texts, challenge, paths, codeLength } = view;
  const nonce = escapeHtml(view.nonce);
  const hidden = `${hiddenTokens(view)}<input type="hidden" name="returnTo" value="${escapeHtml(view.returnTo)}">`;
  const form = (id: string, action: string, inner: string, attrs = '') =>
    `<form method="post" action="${escapeHtml(action)}" id="${id}"${attrs}>${hidden}${inner}</form>`;
  const expires = challenge
    ? fill(texts.expiresIn, { minutes: Math.max(1, Math.ceil(challenge.expiresIn / 60)) })
    : '';
  const resendHidden = !challenge || challenge.resendIn === null ? ' hidden' : '';
  const voiceHidden = !challenge || challenge.voiceIn === null ? ' hidden' : '';

  return `<!doctype html>
<html lang="${escapeHtml(view.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(texts.title)}</title>
<style nonce="${nonce}">${STYLES}${cssText(options.css)}</style>
</head>
<body>
<main class="tfa-card" id="tfa" aria-labelledby="tfa-title">
<div class="tfa-icon" aria-hidden="true">${ICON}</div>
<h1 class="tfa-title" id="tfa-title">${escapeHtml(texts.title)}</h1>
${
  // No number to send to: this says so, and nothing can be sent (issue 11's enrollment form goes here).
  view.phoneMissing
    ? `<p class="tfa-intro" id="tfa-no-phone">${escapeHtml(texts.noPhone)}</p>`
    : `<p class="tfa-intro" id="tfa-intro">${introOf(view)}</p>`
}
<p class="tfa-status" id="tfa-status" role="status">${escapeHtml(statusOf(view))}</p>
<p class="tfa-error" id="tfa-error" role="alert">${errorOf(view)}</p>
${form('tfa-send-form', paths.send, `<button type="submit" class="tfa-primary" id="tfa-send" data-tfa="send">${escapeHtml(texts.send)}</button>`, challenge || view.phoneMissing ? ' hidden' : '')}
<div id="tfa-challenge"${challenge ? '' : ' hidden'}>
${form(
  'tfa-verify-form',
  paths.verify,
  `
<label class="tfa-label" for="tfa-code">${escapeHtml(texts.codeLabel)}</label>
<input class="tfa-code" id="tfa-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{${codeLength}}" minlength="${codeLength}" maxlength="${codeLength + 4}" required${challenge ? ' autofocus' : ''}${view.error?.code === 'ERR_2FA_CODE_INVALID' || view.error?.code === 'ERR_2FA_BAD_REQUEST' ? ' aria-invalid="true"' : ''} aria-describedby="tfa-code-hint tfa-error" spellcheck="false" autocapitalize="off">
<p class="tfa-muted" id="tfa-code-hint">${fill(texts.codeHint, { length: codeLength })} <span id="tfa-expires">${expires}</span></p>
<button type="submit" class="tfa-primary" id="tfa-verify">${escapeHtml(texts.verify)}</button>
`,
  ' novalidate',
)}
<div class="tfa-actions" id="tfa-actions">
${form('tfa-resend-form', paths.resend, waitButton('resend', challenge?.resendIn ?? null, texts), resendHidden)}
${view.voiceAvailable ? form('tfa-voice-form', paths.voice, waitButton('voice', challenge?.voiceIn ?? null, texts), voiceHidden) : ''}
</div>
</div>
${view.alternative ? `<p class="tfa-alt"><a href="${escapeHtml(view.alternative.href)}">${escapeHtml(view.alternative.text)}</a></p>` : ''}
${texts.riskNotice ? `<p class="tfa-muted tfa-notice">${escapeHtml(texts.riskNotice)}</p>` : ''}
<p class="tfa-muted tfa-foot">${escapeHtml(texts.signOutHint)}</p>
${signOutControl(view)}
</main>
${view.script}
</body>
</html>`;
}
