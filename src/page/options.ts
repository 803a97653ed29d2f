import type { ErrorCode } from '../errors.js';
import type { LifecycleTexts } from '../lifecycle/texts.js';
import type { Locale } from '../messages.js';
import type { Countable } from './format.js';

export type { Countable, PluralForms } from './format.js';

/**
 * Every text on the challenge page. Placeholders are filled in where they make sense: `{phone}`,
 * `{length}`, `{attempts}` and `{time}` (a countdown, `m:ss`). A text with a number may instead be
 * given as its plural forms (`{ one: '{attempts} attempt left.', other: '{attempts} attempts left.' }`),
 * chosen by `Intl.PluralRules` for the page's language. Texts are plain text: they are always
 * HTML-escaped, so markup in them is shown as written.
 */
export interface PageTexts extends LifecycleTexts {
  title: string;
  /** Before the first send. `{phone}` */
  intro: string;
  /** After an SMS went out. `{phone}` */
  introSent: string;
  /** After a voice call was placed. `{phone}` */
  introVoice: string;
  /** The code comes by call because no SMS could be sent to the number. `{phone}` */
  introSmsFailed: string;
  /** The code comes by call because the SMS was reported undelivered. `{phone}` */
  introUndelivered: string;
  /** The button that starts the first send (the no-JavaScript path, and a retry after a failure). */
  send: string;
  /**
   * A button that must wait, counting down: `{label}` is its text (Verify, Send the SMS again, …)
   * and `{time}` the time left, `m:ss`.
   */
  waitIn: string;
  /** Shown while the page sends the first code by itself. */
  sending: string;
  codeLabel: string;
  /** `{length}` */
  codeHint: Countable;
  /** The hint after a voice call. `{length}` */
  codeHintVoice: Countable;
  /** A code with too few (or too many) digits; also the API's message for it. `{length}` */
  codeFormat: Countable;
  /** After the hint, counting down. `{time}` */
  expiresIn: string;
  verify: string;
  /** Shown while a code is being checked. */
  verifying: string;
  resend: string;
  voice: string;
  /** The call button once a call was placed. */
  voiceAgain: string;
  /** The delivery states of the latest message. */
  sent: string;
  delivered: string;
  calling: string;
  /** A voice call reported delivered. */
  called: string;
  undelivered: string;
  /** A voice call reported undelivered. */
  callFailed: string;
  /** `{attempts}` */
  attemptsLeft: Countable;
  /** During the account's delay after too many wrong codes (the buttons say how long). */
  locked: string;
  /** When the account is locked until support unlocks it. */
  lockedHard: string;
  signOutHint: string;
  /** Shown instead of the form when there is no usable number on file. */
  noPhone: string;
  /** The label of the sign-out control (`page.signOut`). */
  signOut: string;
  /** Told to users about SMS codes (SIM swaps, phishing), shown under the form when set. @default '' */
  riskNotice: string;
  /** The enrollment page (`enroll` option), for a user without a number. */
  enrollTitle: string;
  /** The enrollment page for a user who replaces their number. */
  enrollChangeTitle: string;
  enrollIntro: string;
  /** The label of the country list. */
  enrollCountry: string;
  /** The label of the number field. */
  enrollPhone: string;
  /** Under the number field. `{example}`: a number of the chosen country, as it is written there. */
  enrollPhoneHint: string;
  /** The button that sends the code to the typed number. */
  enrollSend: string;
  /** Once the code went out. `{phone}` (masked) */
  enrollSent: string;
  /** The link back to the number field. */
  enrollOther: string;
  /** A change of number without a recent verification: verify on the current number first. `{phone}` (masked) */
  enrollReverify: string;
  /** The button that goes to that verification. */
  enrollReverifyAction: string;
  /** On a change of number with `enroll.notifyOld`: the old number gets a notice. */
  enrollNotice: string;
  /** One message per error code; the defaults are the API's messages in the same language. */
  errors: Partial<Record<ErrorCode, string>>;
}

/** The live challenge as the page sees it (times in seconds, like `GET /2fa/status`). */
export interface PageChallenge {
  /** `sent`, `delivered`, `undelivered` or `calling`. */
  status: string;
  /** The channel of the latest send: `sms` or `voice`. */
  channel: string;
  expiresIn: number;
  /** Seconds until "resend" unlocks; `null` when the challenge has no sends left. */
  resendIn: number | null;
  /** Seconds until "call me instead" unlocks; `null` without voice or sends left. */
  voiceIn: number | null;
  attemptsLeft: number;
  /** Why the code comes by a call nobody asked for: no SMS could be sent, or it was not delivered. */
  fallback: 'failed' | 'undelivered' | null;
}

/** Why no code is live for this browser: it expired, or wrong codes used it up. */
export type PageEnded = 'expired' | 'exhausted';

/** The account may not verify or send yet: seconds left, `null` for a lock until support lifts it. */
export interface PageLock {
  retryIn: number | null;
}

/** What the page shows, for a custom `render`. */
export interface PageView {
  texts: PageTexts;
  /** The page's language (`lang`), from the `locale` option. */
  locale: Locale;
  /** The masked number on file, e.g. `+32 4•• •• •• 01`; `''` when there is none. */
  phone: string;
  /** No usable number on file: the page shows `texts.noPhone` and nothing can be sent. */
  phoneMissing: boolean;
  codeLength: number;
  /** The live challenge, or `null` before the first send (and after it expired or was used up). */
  challenge: PageChallenge | null;
  /** Why there is no live challenge, for a few minutes after it ended; else `null`. */
  ended: PageEnded | null;
  /** Set while the account waits after too many wrong codes (nothing can be verified or sent). */
  locked: PageLock | null;
  /**
   * The error of the form post that led here, shown once (or of an `?error=CODE` link), with its
   * text and, when it says to come back later, the seconds to wait.
   */
  error: { code: ErrorCode; message: string; retryIn?: number } | null;
  /** The package's own form token: the `tfa_csrf` hidden field every form post needs. */
  csrfToken: string;
  /**
   * The host app's CSRF token (`req.csrfToken()` of csurf, lusca, csrf-sync, csrf-csrf…), or
   * `null`: forms carry it as `_csrf`, the script's posts as `X-CSRF-Token` and `CSRF-Token`.
   */
  hostCsrfToken: string | null;
  /** The same-origin path to go to after verifying (already sanitised). */
  returnTo: string;
  /** Form targets and JSON endpoints. */
  paths: { page: string; send: string; resend: string; voice: string; verify: string; status: string };
  /** Allowed by the page's Content-Security-Policy for inline `<script>` and `<style>`. */
  nonce: string;
  voiceAvailable: boolean;
  /** The way out (`page.signOut`), its label resolved; `null` when not set. */
  signOut: Required<PageSignOut> | null;
  /** The link to another way to sign in, when `page.alternative` is set. */
  alternative: PageAlternative | null;
  /** The "Use a recovery code" link (`recovery` option), to the recovery-code form; else `null`. */
  recovery: { href: string; text: string } | null;
  /** The unchecked "Don't ask again on this device" box (`rememberDevice` option), its label resolved; else `null`. */
  rememberDevice: { label: string } | null;
  /**
   * Whether the script may start the send on load: only when the page was opened from this site
   * (or typed in), so that another site cannot spend the user's SMS budget by opening it.
   */
  autoSend: boolean;
  /**
   * The enhancement script as ready-to-insert `<script nonce>` elements. A custom `render` that
   * keeps the default element ids (`tfa-send-form`, `tfa-verify-form`, `tfa-code`, …) can include
   * it to get fetch posts, live countdowns, status polling and WebOTP.
   */
  script: string;
}

/** A link on the page to a stronger way to sign in. */
export interface PageAlternative {
  /** A path on this site (`/login/passkey`) or an `https:` URL. */
  href: string;
  /** The link text, e.g. `Use your authenticator app instead`. */
  text: string;
}

/** A way out of the challenge page: the app's own sign-out route. */
export interface PageSignOut {
  /** A path on this site, e.g. `/logout`. */
  action: string;
  /** `post` renders a form (with the host app's CSRF token when there is one); `get` a link. @default 'post' */
  method?: 'post' | 'get';
  /** @default texts.signOut ('Sign out', in the page's language) */
  label?: string;
}

export interface PageOptions {
  /** Replaces the page title (same as `texts.title`). */
  title?: string;
  /** Replaces any of the texts; `errors` are merged per code. */
  texts?: Partial<Omit<PageTexts, 'errors'>> & { errors?: PageTexts['errors'] };
  /**
   * CSS added after the default styles, inside the page's nonce'd `<style>`. The elements carry
   * `tfa-*` classes, and the colours are custom properties (`--tfa-accent`, `--tfa-bg`, …).
   */
  css?: string;
  /**
   * A link to another way to sign in (a passkey, an authenticator app, a recovery code): NIST
   * SP 800-63B asks that SMS, a restricted authenticator, not be the only factor offered.
   */
  alternative?: PageAlternative;
  /** A sign-out control on the page, e.g. `{ action: '/logout' }`. */
  signOut?: PageSignOut;
  /** Renders the whole page yourself. The Content-Security-Policy stays: use `view.nonce`. */
  render?: (view: PageView) => string;
}
