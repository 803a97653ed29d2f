/** Time units: every duration in this package is in milliseconds. */
export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** 6 random digits carry ~20 bits, the NIST SP 800-63B §5.1.3.2 and ASVS 2.7.6 minimum. */
export const DEFAULT_CODE_LENGTH = 6;
export const MIN_CODE_LENGTH = 6;
export const MAX_CODE_LENGTH = 10;

/** NIST SP 800-63B §5.1.3.2 / ASVS 2.7.2: an out-of-band code dies within 10 minutes. */
export const DEFAULT_CODE_TTL_MS = 5 * MINUTE;
export const MAX_CODE_TTL_MS = 10 * MINUTE;

/** Twilio Verify's 5 checks per verification (error 60202); hard cap 10 (AuthQuake's 10 was the bug). */
export const DEFAULT_MAX_ATTEMPTS = 5;
export const MAX_MAX_ATTEMPTS = 10;

/** Server-enforced resend cooldown, doubled on every resend of one challenge. */
export const DEFAULT_RESEND_COOLDOWN_MS = 30 * SECOND;
/** Twilio Verify: 5 sends per verification lifecycle (error 60203). */
export const DEFAULT_MAX_SENDS_PER_CHALLENGE = 5;
export const DEFAULT_VOICE_AFTER_MS = 30 * SECOND;
/** With delivery reports: an SMS no final report answered within this long gets the automatic call. */
export const DEFAULT_NO_REPORT_MS = MINUTE;

/** NIST SP 800-63B §4.2.3 (AAL2): re-authenticate at least every 12 hours. */
export const DEFAULT_VERIFIED_TTL_MS = 12 * HOUR;

/** Account lockout: exponential delay from the 5th consecutive failure (Cognito, django-otp);
 * NIST SP 800-63B §5.2.2 allows at most 100 consecutive failures before the factor is disabled. */
export const DEFAULT_LOCKOUT_THRESHOLD = 5;
export const DEFAULT_LOCKOUT_BASE_MS = MINUTE;
export const DEFAULT_LOCKOUT_HARD_LIMIT = 100;
export const MAX_LOCKOUT_HARD_LIMIT = 100;
/** How long the consecutive-failure counter is remembered without any new failure. */
export const FAILURE_MEMORY_MS = 365 * DAY;

/** SMS pumping defence defaults (Twilio Fraud Guard, Telnyx guidance). */
export const DEFAULT_LIMITS = {
  phonePerHour: 5,
  phonePerDay: 10,
  ipPerHour: 20,
  prefixPerHour: 10,
} as const;

/** A store call that takes longer than this fails closed with ERR_2FA_STORE_UNAVAILABLE. */
export const DEFAULT_STORE_TIMEOUT_MS = 2 * SECOND;
/** A transport that neither answers nor fails is cut off here (the smstools transport's own default is 10 s). */
export const TRANSPORT_TIMEOUT_MS = 20 * SECOND;
/** `beforeSend` gets this long to answer; a lookup API answers in well under a second. */
export const BEFORE_SEND_TIMEOUT_MS = 5 * SECOND;
/** The slowest sends under one send lock: an SMS and its voice fallback, each a `beforeSend` and a transport call at their bounds. */
export const SEND_WORK_MS = 2 * (BEFORE_SEND_TIMEOUT_MS + TRANSPORT_TIMEOUT_MS);
/**
 * Store round trips, one after another, of a send under its lock (counted: about 10, 14 with a
 * store that has no compareAndSet; kept with room), plus one storeTimeoutMs of budget contention.
 */
export const SEND_STORE_ROUNDS = 20;
/** Store round trips, one after another, of a verify under its lock (counted: about 5; kept with room). */
export const VERIFY_STORE_ROUNDS = 8;
/** How long a send that crossed the first one's answer may still join its challenge. */
export const RECENT_CHALLENGE_TTL_MS = MINUTE;
/** Challenge records outlive the code so an expired code answers 410, not 409. */
export const CHALLENGE_GRACE_MS = 10 * MINUTE;

/** Smstools delivery-report signature: accepted clock skew (community parsers use 300 s). */
export const DEFAULT_WEBHOOK_TOLERANCE_MS = 5 * MINUTE;
/** The widest window a transport may accept; replayed reports are remembered for twice that. */
export const MAX_WEBHOOK_TOLERANCE_MS = 15 * MINUTE;

/** Request bodies on /2fa routes are tiny; anything larger is refused unread. */
export const MAX_BODY_BYTES = 8 * 1024;
