import type { ErrorCode } from '../errors.js';

/** Every text on the challenge page; `{phone}`, `{seconds}` and `{attempts}` are filled in. */
export interface PageTexts {
  title: string;
  intro: string;
  introSent: string;
  introVoice: string;
  send: string;
  codeLabel: string;
  codeHint: string;
  verify: string;
  resend: string;
  resendIn: string;
  voice: string;
  voiceIn: string;
  delivered: string;
  calling: string;
  undelivered: string;
  attemptsLeft: string;
  expiresIn: string;
  signOutHint: string;
  errors: Partial<Record<ErrorCode, string>>;
}

/** What the page shows, for a custom `render`. */
export interface PageView {
  texts: PageTexts;
  /** The masked number on file, e.g. `+32 4•• •• •• 01`. */
  phone: string;
  codeLength: number;
  /** The live challenge, or `null` before the first send. */
  challenge: {
    status: string;
    channel: string;
    expiresIn: number;
    resendIn: number | null;
    voiceIn: number | null;
    attemptsLeft: number;
  } | null;
  error: { code: ErrorCode; message: string } | null;
  csrfToken: string;
  returnTo: string;
  /** Form targets and JSON endpoints. */
  paths: { page: string; send: string; resend: string; voice: string; verify: string; status: string };
  /** Allowed by the page's Content-Security-Policy for inline `<script>` and `<style>`. */
  nonce: string;
  voiceAvailable: boolean;
}

export interface PageOptions {
  /** Replaces the page title. */
  title?: string;
  /** Replaces any of the texts. */
  texts?: Partial<Omit<PageTexts, 'errors'>> & { errors?: PageTexts['errors'] };
  /** CSS added after the default styles (the page's elements carry `tfa-*` classes). */
  css?: string;
  /** Renders the whole page yourself. */
  render?: (view: PageView) => string;
}
