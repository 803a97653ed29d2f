// What the page shows for a state: one function for the server-rendered HTML and for the script
// (bundled into it), so that the page reads the same before and after JavaScript takes over.
import { type Countable, fillText, plural } from './format.js';
import type { PageChallenge, PageEnded, PageTexts } from './options.js';

/** Everything the page knows at one moment; waits in seconds from now. */
export interface Snapshot {
  challenge: PageChallenge | null;
  ended: PageEnded | null;
  /** The account's wait after wrong codes: 0 none, Infinity until support unlocks it. */
  lockIn: number;
  /** The first send is under way (the script's, on load). */
  sending: boolean;
  /** A send was refused for a while (a spent budget, a provider failure): wait before the next. */
  sendsBlockedIn: number;
  /** No usable number on file: nothing can be sent. */
  phoneMissing?: boolean;
  voiceAvailable: boolean;
}

/** A button that may have to wait: its label, and how long. */
export interface Wait {
  now: string;
  /** Seconds until it may be used; Infinity: not at all (no countdown). */
  wait: number;
}

export type Tone = 'ok' | 'info' | 'warn' | '';

export interface Screen {
  /** The intro, with `{phone}` still in it. */
  intro: string;
  status: { text: string; tone: Tone };
  /** A code can be typed (the field is enabled). */
  live: boolean;
  hint: string;
  /** The message the state itself calls for (an ended code, the account's wait), or ''. */
  notice: string;
  verify: Wait | null;
  send: Wait | null;
  resend: Wait | null;
  voice: Wait | null;
}

/** The form of a countable text for `count`, with its placeholders filled. */
export const countText = (text: Countable, count: number, locale: string, values: Record<string, number>) =>
  fillText(plural(text, count, locale), values);

function statusOf(s: Snapshot, t: PageTexts): Screen['status'] {
  const c = s.challenge;
  if (!c) return s.sending ? { text: t.sending, tone: 'info' } : { text: '', tone: '' };
  const voice = c.channel === 'voice';
  switch (c.status) {
    case 'delivered':
      return { text: voice ? t.called : t.delivered, tone: 'ok' };
    case 'undelivered':
      return { text: voice ? t.callFailed : t.undelivered, tone: 'warn' };
    case 'calling':
      return { text: t.calling, tone: 'info' };
    default:
      return { text: voice ? t.calling : t.sent, tone: 'info' };
  }
}

function introOf(s: Snapshot, t: PageTexts): string {
  const c = s.challenge;
  if (!c) return t.intro;
  if (c.fallback === 'failed') return t.introSmsFailed;
  if (c.fallback === 'undelivered') return t.introUndelivered;
  return c.channel === 'voice' ? t.introVoice : t.introSent;
}

/** The message an ended code or a waiting account calls for. */
function noticeOf(s: Snapshot, t: PageTexts): string {
  if (s.lockIn === Infinity) return t.lockedHard;
  if (s.ended === 'exhausted') return t.errors.ERR_2FA_TOO_MANY_ATTEMPTS ?? '';
  if (s.ended === 'expired') return t.errors.ERR_2FA_CODE_EXPIRED ?? '';
  return s.lockIn > 0 ? t.locked : '';
}

/** A button while the first send is under way: there, but not usable yet. */
const SOON = Infinity;

export function screenOf(s: Snapshot, t: PageTexts, locale: string, codeLength: number): Screen {
  const c = s.challenge;
  const shown = c !== null || s.sending;
  const sends = Math.max(s.lockIn, s.sendsBlockedIn);
  const called = c?.channel === 'voice';
  const hint = c && (called ? t.codeHintVoice : t.codeHint);
  const wait = (now: string, seconds: number | null | undefined): Wait | null =>
    seconds === null ? null : { now, wait: c ? Math.max(seconds ?? 0, sends) : SOON };
  return {
    intro: introOf(s, t),
    status: statusOf(s, t),
    live: c !== null,
    hint: hint ? countText(hint, codeLength, locale, { length: codeLength }) : '',
    notice: noticeOf(s, t),
    verify: shown ? { now: t.verify, wait: c ? s.lockIn : SOON } : null,
    send: shown || s.phoneMissing ? null : { now: t.send, wait: sends },
    resend: shown ? wait(t.resend, c?.resendIn) : null,
    voice: shown && s.voiceAvailable ? wait(called ? t.voiceAgain : t.voice, c?.voiceIn) : null,
  };
}
