/**
 * The challenge page's enhancement script, inlined under the page's CSP nonce. Without it the page
 * works with plain form posts; with it the forms call the JSON routes with fetch, the resend and
 * "call me instead" buttons count down live, the delivery state is polled, and WebOTP fills in the
 * code where the browser offers it. No inline handlers, no eval, no external requests.
 *
 * It reads its data from `<script type="application/json" id="tfa-data">` and finds the elements by
 * their ids; any element it cannot find is left alone.
 */
export const PAGE_SCRIPT = String.raw`(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const dataNode = $('tfa-data');
  if (!dataNode || typeof window.fetch !== 'function') return;
  let data;
  try {
    data = JSON.parse(dataNode.textContent || '');
  } catch {
    return;
  }
  const T = data.texts;
  const P = data.paths;
  const el = {
    intro: $('tfa-intro'),
    status: $('tfa-status'),
    error: $('tfa-error'),
    sendForm: $('tfa-send-form'),
    send: $('tfa-send'),
    box: $('tfa-challenge'),
    verifyForm: $('tfa-verify-form'),
    code: $('tfa-code'),
    verify: $('tfa-verify'),
    expires: $('tfa-expires'),
    resendForm: $('tfa-resend-form'),
    resend: $('tfa-resend'),
    voiceForm: $('tfa-voice-form'),
    voice: $('tfa-voice'),
  };
  const POLL_MS = 2500;
  /** Delivery reports often come within a second or two: look once early after each send. */
  const FIRST_POLL_MS = 1000;
  const DEAD = ['ERR_2FA_CODE_EXPIRED', 'ERR_2FA_TOO_MANY_ATTEMPTS', 'ERR_2FA_NO_CHALLENGE'];
  let challenge = null;
  let pending = false;
  let ticker = 0;
  let poller = 0;
  let otp = null;
  let errorTimer = 0;

  const fill = (text, values) =>
    String(text).replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  const setText = (node, text) => {
    if (node && node.textContent !== text) node.textContent = text;
  };
  const show = (node, visible) => {
    if (node) node.hidden = !visible;
  };
  /** Only a same-origin path; the server already guarantees it, this is a second lock. */
  const safePath = (path) =>
    typeof path === 'string' && /^\/(?![\/\\])/.test(path) && !/[\u0000-\u001f\\]/.test(path) ? path : '/';

  function say(text) {
    setText(el.status, text || '');
  }

  function statusText(status, channel) {
    if (status === 'delivered') return channel === 'voice' ? T.called : T.delivered;
    if (status === 'calling') return T.calling;
    if (status === 'undelivered') return T.undelivered;
    return '';
  }

  /** Shows an error in the alert region; emptied first so the same message is announced again. */
  function showError(text) {
    if (!el.error) return;
    clearTimeout(errorTimer);
    el.error.textContent = '';
    if (text) errorTimer = setTimeout(() => setText(el.error, text), 60);
  }

  function errorMessage(answer) {
    const error = (answer.body && answer.body.error) || {};
    const code = error.code;
    let text = (code && T.errors[code]) || error.message || T.errors.ERR_2FA_STORE_UNAVAILABLE;
    if (code === 'ERR_2FA_CODE_INVALID' && typeof error.attemptsLeft === 'number') {
      text += ' ' + fill(T.attemptsLeft, { attempts: error.attemptsLeft });
    }
    const wait = answer.retryAfter;
    if (wait > 0 && wait <= 300) {
      text += ' ' + fill(T.retryIn, { seconds: wait, minutes: Math.ceil(wait / 60) });
    }
    return text;
  }

  function setIntro(channel) {
    if (!el.intro) return;
    const text = !challenge ? T.intro : channel === 'voice' ? T.introVoice : T.introSent;
    const nodes = [];
    text.split('{phone}').forEach((part, i) => {
      if (i > 0) {
        const strong = document.createElement('strong');
        strong.textContent = data.phone;
        nodes.push(strong);
      }
      if (part) nodes.push(document.createTextNode(part));
    });
    el.intro.replaceChildren(...nodes);
  }

  const elapsed = () => (performance.now() - challenge.at) / 1000;
  function remaining(key) {
    const value = challenge[key];
    return typeof value === 'number' ? Math.max(0, Math.ceil(value - elapsed())) : null;
  }

  function countdown(button, form, left, now, later) {
    if (!button || !form) return;
    show(form, left !== null);
    if (left === null) return;
    button.disabled = pending || left > 0;
    setText(button, left > 0 ? fill(later, { seconds: left }) : now);
  }

  function tick() {
    if (el.send) el.send.disabled = pending;
    if (el.verify) el.verify.disabled = pending;
    if (!challenge) return;
    const left = remaining('expiresIn');
    if (left <= 0) {
      end('ERR_2FA_CODE_EXPIRED');
      return;
    }
    setText(el.expires, fill(T.expiresIn, { minutes: Math.max(1, Math.ceil(left / 60)) }));
    countdown(el.resend, el.resendForm, remaining('resendIn'), T.resend, T.resendIn);
    countdown(el.voice, el.voiceForm, remaining('voiceIn'), T.voice, T.voiceIn);
  }

  /**
   * Shows a live challenge: the code field, the countdowns, polling and WebOTP. The POST routes
   * always answer status 'sent'; the delivery state comes from GET /status.
   */
  function apply(view, posted) {
    const before = challenge;
    const status = posted ? (view.channel === 'voice' ? 'calling' : before ? before.status : 'sent') : view.status;
    challenge = Object.assign({}, view, { status, at: performance.now() });
    show(el.sendForm, false);
    show(el.box, true);
    if (!before || before.channel !== challenge.channel) setIntro(challenge.channel);
    if (!before || before.status !== status) {
      // The SMS was reported undelivered and the call placed by itself: say both.
      const fellBack = before && before.channel === 'sms' && challenge.channel === 'voice' && !posted;
      say((fellBack ? T.undelivered + ' ' : '') + statusText(status, challenge.channel));
    }
    tick();
    if (!ticker) ticker = setInterval(tick, 1000);
    if (!poller) poller = setInterval(poll, POLL_MS);
    if (posted) setTimeout(poll, FIRST_POLL_MS);
    listenForOtp();
  }

  /** The challenge is over (expired, used up, gone): back to the "Text me a code" button. */
  function end(code) {
    challenge = null;
    clearInterval(ticker);
    clearInterval(poller);
    ticker = poller = 0;
    stopOtp();
    show(el.box, false);
    show(el.sendForm, true);
    setIntro(null);
    say('');
    if (code) showError(T.errors[code] || '');
    tick();
  }

  /** The host app's CSRF token (csurf, lusca, csrf-sync…) goes on every post, under both usual names. */
  const postHeaders = { 'Content-Type': 'application/json', Accept: 'application/json' };
  if (typeof data.csrf === 'string') postHeaders['X-CSRF-Token'] = postHeaders['CSRF-Token'] = data.csrf;

  async function call(path, body) {
    pending = true;
    tick();
    try {
      const response = await fetch(path, {
        method: body ? 'POST' : 'GET',
        credentials: 'same-origin',
        cache: 'no-store',
        headers: body ? postHeaders : { Accept: 'application/json' },
        body: body ? JSON.stringify(body) : undefined,
      });
      let json = {};
      try {
        json = (await response.json()) || {};
      } catch {}
      const retryAfter = Math.ceil(Number(response.headers.get('Retry-After')) || 0);
      return { ok: response.ok, status: response.status, body: json, retryAfter };
    } catch {
      return { ok: false, status: 0, body: {}, retryAfter: 0 };
    } finally {
      pending = false;
      tick();
    }
  }

  async function send(focus) {
    if (pending) return;
    say(T.sending);
    const answer = await call(P.send, { returnTo: data.returnTo });
    if (answer.ok && answer.body.status === 'verified') {
      // Verified meanwhile (another tab): nothing was sent; go where the user was going.
      window.location.assign(safePath(answer.body.returnTo));
      return;
    }
    if (answer.ok && answer.body.status === 'sent') {
      showError('');
      apply(answer.body, true);
      if (focus && el.code) el.code.focus();
      return;
    }
    say('');
    showError(errorMessage(answer));
    if (el.send && focus) el.send.focus();
  }

  async function again(kind) {
    if (pending || !challenge) return;
    const answer = await call(kind === 'voice' ? P.voice : P.resend, {});
    if (answer.ok && answer.body.status === 'sent') {
      showError('');
      apply(answer.body, true);
      say(kind === 'voice' ? T.calling : T.resent);
      if (kind === 'resend') listenForOtp(true);
      if (el.code) el.code.focus();
      return;
    }
    const code = answer.body.error && answer.body.error.code;
    if (DEAD.includes(code)) return end(code);
    showError(errorMessage(answer));
    poll();
  }

  async function verify() {
    if (pending || !challenge || !el.code) return;
    const code = el.code.value.replace(/[\s-]/g, '');
    if (!/^\d+$/.test(code) || code.length !== data.codeLength) {
      el.code.setAttribute('aria-invalid', 'true');
      showError(T.errors.ERR_2FA_BAD_REQUEST);
      el.code.focus();
      return;
    }
    stopOtp();
    const label = el.verify && el.verify.textContent;
    setText(el.verify, T.verifying);
    const answer = await call(P.verify, { code });
    if (answer.ok && answer.body.verified) {
      clearInterval(poller);
      clearInterval(ticker);
      window.location.assign(safePath(answer.body.returnTo));
      return;
    }
    setText(el.verify, label || T.verify);
    const errorCode = answer.body.error && answer.body.error.code;
    if (DEAD.includes(errorCode)) return end(errorCode);
    if (errorCode === 'ERR_2FA_CODE_INVALID' || errorCode === 'ERR_2FA_BAD_REQUEST') {
      el.code.setAttribute('aria-invalid', 'true');
      if (typeof answer.body.error.attemptsLeft === 'number') {
        challenge.attemptsLeft = answer.body.error.attemptsLeft;
      }
    }
    showError(errorMessage(answer));
    el.code.focus();
    el.code.select();
  }

  /** Follows the delivery state: "SMS delivered", "Calling you now…", "could not be delivered". */
  async function poll() {
    if (!challenge || pending || document.hidden) return;
    let response;
    try {
      response = await fetch(P.status, {
        credentials: 'same-origin',
        cache: 'no-store',
        headers: { Accept: 'application/json' },
      });
    } catch {
      return;
    }
    if (!response.ok || !challenge) return;
    const view = await response.json().catch(() => null);
    if (!view || pending) return;
    if (view.status === 'none') return end(remaining('expiresIn') > 0 ? 'ERR_2FA_NO_CHALLENGE' : 'ERR_2FA_CODE_EXPIRED');
    apply(view);
  }

  /** WebOTP: where the browser offers it, the SMS fills in the code and the form submits. */
  function listenForOtp(restart) {
    if (!('OTPCredential' in window) || !navigator.credentials || !challenge) return;
    if (otp && !restart) return;
    stopOtp();
    const controller = new AbortController();
    otp = controller;
    navigator.credentials
      .get({ otp: { transport: ['sms'] }, signal: controller.signal })
      .then((credential) => {
        if (otp !== controller || !credential || !credential.code || !el.code) return;
        otp = null;
        el.code.value = credential.code;
        verify();
      })
      .catch(() => {});
  }
  function stopOtp() {
    if (otp) otp.abort();
    otp = null;
  }

  if (el.sendForm) {
    el.sendForm.addEventListener('submit', (event) => {
      event.preventDefault();
      send(true);
    });
  }
  if (el.verifyForm) {
    el.verifyForm.addEventListener('submit', (event) => {
      event.preventDefault();
      verify();
    });
  }
  if (el.resendForm) {
    el.resendForm.addEventListener('submit', (event) => {
      event.preventDefault();
      again('resend');
    });
  }
  if (el.voiceForm) {
    el.voiceForm.addEventListener('submit', (event) => {
      event.preventDefault();
      again('voice');
    });
  }
  if (el.code) {
    el.code.addEventListener('input', () => el.code.removeAttribute('aria-invalid'));
  }
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) poll();
  });
  window.addEventListener('pagehide', stopOtp);

  if (data.challenge) {
    apply(data.challenge);
    if (el.code && document.activeElement !== el.code) el.code.focus();
  } else if (!data.error && data.autoSend) {
    // No live challenge, nothing went wrong, and the page was opened from this site: start the
    // send once, by POST (GET never sends). From another site, the user presses the button.
    send(true);
  }
})();
`;
