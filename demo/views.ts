// The demo's own pages: login, account, other ways and the fake phone. Plain template strings,
// every value escaped, in the same card, at the same place and width, as the challenge page.
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { extractCode, type FakeSmstoolsMessage } from '../src/testing/index.js';
import { howVerified } from './lifecycle.js';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const e = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);

export interface DemoUser {
  username: string;
  password: string;
  id: string;
  name: string;
  phone: string;
  /** What this user shows in the demo. */
  story: string;
}

/** The demo's icon, for its pages and /favicon.ico (the challenge page declares its own). */
export const FAVICON_SVG =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="8" fill="#1d4ed8"/><path d="M9.5 16.5l4.5 4.5 8.5-9.5" fill="none" stroke="#fff" stroke-width="3.4" stroke-linecap="round" stroke-linejoin="round"/></svg>';

// The challenge page's colours, card and spacing (src/page/styles.ts), so that moving from one
// page to the next moves nothing.
const STYLES = `
:root{color-scheme:light dark;--accent:#1d4ed8;--accent-text:#fff;--bg:#eef1f6;--card:#fff;--text:#111827;--muted:#4b5563;--border:#6b7280;--line:#d1d5db;--error:#b91c1c;--ok:#166534;--off:#e5e7eb}
@media (prefers-color-scheme:dark){:root{--accent:#93b4ff;--accent-text:#0b1020;--bg:#0f1115;--card:#1a1d24;--text:#f3f4f6;--muted:#c2c7d0;--border:#8b93a1;--line:#374151;--error:#fca5a5;--ok:#86efac;--off:#2a2f3a}}
*{box-sizing:border-box}
body{margin:0;padding:clamp(.75rem,8vh,4.5rem) .75rem 2rem;background:var(--bg);color:var(--text);font:16px/1.5 system-ui,-apple-system,sans-serif}
main{max-width:27rem;margin:0 auto;background:var(--card);border-radius:14px;padding:2rem 1.75rem 1.5rem;box-shadow:0 1px 2px #0000000f,0 8px 24px #00000014}
@media (max-width:30rem){main{padding:1.5rem 1.25rem 1.25rem}}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .5rem}
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
p{margin:.5rem 0}
.muted{color:var(--muted);font-size:.95rem}
.error{color:var(--error);font-weight:600;border-left:3px solid;padding-left:.6rem}
.ok{color:var(--ok);font-weight:600}
label{display:block;font-weight:600;margin-top:1rem}
input{display:block;width:100%;margin-top:.4rem;padding:.6rem .75rem;font:inherit;border:2px solid var(--border);border-radius:10px;background:var(--card);color:inherit}
input:focus{outline:0;border-color:var(--accent);box-shadow:0 0 0 2px var(--accent)}
button{font:inherit;line-height:1.25;cursor:pointer;border-radius:10px;padding:.7rem 1rem;min-height:2.75rem;width:100%;border:2px solid var(--accent)}
button:focus-visible,a:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.primary{margin-top:1.25rem;background:var(--accent);color:var(--accent-text);font-weight:600}
.secondary{margin-top:1.25rem;border-width:1px;background:transparent;color:var(--accent);font-weight:500}
a{color:var(--accent)}
code{font-family:ui-monospace,monospace}
.users{list-style:none;padding:0;margin:.5rem 0}
.users li{padding:.5rem 0;border-top:1px solid var(--line)}
.inbox{list-style:none;padding:0;margin:1rem 0 0}
.msg{border:1px solid var(--line);border-radius:12px;padding:.8rem 1rem;margin:0 0 .75rem}
.msg-head{display:flex;flex-wrap:wrap;gap:.25rem .75rem;font-size:.875rem;color:var(--muted)}
.badge{font-weight:700;color:var(--text)}
.msg-code{font:700 1.6rem/1.2 ui-monospace,monospace;letter-spacing:.2em;margin:.4rem 0}
.msg-text{margin:.25rem 0 0;overflow-wrap:anywhere}
.lost{border-style:dashed;background:var(--off)}
.lost .msg-text{color:var(--muted)}
`;

function layout(nonce: string, title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(title)}</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
${head}
<style nonce="${e(nonce)}">${STYLES}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>`;
}

export function loginPage(
  nonce: string,
  users: DemoUser[],
  opts: { error?: string; username?: string; signedOut?: boolean; mode: 'fake' | 'real' },
): string {
  const list = users
    .map((u) => `<li><strong><code>${e(u.username)}</code></strong> · ${e(u.story)}</li>`)
    .join('');
  const password = users[0]?.password ?? '';
  return layout(
    nonce,
    'Sign in · express-sms-2fa demo',
    `<h1>Sign in</h1>
<p class="muted">The demo app's own password login (the first factor). After it, express-sms-2fa asks for a code sent by SMS.</p>
${opts.signedOut ? '<p class="ok" role="status">You are signed out.</p>' : ''}
${opts.error ? `<p class="error" role="alert">${e(opts.error)}</p>` : ''}
<form method="post" action="/login">
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required autofocus value="${e(opts.username ?? '')}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="primary" type="submit">Sign in</button>
</form>
<h2>Demo users</h2>
<p class="muted">Each with the password <code>${e(password)}</code>.</p>
<ul class="users">${list}</ul>
<p class="muted">${
      opts.mode === 'fake'
        ? 'No SMS leaves this machine: a fake Smstools server runs inside the demo. Open <a href="/phone" target="_blank">the phone</a> in another tab to read the codes.'
        : 'Real mode: codes are sent through the Smstools API to the number you configured.'
    }</p>`,
  );
}

export function accountPage(
  nonce: string,
  user: DemoUser,
  info: { method: string; verifiedAt: number },
  extra = '',
): string {
  const at = new Date(info.verifiedAt).toLocaleTimeString('en-GB');
  return layout(
    nonce,
    'Account · express-sms-2fa demo',
    `<h1>Welcome, ${e(user.name)}</h1>
<p id="verified-by">You passed both factors: your password, and ${howVerified(info.method)} at ${e(at)}.</p>
${extra}
<p class="muted">This page is behind <code>tfa.requireSecondFactor</code>. The verified state lives in a signed cookie bound to your session; signing out clears it.</p>
${lifecycleLinks()}
<form method="post" action="/logout"><button class="secondary" type="submit">Sign out</button></form>`,
  );
}

/** The account page's way to change the number and its sensitive action (enrollment, step-up). */
function lifecycleLinks(): string {
  return `<p><a id="change-phone" href="/2fa/enroll?returnTo=%2Faccount">Change phone</a> · <a id="sensitive" href="/account/sensitive">A sensitive action</a></p>
<p class="muted">Changing the number needs a code from the last 5 minutes (else one to your current number first), then a code to the new number; the old number is told. The sensitive action asks for a fresh code once yours is more than 2 minutes old (<code>requireSecondFactor.within</code>).</p>`;
}

/** Behind `tfa.requireSecondFactor.within(ms)`: only a recent code gets here. */
export function sensitivePage(
  nonce: string,
  user: DemoUser,
  info: { method: string; verifiedAt: number },
  withinMs: number,
): string {
  const at = new Date(info.verifiedAt).toLocaleTimeString('en-GB');
  return layout(
    nonce,
    'Sensitive action · express-sms-2fa demo',
    `<h1>Sensitive action</h1>
<p id="sensitive-done">Done, ${e(user.name)}: your code from ${e(at)} is less than ${Math.round(withinMs / 60_000)} minutes old.</p>
<p class="muted">This route is behind <code>tfa.requireSecondFactor.within(${withinMs})</code>: an older verification is asked for a new code first.</p>
<p><a href="/account">Back to the account</a></p>`,
  );
}

/** Where the challenge page's `page.alternative` link leads. */
export function otherWaysPage(nonce: string): string {
  return layout(
    nonce,
    'Other ways to sign in · express-sms-2fa demo',
    `<h1>Other ways to sign in</h1>
<p>In your app, this is where users would pick a stronger factor: a passkey or an authenticator app. SMS and voice codes are a <em>restricted</em> authenticator under NIST SP 800-63B (SIM swaps, number porting and phishing can defeat them), so they should not be the only choice.</p>
<p class="muted">The challenge page links here through the <code>page.alternative</code> option. This demo only has SMS.</p>
<p><a href="/2fa">Back to the code</a></p>`,
  );
}

function formatNumber(digits: string): string {
  return parsePhoneNumberFromString(`+${digits}`)?.formatInternational() ?? `+${digits}`;
}

const STATUS_TEXT: Record<string, string> = {
  accepted: 'sent',
  submitted: 'sent',
  delivered: 'delivered',
  'not delivered': 'not delivered: this SMS never reached the phone',
};

/**
 * The fake phone's inbox, newest first: what the demo users' phones would have received. A
 * message that never reached the phone shows no code: the user would not have seen it.
 */
export function inboxHtml(
  messages: readonly FakeSmstoolsMessage[],
  mode: 'fake' | 'real',
  users: readonly DemoUser[],
): string {
  if (mode === 'real') {
    return '<p>Real mode: messages go through the Smstools API to your own phone, so nothing appears here.</p>';
  }
  if (messages.length === 0)
    return '<p class="muted">No messages yet. Sign in as a demo user to get one.</p>';
  const owner = (digits: string) => users.find((u) => u.phone.replace(/\D/g, '') === digits)?.name;
  const items = [...messages]
    .reverse()
    .map((m) => {
      const code = extractCode(m.message) ?? '';
      const lost = m.status === 'not delivered';
      const status = m.channel === 'voice' && !lost ? 'called' : (STATUS_TEXT[m.status] ?? m.status);
      const channel = m.channel === 'voice' ? 'Voice call' : 'SMS';
      const who = owner(m.to);
      const to = `${who ? `${who}, ` : ''}${formatNumber(m.to)}`;
      const shown = code && !lost;
      return `<li class="msg${lost ? ' lost' : ''}" data-channel="${e(m.channel)}" data-to="+${e(m.to)}" data-code="${e(code)}" data-status="${e(m.status)}">
<div class="msg-head"><span class="badge">${channel}</span><span>to ${e(to)}</span><span>${e(new Date(m.at).toLocaleTimeString('en-GB'))}</span><span>${e(status)}</span></div>
${shown ? `<p class="msg-code" aria-label="Code ${e(code.split('').join(' '))}">${e(code)}</p>` : ''}
<p class="msg-text">${m.channel === 'voice' ? 'Spoken: ' : ''}${e(m.message)}</p>
</li>`;
    })
    .join('\n');
  return `<ol class="inbox" reversed>${items}</ol>`;
}

const PHONE_SCRIPT = `(() => {
  const inbox = document.getElementById('inbox');
  let last = inbox.innerHTML;
  setInterval(async () => {
    if (document.hidden) return;
    try {
      const response = await fetch('/phone/inbox', { cache: 'no-store' });
      if (!response.ok) return;
      const html = await response.text();
      if (html !== last) { last = html; inbox.innerHTML = html; }
    } catch {}
  }, 1500);
})();`;

export function phonePage(
  nonce: string,
  messages: readonly FakeSmstoolsMessage[],
  mode: 'fake' | 'real',
  users: readonly DemoUser[],
): string {
  return layout(
    nonce,
    'Phone · express-sms-2fa demo',
    `<h1>The phone</h1>
<p class="muted">Every SMS and voice call the demo's fake Smstools server received, newest first, with the demo user each number belongs to. It updates by itself.</p>
<div id="inbox">${inboxHtml(messages, mode, users)}</div>
<script nonce="${e(nonce)}">${PHONE_SCRIPT}</script>`,
    '<noscript><meta http-equiv="refresh" content="3"></noscript>',
  );
}
