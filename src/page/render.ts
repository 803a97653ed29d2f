import { ERROR_CODES, type ErrorCode } from '../errors.js';
import type { PageOptions, PageTexts, PageView } from './options.js';

export const DEFAULT_TEXTS: PageTexts = {
  title: 'Two-step verification',
  intro: 'To keep your account safe, we will text a code to {phone}.',
  introSent: 'We sent a code by SMS to {phone}.',
  introVoice: 'We are calling {phone} to read you the code.',
  send: 'Text me a code',
  codeLabel: 'Verification code',
  codeHint: 'Enter the {length}-digit code from the message.',
  verify: 'Verify',
  resend: 'Send the SMS again',
  resendIn: 'Send the SMS again in {seconds} s',
  voice: 'Call me instead',
  voiceIn: 'Call me instead in {seconds} s',
  delivered: 'SMS delivered.',
  calling: 'Calling you now…',
  undelivered: 'The SMS could not be delivered.',
  attemptsLeft: '{attempts} attempts left.',
  expiresIn: 'The code expires in {minutes} min.',
  signOutHint: 'Not your number? Sign out and contact support.',
  errors: {
    ERR_2FA_CODE_INVALID: 'That code is not right. Check the message and try again.',
    ERR_2FA_CODE_EXPIRED: 'That code has expired. Ask for a new one.',
    ERR_2FA_TOO_MANY_ATTEMPTS: 'Too many wrong codes. Ask for a new one.',
    ERR_2FA_NO_CHALLENGE: 'No code is pending. Ask for a new one.',
    ERR_2FA_LOCKED: 'Too many failed attempts. Wait a while before trying again.',
    ERR_2FA_COOLDOWN: 'Please wait a moment before asking again.',
    ERR_2FA_RATE_LIMITED: 'Too many codes were requested. Try again later.',
    ERR_2FA_DESTINATION_BLOCKED: 'We cannot send codes to your phone number. Contact support.',
    ERR_2FA_VOICE_UNAVAILABLE: 'Voice calls are not available.',
    ERR_2FA_SEND_FAILED: 'We could not send the code. Try again in a moment.',
    ERR_2FA_STORE_UNAVAILABLE: 'Verification is unavailable right now. Try again in a moment.',
    ERR_2FA_BAD_REQUEST: 'Enter the code as digits only.',
    ERR_2FA_FORBIDDEN_ORIGIN: 'The form expired. Reload the page and try again.',
  },
};

export function resolveTexts(options: PageOptions): PageTexts {
  const { errors, ...texts } = options.texts ?? {};
  return {
    ...DEFAULT_TEXTS,
    ...texts,
    ...(options.title ? { title: options.title } : {}),
    errors: { ...DEFAULT_TEXTS.errors, ...errors },
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

/** Fills `{name}` placeholders, escaping every value. */
export function fill(template: string, values: Record<string, string | number>): string {
  return escapeHtml(template).replace(/\{(\w+)\}/g, (whole, name: string) =>
    name in values ? escapeHtml(values[name]) : whole,
  );
}

const STYLES = `
:root{color-scheme:light dark;--tfa-accent:#1d4ed8;--tfa-bg:#f6f7f9;--tfa-card:#fff;--tfa-text:#111827;--tfa-muted:#4b5563;--tfa-error:#b91c1c;--tfa-ok:#166534}
@media (prefers-color-scheme:dark){:root{--tfa-accent:#93b4ff;--tfa-bg:#0f1115;--tfa-card:#1a1d24;--tfa-text:#f3f4f6;--tfa-muted:#c2c7d0;--tfa-error:#fca5a5;--tfa-ok:#86efac}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--tfa-bg);color:var(--tfa-text);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
.tfa-card{width:min(100% - 2rem,26rem);background:var(--tfa-card);border-radius:12px;padding:2rem;box-shadow:0 1px 3px rgb(0 0 0/.12)}
h1{font-size:1.4rem;margin:0 0 .5rem}
p{margin:.5rem 0}
.tfa-muted{color:var(--tfa-muted);font-size:.95rem}
label{display:block;font-weight:600;margin-top:1rem}
.tfa-code{display:block;width:100%;margin:.4rem 0 .8rem;padding:.6rem .8rem;font-size:1.6rem;letter-spacing:.3em;text-align:center;font-variant-numeric:tabular-nums;border:2px solid var(--tfa-muted);border-radius:8px;background:transparent;color:inherit}
.tfa-code:focus{outline:3px solid var(--tfa-accent);outline-offset:2px}
button{font:inherit;cursor:pointer;border-radius:8px;padding:.6rem 1rem}
.tfa-primary{width:100%;border:0;background:var(--tfa-accent);color:#fff;font-weight:600}
@media (prefers-color-scheme:dark){.tfa-primary{color:#0f1115}}
.tfa-secondary{border:1px solid var(--tfa-muted);background:transparent;color:inherit}
button:focus-visible{outline:3px solid var(--tfa-accent);outline-offset:2px}
button:disabled{cursor:not-allowed;opacity:.7}
.tfa-actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1rem}
.tfa-actions form{margin:0}
.tfa-error{color:var(--tfa-error);font-weight:600}
.tfa-status{color:var(--tfa-ok)}
`;

/** The server-rendered challenge page: it works without JavaScript (plain forms, 303 redirects). */
export function renderPage(view: PageView, options: PageOptions): string {
  if (options.render) return options.render(view);
  const { texts, challenge, paths, csrfToken, returnTo, nonce } = view;
  const hidden = `<input type="hidden" name="_csrf" value="${escapeHtml(csrfToken)}"><input type="hidden" name="returnTo" value="${escapeHtml(returnTo)}">`;
  const postForm = (action: string, label: string, attrs: string) =>
    `<form method="post" action="${escapeHtml(action)}">${hidden}<button type="submit" ${attrs}>${label}</button></form>`;

  const intro = !challenge
    ? fill(texts.intro, { phone: view.phone })
    : fill(challenge.channel === 'voice' ? texts.introVoice : texts.introSent, { phone: view.phone });
  const statusText =
    challenge?.status === 'delivered'
      ? texts.delivered
      : challenge?.status === 'calling'
        ? texts.calling
        : challenge?.status === 'undelivered'
          ? texts.undelivered
          : '';
  const error = view.error
    ? `<p class="tfa-error" id="tfa-error" role="alert">${escapeHtml(view.error.message)}</p>`
    : `<p class="tfa-error" id="tfa-error" role="alert" hidden></p>`;

  const body = !challenge
    ? postForm(paths.send, escapeHtml(texts.send), 'class="tfa-primary" data-tfa="send"')
    : `<form method="post" action="${escapeHtml(paths.verify)}" id="tfa-verify-form" novalidate>${hidden}
<label for="tfa-code">${escapeHtml(texts.codeLabel)}</label>
<p class="tfa-muted" id="tfa-code-hint">${fill(texts.codeHint, { length: view.codeLength })} <span id="tfa-attempts">${fill(texts.attemptsLeft, { attempts: challenge.attemptsLeft })}</span></p>
<input class="tfa-code" id="tfa-code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{${view.codeLength}}" maxlength="${view.codeLength + 4}" required autofocus aria-describedby="tfa-code-hint tfa-error" spellcheck="false">
<button type="submit" class="tfa-primary">${escapeHtml(texts.verify)}</button>
</form>
<div class="tfa-actions">
${challenge.resendIn === null ? '' : postForm(paths.resend, challenge.resendIn > 0 ? fill(texts.resendIn, { seconds: challenge.resendIn }) : escapeHtml(texts.resend), `class="tfa-secondary" data-tfa="resend" data-wait="${challenge.resendIn}"`)}
${challenge.voiceIn === null ? '' : postForm(paths.voice, challenge.voiceIn > 0 ? fill(texts.voiceIn, { seconds: challenge.voiceIn }) : escapeHtml(texts.voice), `class="tfa-secondary" data-tfa="voice" data-wait="${challenge.voiceIn}"`)}
</div>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(texts.title)}</title>
<style nonce="${nonce}">${STYLES}${options.css ?? ''}</style>
</head>
<body>
<main class="tfa-card">
<h1>${escapeHtml(texts.title)}</h1>
<p id="tfa-intro">${intro}</p>
<p class="tfa-status" id="tfa-status" role="status" aria-live="polite">${escapeHtml(statusText)}</p>
${error}
${body}
<p class="tfa-muted">${escapeHtml(texts.signOutHint)}</p>
</main>
</body>
</html>`;
}
