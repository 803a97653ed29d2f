/**
 * Every error code the HTTP contract can answer with, its status and a generic, safe message in
 * English. The same words are the challenge page's; other languages: error-messages.ts.
 */
export const ERROR_CODES = {
  ERR_2FA_UNAUTHENTICATED: { status: 401, message: 'Sign in first.' },
  ERR_2FA_REQUIRED: { status: 401, message: 'A second factor is required.' },
  ERR_2FA_BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  ERR_2FA_NO_CHALLENGE: { status: 409, message: 'No code is pending. Ask for a new code.' },
  ERR_2FA_CODE_INVALID: { status: 400, message: 'That code is not right.' },
  ERR_2FA_CODE_EXPIRED: { status: 410, message: 'That code has expired. Ask for a new code.' },
  ERR_2FA_TOO_MANY_ATTEMPTS: { status: 429, message: 'Too many wrong codes. Ask for a new code.' },
  ERR_2FA_LOCKED: { status: 429, message: 'Too many wrong codes. Try again later.' },
  ERR_2FA_COOLDOWN: { status: 429, message: 'Please wait before asking again.' },
  ERR_2FA_RATE_LIMITED: { status: 429, message: 'Too many codes were requested. Try again later.' },
  ERR_2FA_DESTINATION_BLOCKED: { status: 422, message: 'Codes cannot be sent to this phone number.' },
  ERR_2FA_NO_PHONE: { status: 422, message: 'No phone number is on file for this account.' },
  ERR_2FA_PHONE_INVALID: { status: 400, message: 'Enter a valid mobile number.' },
  ERR_2FA_REVERIFY_REQUIRED: {
    status: 401,
    message: 'Confirm it is you with a code to your current number first.',
  },
  ERR_2FA_VOICE_UNAVAILABLE: { status: 409, message: 'Voice calls are not available.' },
  ERR_2FA_FORBIDDEN_ORIGIN: {
    status: 403,
    message: 'This request did not come from this site. Reload the page and try again.',
  },
  ERR_2FA_SEND_FAILED: { status: 503, message: 'The code could not be sent. Try again in a moment.' },
  ERR_2FA_STORE_UNAVAILABLE: { status: 503, message: 'Verification is unavailable. Try again in a moment.' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface TwoFactorErrorOptions {
  cause?: unknown;
  /** Seconds, sent as `Retry-After` on 429 and 503 answers. */
  retryAfter?: number;
  /** Extra fields for the JSON error body (e.g. `attemptsLeft`); never secrets. */
  details?: Record<string, unknown>;
  message?: string;
  /** Overrides the code's usual status where HTTP has a better one (405, 413, 415). */
  status?: number;
}

/** An error with a stable code and an HTTP status; its message is always safe to show. */
export class TwoFactorError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, options: TwoFactorErrorOptions = {}) {
    // These are answers, not bugs: no stack trace to capture (a few % of a refused verify's CPU).
    const { stackTraceLimit } = Error;
    Error.stackTraceLimit = 0;
    super(options.message ?? ERROR_CODES[code].message, { cause: options.cause });
    Error.stackTraceLimit = stackTraceLimit;
    this.name = 'TwoFactorError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code].status;
    this.retryAfter = options.retryAfter;
    this.details = options.details;
  }
}

/** Thrown at construction when an option is wrong; the message names the option and the fix. */
export class TwoFactorConfigError extends TypeError {
  readonly option: string;

  constructor(option: string, problem: string) {
    super(`express-sms-2fa: option \`${option}\` ${problem}`);
    this.name = 'TwoFactorConfigError';
    this.option = option;
  }
}
