/**
 * The challenge page's enhancement script, built and minified into the page (script.ts). Without
 * it the page works with plain form posts; with it the forms call the JSON routes with fetch, every
 * wait counts down live, the delivery state is polled while a report can still come, the tabs of
 * one browser keep each other up to date, and WebOTP fills in the code where the browser offers it.
 * No inline handlers, no eval, no external requests.
 *
 * It reads its data from `<script type="application/json" id="tfa-data">` and finds the elements by
 * their ids; what the page shows for a state comes from the screen logic the server renders with.
 * Type-checked with the DOM by tsconfig.client.json (the base tsconfig.json leaves the browser
 * code out, so server code has no DOM globals).
 */
import { fillText, timeValues } from '../format.js';
import type { PageChallenge, PageEnded, PageTexts } from '../options.js';
import { countText, screenOf, type Wait } from '../screen.js';
import { type Answer, call, safePath } from './api.js';
import { keepDigits } from './code-input.js';
import { createPoller } from './poller.js';

interface Data {
  /** The texts the script needs; `errors` only those it says without an answer, and the app's own. */
  texts: PageTexts;
  phone: string;
  codeLength: number;
  challenge?: PageChallenge;
  ended?: PageEnded;
  locked?: { retryIn: number | null };
  error?: { code: string; retryIn: number };
  returnTo: string;
  /** Where the routes answer (they follow the mount point). */
  paths: { page: string; send: string; resend: string; voice: string; verify: string; status: string };
  voiceAvailable: boolean;
  autoSend: boolean;
  /** The host app's CSRF token, when its middleware offers one. */
  csrf: string | null;
}

type Action = 'send' | 'resend' | 'voice' | 'verify';

/** The challenge ends with these answers, for this reason (`null`: it is simply gone). */
const ENDS: Record<string, PageEnded | null> = {
  CODE_EXPIRED: 'expired',
  TOO_MANY_ATTEMPTS: 'exhausted',
  NO_CHALLENGE: null,
};

// biome-ignore lint/suspicious/noExplicitAny: each caller knows which element it asks for
const $ = (id: string): any => document.getElementById(`tfa-${id}`);

function start(): void {
  let data: Data;
  try {
    data = JSON.parse($('data').textContent as string);
  } catch {
    return;
  }
  const T = data.texts;
  const locale = document.documentElement.lang;
  const E = T.errors as Record<string, string | undefined>;
  const P = data.paths;
  const L = data.codeLength;
  const intro: HTMLElement = $('intro');
  const status: HTMLElement = $('status');
  const alert: HTMLElement = $('error');
  const hint: HTMLElement = $('code-hint');
  const code: HTMLInputElement = $('code');
  const verifyButton: HTMLButtonElement = $('verify');
  const form: HTMLFormElement = $('form');
  // A custom `render` that left out one of these gets the plain forms only.
  if (![intro, status, alert, hint, code, verifyButton, form, $('actions')].every(Boolean)) return;

  // What the page knows; times as performance.now() deadlines, so that countdowns never drift.
  let view: PageChallenge | null = null;
  let viewAt = 0;
  let ended = data.ended ?? null;
  let lockUntil = 0;
  let sending = false;
  let blockedUntil = 0;
  let pending: Action | null = null;
  /** The page is on its way to the app (see `go`). */
  let leaving = false;
  let message = '';
  let otp: AbortController | null = null;
  const now = () => performance.now();
  const secondsUntil = (deadline: number) =>
    deadline === Infinity ? deadline : Math.max(0, (deadline - now()) / 1000);
  const left = (seconds: number | null) =>
    seconds === null ? null : Math.max(0, seconds - (now() - viewAt) / 1000);
  const setLock = (locked: Data['locked'] | undefined) => {
    lockUntil = !locked ? 0 : locked.retryIn === null ? Infinity : now() + locked.retryIn * 1000;
  };
  const codeFormat = () => countText(T.codeFormat, L, locale, { length: L });
  const setText = (node: HTMLElement | null, text: string) => {
    if (node && node.textContent !== text) node.textContent = text;
  };

  /** A button of the screen: shown or not, usable or not, and what it says (live countdown). */
  function button(name: string, w: Wait | null, busy?: string) {
    const node: HTMLButtonElement | null = $(name);
    if (!node) return;
    node.hidden = !w;
    if (!w) return;
    node.classList.remove('tfa-wait');
    node.disabled = pending !== null || leaving || w.wait > 0;
    const counting = w.wait > 0 && w.wait < Infinity;
    setText(node, busy ?? (counting ? fillText(T.waitIn, { label: w.now, ...timeValues(w.wait) }) : w.now));
  }

  /** Brings every element in line with what the page knows; runs every second and after each change. */
  function render() {
    if (view && left(view.expiresIn) === 0) {
      view = null;
      ended = 'expired';
      message = '';
      stopOtp();
    }
    const screen = screenOf(
      {
        challenge: view && {
          ...view,
          expiresIn: left(view.expiresIn) as number,
          resendIn: left(view.resendIn),
          voiceIn: left(view.voiceIn),
        },
        ended,
        lockIn: secondsUntil(lockUntil),
        sending,
        sendsBlockedIn: secondsUntil(blockedUntil),
        voiceAvailable: data.voiceAvailable,
      },
      T,
      locale,
      L,
    );
    if (intro.dataset.template !== screen.intro) {
      intro.dataset.template = screen.intro;
      const strong = document.createElement('strong');
      strong.textContent = data.phone;
      const [before, after] = screen.intro.split('{phone}');
      intro.replaceChildren(before ?? '', ...(after === undefined ? [] : [strong, after]));
    }
    setText(status, screen.status.text);
    status.dataset.tone = screen.status.tone;
    code.disabled = !screen.live;
    const expires = view ? ` ${fillText(T.expiresIn, timeValues(left(view.expiresIn) as number))}` : '';
    setText(hint, screen.hint && screen.hint + expires);
    setText(alert, message || screen.notice);
    button('verify', screen.verify, pending === 'verify' ? T.verifying : undefined);
    button('send', screen.send);
    button('resend', screen.resend);
    button('voice', screen.voice);
    $('actions').hidden = !screen.resend && !screen.voice;
    return screen;
  }

  /** Shows an error; the same text again is emptied first, so that it is announced again. */
  function say(text: string): void {
    message = text;
    if (text && alert.textContent === text) {
      alert.textContent = '';
      setTimeout(render, 60);
    } else render();
  }

  /** A live challenge from the server: a POST's answer (`posted`) or a status check. True when it changed. */
  function take(next: PageChallenge, posted?: boolean): boolean {
    const before = view;
    let state = next.status;
    // The POST routes answer 'sent': for a call, that is a call under way.
    if (posted && next.channel === 'voice') state = 'calling';
    const changed = before?.status !== state || before.channel !== next.channel;
    view = { ...next, status: state };
    viewAt = now();
    ended = null;
    return changed;
  }

  /**
   * Leaves for `path`, once. A verify's answer, a status check that was still out, a sibling tab's
   * "verified": each may say so, and a second navigation would abort the first (net::ERR_ABORTED)
   * and load the page again. From here on, answers that still come change nothing, and the
   * buttons stay off (a second click would post a code already used).
   */
  const go = (path: unknown = data.returnTo) => {
    if (leaving) return;
    leaving = true;
    poller.stop();
    stopOtp();
    render();
    window.location.assign(safePath(path));
  };

  /** GET /status: the truth for this browser, whatever another tab or the provider did. */
  async function refresh(): Promise<boolean> {
    if (pending || leaving) return false;
    const answer = await call(P.status);
    const body = answer.body;
    if (!answer.ok || pending || leaving) return false;
    if (body.status === 'verified') {
      go();
      return false;
    }
    setLock(body.locked);
    let changed = true;
    if (body.status !== 'none') {
      // A code another tab asked for: the words about this tab's last code no longer apply.
      if (!view) message = '';
      changed = take(body);
    } else if (view || ended !== (body.ended ?? null)) {
      if (!body.ended) message = E.ERR_2FA_NO_CHALLENGE ?? '';
      view = null;
      ended = body.ended ?? null;
    } else changed = false;
    render();
    return changed;
  }

  const poller = createPoller(
    refresh,
    () => !leaving && (view?.status === 'sent' || view?.status === 'calling'),
  );

  // Other tabs of this browser: a change there is checked here at once; a verify there ends this one.
  const tabs = window.BroadcastChannel ? new BroadcastChannel(`tfa:${P.page}`) : null;
  if (tabs) {
    tabs.onmessage = (event) => {
      if (event.data === 'verified') go();
      else if (!document.hidden) poller.now();
    };
  }

  /** An answer that is not a success: the state it reveals, then the words for it. */
  async function failed(answer: Answer, action: Action): Promise<void> {
    const error = answer.body.error ?? {};
    let name = String(error.code).slice(8); // without `ERR_2FA_`
    let text = E[error.code] || error.message || E.ERR_2FA_STORE_UNAVAILABLE || '';
    sending = false;
    if (action === 'verify' && /^(CODE_INVALID|BAD_REQUEST)$/.test(name)) {
      code.setAttribute('aria-invalid', 'true');
      if (name === 'BAD_REQUEST') text = codeFormat();
    }
    if (name === 'CODE_INVALID' && view) {
      const n = error.attemptsLeft;
      view.attemptsLeft = n;
      text += ` ${countText(T.attemptsLeft, n, locale, { attempts: n })}`;
      // The last attempt of the code: it is used up.
      if (n === 0) name = 'TOO_MANY_ATTEMPTS';
    }
    const blocked = name === 'RATE_LIMITED' || name === 'SEND_FAILED';
    if (blocked) blockedUntil = now() + answer.retryAfter * 1000;
    if (Object.hasOwn(ENDS, name)) {
      view = null;
      ended = ENDS[name] ?? null;
    }
    message = '';
    // The state after a refusal (a wait that started, a cooldown, a code used up) comes from the server,
    // and what it says (the code is used up, the account waits) says more than the refusal.
    await refresh();
    say(!blocked && (ended || lockUntil > now()) ? '' : text);
    if (action === 'verify' && view) code.select();
  }

  async function act(action: Action, body: object): Promise<Answer> {
    pending = action;
    render();
    const answer = await call(P[action], body, data.csrf ?? undefined);
    pending = null;
    return answer;
  }

  async function send(action: 'send' | 'resend' | 'voice'): Promise<void> {
    if (pending || leaving) return;
    sending = action === 'send' && !view;
    const answer = await act(action, { returnTo: data.returnTo });
    if (answer.body.status === 'verified') return go();
    if (answer.body.status !== 'sent') return failed(answer, action);
    sending = false;
    message = '';
    take(answer.body, true);
    render();
    tabs?.postMessage('changed');
    poller.restart();
    listenForOtp(action === 'resend');
    code.focus();
  }

  async function verify(): Promise<void> {
    if (pending || leaving || !view) return;
    const typed = code.value.replace(/[\s-]/g, '');
    if (typed.length !== L || !/^\d+$/.test(typed)) {
      code.setAttribute('aria-invalid', 'true');
      code.focus();
      return say(codeFormat());
    }
    stopOtp();
    // The "Don't ask again on this device" box (rememberDevice), when the page has one.
    const remember = ($('remember') as HTMLInputElement | null)?.checked === true;
    const answer = await act('verify', remember ? { code: typed, remember } : { code: typed });
    if (!answer.body.verified) return failed(answer, 'verify');
    tabs?.postMessage('verified');
    go(answer.body.returnTo);
  }

  /** WebOTP: where the browser offers it, the SMS fills in the code and the form submits. */
  function listenForOtp(restart: boolean): void {
    if (!('OTPCredential' in window) || !view || (otp && !restart)) return;
    stopOtp();
    const controller = new AbortController();
    otp = controller;
    navigator.credentials
      .get({ otp: { transport: ['sms'] }, signal: controller.signal } as CredentialRequestOptions)
      .then((credential) => {
        const found = (credential as { code?: string } | null)?.code;
        if (otp !== controller || !found) return;
        otp = null;
        code.value = found;
        verify();
      })
      .catch(() => {});
  }
  function stopOtp(): void {
    otp?.abort();
    otp = null;
  }

  // One form: the button that submitted it says what to do (Enter in the field is Verify).
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const action = (event.submitter?.id ?? '').slice(4);
    if (action === 'send' || action === 'resend' || action === 'voice') send(action);
    else verify();
  });
  keepDigits(code, L, () => code.removeAttribute('aria-invalid'));
  window.addEventListener('pagehide', stopOtp);
  // Back from the app through the back/forward cache: the page is live again, and asks where it stands.
  window.addEventListener('pageshow', (event) => {
    if (!event.persisted || !leaving) return;
    leaving = false;
    render();
    poller.now();
  });
  // The script keeps every wait and message itself: the no-JavaScript timer steps aside.
  alert.classList.remove('tfa-until');

  setLock(data.locked);
  if (data.challenge) take(data.challenge);
  if (data.error && /RATE_LIMITED|SEND_FAILED/.test(data.error.code)) {
    blockedUntil = now() + data.error.retryIn * 1000;
  }
  // The server chose the words of a post's error (with the attempts left): keep them, unless they
  // are the state's own message, which follows the state from now on.
  const served = alert.textContent ?? '';
  if (render().notice !== served) say(served);
  setInterval(render, 1000);
  if (view) {
    poller.restart();
    listenForOtp(false);
    code.focus();
  } else if (data.autoSend) {
    // Nothing pending, nothing went wrong, opened from this site: start the send once, by POST.
    send('send');
  }
}

start();
