import { ERROR_MESSAGES } from '../error-messages.js';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { FORM_TOKEN_FIELD, HOST_CSRF_FIELD } from '../host/csrf.js';
import { LIFECYCLE_CSS, recoveryLink, rememberBox } from '../lifecycle/page.js';
import { LIFECYCLE_TEXTS } from '../lifecycle/texts.js';
import type { Locale } from '../messages.js';
import type { PageOptions, PageTexts, PageView } from './options.js';
import { countText, type Screen, type Snapshot, screenOf, type Wait } from './screen.js';
import { STYLES } from './styles.js';
import { PAGE_TEXTS } from './texts.js';

export { DEFAULT_TEXTS } from './texts.js';

/** The texts in the locale's defaults, with the app's own texts (`page.texts`, `page.title`) over them. */
export function resolveTexts(options: PageOptions, locale: Locale = 'en'): PageTexts {
  const defaults = PAGE_TEXTS[locale];
  const { errors, ...texts } = options.texts ?? {};
  const usable = (value: unknown) =>
    typeof value === 'string' || (typeof value === 'object' && value !== null && 'other' in value);
  const defined = Object.fromEntries(Object.entries(texts).filter(([, value]) => usable(value)));
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

const ICON =
  '<svg viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><rect x="6" y="2" width="12" height="20" rx="2.5"/><path d="M10.5 18.5h3M9.5 9.5l2 2 3.5-4"/></svg>';

/** The `css` option inside `<style>`: it cannot close the element (`<\/` is an escaped `/` in CSS). */
const cssText = (css: unknown) => (typeof css === 'string' ? css.replace(/<\//g, '<\\/') : '');

/** Escapes JSON for a `<script type="application/json">` block: no `</script>` or comment can end it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Error texts the script shows without an answer to take the words from. */
const SCRIPT_ERRORS: readonly ErrorCode[] = [
  'ERR_2FA_NO_CHALLENGE',
  'ERR_2FA_CODE_EXPIRED',
  'ERR_2FA_TOO_MANY_ATTEMPTS',
  'ERR_2FA_STORE_UNAVAILABLE',
];

/**
 * The texts the script needs. Of the error texts only those it shows on its own, and the app's
 * own: for the others it shows the answer's message, which is the same text in the same language.
 */
function scriptTexts(texts: PageTexts, locale: Locale): Partial<PageTexts> {
  const { title, codeLabel, signOutHint, riskNotice, noPhone, signOut, errors, ...all } = texts;
  // The enrollment page's texts stay off the challenge page.
  const rest = Object.fromEntries(Object.entries(all).filter(([key]) => !key.startsWith('enroll')));
  const api = ERROR_MESSAGES[locale];
  // The recovery and remembered-device texts are the server's to render, not the script's.
  for (const key of Object.keys(LIFECYCLE_TEXTS.en)) delete (rest as Record<string, unknown>)[key];
  const needed = Object.entries(errors).filter(
    ([code, text]) => SCRIPT_ERRORS.includes(code as ErrorCode) || text !== api[code as ErrorCode],
  );
  return { ...rest, errors: Object.fromEntries(needed) };
}

/** The data block the enhancement script reads (no `null` fields), and the script itself, both nonce'd. */
export function scriptTags(view: Omit<PageView, 'script'>, source: string): string {
  const data = {
    texts: scriptTexts(view.texts, view.locale),
    phone: view.phone,
    codeLength: view.codeLength,
    // Without the masked number again: `phone` has it.
    challenge: view.challenge ? { ...view.challenge, phone: undefined } : undefined,
    ended: view.ended ?? undefined,
    locked: view.locked ?? undefined,
    error: view.error ? { code: view.error.code, retryIn: view.error.retryIn ?? 0 } : undefined,
    returnTo: view.returnTo,
    paths: view.paths,
    voiceAvailable: view.voiceAvailable,
    autoSend: view.autoSend,
    phoneMissing: view.phoneMissing || undefined,
    // The host app's CSRF token, for the script's posts (X-CSRF-Token and CSRF-Token).
    csrf: view.hostCsrfToken,
  };
  return `<script type="application/json" id="tfa-data" nonce="${escapeHtml(view.nonce)}">${scriptJson(data)}</script>
<script nonce="${escapeHtml(view.nonce)}">${source}</script>`;
}

/** Errors that say the sends are spent or failing for a while: every send button waits them out. */
const SEND_WAITS: readonly ErrorCode[] = ['ERR_2FA_RATE_LIMITED', 'ERR_2FA_SEND_FAILED'];

/** What the page knows, as the shared screen logic takes it. */
export function snapshotOf(view: Omit<PageView, 'script'>): Snapshot {
  const retry = view.error && SEND_WAITS.includes(view.error.code) ? (view.error.retryIn ?? 0) : 0;
  return {
    challenge: view.challenge,
    ended: view.ended,
    lockIn: view.locked ? (view.locked.retryIn ?? Number.POSITIVE_INFINITY) : 0,
    sending: false,
    sendsBlockedIn: retry,
    phoneMissing: view.phoneMissing,
    voiceAvailable: view.voiceAvailable,
  };
}

/**
 * Per-request CSS for the waits without JavaScript: each waiting element gets its seconds as
 * `--tfa-w` (inline `style` attributes are not allowed by the page's CSP).
 */
class Waits {
  readonly rules: string[] = [];
  add(id: string, seconds: number): void {
    this.rules.push(`#${id}{--tfa-w:${Math.ceil(seconds)}}`);
  }
}

/**
 * A submit button of the form, posting to `action` (the form's own when omitted); hidden when the
 * state has none. One that must wait is disabled for good (no end in sight), or, without
 * JavaScript, looks and acts disabled until its wait is over (the script counts it down instead).
 */
function waitButton(name: string, kind: string, w: Wait | null, waits: Waits, action?: string): string {
  const id = `tfa-${name}`;
  const start = `<button class="tfa-${kind}`;
  const attrs = `id="${id}"${action ? ` formaction="${escapeHtml(action)}"` : ''}`;
  if (!w) return `${start}" ${attrs} hidden></button>`;
  const label = escapeHtml(w.now);
  if (w.wait <= 0) return `${start}" ${attrs}>${label}</button>`;
  if (!Number.isFinite(w.wait)) return `${start}" ${attrs} disabled>${label}</button>`;
  waits.add(id, w.wait);
  return `${start} tfa-wait" ${attrs}>${label}</button>`;
}

/** The intro for the state, with the masked number in bold (escaped HTML). */
function introHtml(template: string, phone: string): string {
  return template
    .split('{phone}')
    .map((part) => fill(part, {}))
    .join(`<strong>${escapeHtml(phone)}</strong>`);
}

/** The alert's text: the error of the last post, unless the state's own message says more. */
function messageOf(view: PageView, screen: Screen): string {
  const { error, challenge, texts } = view;
  // A wrong code that used the code up, or started the account's wait: the state says it better.
  if (!error || (error.code === 'ERR_2FA_CODE_INVALID' && screen.notice)) return screen.notice;
  if (error.code !== 'ERR_2FA_CODE_INVALID' || !challenge) return error.message;
  const left = challenge.attemptsLeft;
  return `${error.message} ${countText(texts.attemptsLeft, left, view.locale, { attempts: left })}`;
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

/**
 * The server-rendered challenge page. It works without JavaScript: one form, whose buttons post to
 * their routes (`formaction`) and come back with a 303. Verify is its first button, so Enter in the
 * code field verifies.
 */
export function renderPage(view: PageView, options: PageOptions): string {
  if (options.render) return options.render(view);
  const { texts, paths } = view;
  const snapshot = snapshotOf(view);
  const screen = screenOf(snapshot, texts, view.locale, view.codeLength);
  const waits = new Waits();
  const nonce = escapeHtml(view.nonce);

  const message = messageOf(view, screen);
  // The account's wait is over when its countdown ends: its message goes with it.
  const lockEnds = message === texts.locked && Number.isFinite(snapshot.lockIn);
  if (lockEnds) waits.add('tfa-error', snapshot.lockIn);
  const invalid = view.error?.code === 'ERR_2FA_CODE_INVALID' || view.error?.code === 'ERR_2FA_BAD_REQUEST';
  // An empty icon (`data:,`): the browser asks the app for no /favicon.ico on this page.
  const resend = waitButton('resend', 'secondary', screen.resend, waits, paths.resend);
  const voice = view.voiceAvailable ? waitButton('voice', 'secondary', screen.voice, waits, paths.voice) : '';
  const verify = waitButton('verify', 'primary', screen.verify, waits);
  const send = waitButton('send', 'primary', screen.send, waits, paths.send);

  return `<!doctype html>
<html lang="${escapeHtml(view.locale)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(texts.title)}</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${STYLES}${view.rememberDevice || view.recovery ? LIFECYCLE_CSS : ''}${waits.rules.join('')}${cssText(options.css)}</style>
</head>
<body>
<main class="tfa-card" id="tfa" aria-labelledby="tfa-title">
<div class="tfa-icon" aria-hidden="true">${ICON}</div>
<h1 class="tfa-title" id="tfa-title">${escapeHtml(texts.title)}</h1>
${
  // No number to send to: this says so, and nothing can be sent (an enrollment form goes here).
  view.phoneMissing
    ? `<p class="tfa-intro" id="tfa-no-phone">${escapeHtml(texts.noPhone)}</p>`
    : `<p class="tfa-intro" id="tfa-intro">${introHtml(screen.intro, view.phone)}</p>`
}
<p class="tfa-status" id="tfa-status" role="status" data-tone="${screen.status.tone}">${escapeHtml(screen.status.text)}</p>
<form method="post" action="${escapeHtml(paths.verify)}" id="tfa-form" novalidate>${hiddenTokens(view)}<input type="hidden" name="returnTo" value="${escapeHtml(view.returnTo)}">
<label class="tfa-label" for="tfa-code">${escapeHtml(texts.codeLabel)}</label>
<input class="tfa-code" id="tfa-code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="${view.codeLength + 4}" required${screen.live ? ' autofocus' : ' disabled'}${invalid && screen.live ? ' aria-invalid="true"' : ''} aria-describedby="tfa-error tfa-code-hint">
<div class="tfa-slot"><p class="tfa-error${lockEnds ? ' tfa-until' : ''}" id="tfa-error" role="alert">${escapeHtml(message)}</p><p class="tfa-muted" id="tfa-code-hint">${escapeHtml(screen.hint)}</p></div>
${rememberBox(view)}
${verify}
${send}
<div class="tfa-actions" id="tfa-actions"${screen.resend || (view.voiceAvailable && screen.voice) ? '' : ' hidden'}>${resend}${voice}</div>
</form>
${recoveryLink(view)}
${view.alternative ? `<p class="tfa-alt"><a href="${escapeHtml(view.alternative.href)}">${escapeHtml(view.alternative.text)}</a></p>` : ''}
${texts.riskNotice ? `<p class="tfa-muted">${escapeHtml(texts.riskNotice)}</p>` : ''}
<p class="tfa-muted tfa-foot">${escapeHtml(texts.signOutHint)}</p>
${signOutControl(view)}
</main>
${view.script}
</body>
</html>`;
}
