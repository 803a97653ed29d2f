import type { KeyObject } from 'node:crypto';
import { BoundedCache } from './bounded-cache.js';
import { fingerprint, HmacKey, hashCodeWith, hmacKeys, keyHash, randomId } from './crypto.js';
import type { Config } from './options.js';

/**
 * One code sent to one user in one browser. Written once when the first send succeeds and
 * consumed by the verify that succeeds; what changes with later sends lives in `SendState`,
 * so a slow resend can never bring a consumed challenge back.
 */
export interface Challenge {
  id: string;
  userId: string;
  /** Fingerprint of the first-factor session that started it. */
  session: string;
  /** HMAC(secret, id + code). */
  hash: string;
  /** The code and the number, sealed (AES-GCM) for resends and voice calls. */
  sealed: string;
  expiresAt: number;
  returnTo: string;
  country: string;
  masked: string;
  /** The rate-limit key of the client that started it (voice fallback from a webhook). */
  ip: string;
  /** Keyed hash of the number the code went to: a change of number ends the challenge. */
  phone: string;
}

export type Delivery = 'sent' | 'delivered' | 'undelivered' | 'calling';

export interface SendState {
  sends: number;
  firstSmsAt: number;
  lastSentAt: number;
  voiceCalls: number;
  lastChannel: 'sms' | 'voice';
  delivery: Delivery;
  /** Provider ids of the messages sent, newest last. */
  messageIds: string[];
}

export interface Sealed {
  code: string;
  to: string;
}

const str = (v: unknown): v is string => typeof v === 'string';
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const DELIVERIES: readonly unknown[] = ['sent', 'delivered', 'undelivered', 'calling'];

function parseJson(value: string | undefined): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(value);
  } catch {
    return null;
  }
}

/*
 * Records are stored as JSON arrays in a fixed order, not objects: no field names to keep once
 * per pending challenge (memory) or to send to Redis. The masked number is kept in ASCII (`*`,
 * half the memory of `•`) and read back with `•`.
 */
// The id is the key's, not stored again; the hash and the sealed code are bound to it anyway.
const CHALLENGE_FIELDS = [
  'userId',
  'session',
  'hash',
  'sealed',
  'expiresAt',
  'returnTo',
  'country',
  'masked',
  'ip',
  'phone',
] as const satisfies readonly (keyof Challenge)[];
const STATE_FIELDS = [
  'sends',
  'firstSmsAt',
  'lastSentAt',
  'voiceCalls',
  'lastChannel',
  'delivery',
  'messageIds',
] as const satisfies readonly (keyof SendState)[];

/** Where `verifyAttempt` finds what it reads in a challenge record (one-based, as in Lua). */
export const CHALLENGE_RECORD_FIELDS = {
  length: CHALLENGE_FIELDS.length,
  userId: CHALLENGE_FIELDS.indexOf('userId') + 1,
  session: CHALLENGE_FIELDS.indexOf('session') + 1,
  hash: CHALLENGE_FIELDS.indexOf('hash') + 1,
  expiresAt: CHALLENGE_FIELDS.indexOf('expiresAt') + 1,
  phone: CHALLENGE_FIELDS.indexOf('phone') + 1,
};

export function serializeChallenge(challenge: Challenge): string {
  return JSON.stringify(
    CHALLENGE_FIELDS.map((f) => (f === 'masked' ? challenge.masked.replace(/•/g, '*') : challenge[f])),
  );
}

export function serializeSendState(state: SendState): string {
  return JSON.stringify(STATE_FIELDS.map((f) => state[f]));
}

/** A stored challenge, or `null` for anything that is not exactly one (a buggy store reads as "none"). */
export function parseChallenge(value: string | undefined, id: string): Challenge | null {
  return challengeOf(parseJson(value), id);
}

/** The same from the record already parsed (`JSON.parse` of what is stored), e.g. by `verifyAttempt`. */
export function challengeOf(c: unknown, id: string): Challenge | null {
  if (!Array.isArray(c) || c.length !== CHALLENGE_FIELDS.length) return null;
  const [userId, session, hash, sealed, expiresAt, returnTo, country, masked, ip, phone] = c;
  if (!str(userId) || !str(session) || !str(hash) || !str(sealed) || !str(returnTo) || !str(phone))
    return null;
  if (!num(expiresAt) || !str(country) || !str(masked) || !str(ip)) return null;
  const shown = masked.replace(/\*/g, '•');
  return {
    id,
    userId,
    session,
    hash,
    sealed,
    expiresAt,
    returnTo,
    country,
    masked: shown,
    ip,
    phone,
  };
}

export function parseSendState(value: string | undefined): SendState | null {
  const s = parseJson(value);
  if (!Array.isArray(s) || s.length !== STATE_FIELDS.length) return null;
  const [sends, firstSmsAt, lastSentAt, voiceCalls, lastChannel, delivery, messageIds] = s;
  if (
    !num(sends) ||
    !num(firstSmsAt) ||
    !num(lastSentAt) ||
    !num(voiceCalls) ||
    !DELIVERIES.includes(delivery)
  ) {
    return null;
  }
  if (
    (lastChannel !== 'sms' && lastChannel !== 'voice') ||
    !Array.isArray(messageIds) ||
    !messageIds.every(str)
  ) {
    return null;
  }
  return {
    sends,
    firstSmsAt,
    lastSentAt,
    voiceCalls,
    lastChannel,
    delivery: delivery as Delivery,
    messageIds,
  };
}

/** What a challenge seals: `code number` (digits, a space, E.164), no JSON around it. */
export const serializeSealed = (sealed: Sealed): string => `${sealed.code} ${sealed.to}`;

export function parseSealed(value: string | undefined): Sealed | null {
  // A challenge sealed by an earlier release (`{"code":…,"to":…}`) still pending after an upgrade.
  if (value?.startsWith('{')) {
    const s = parseJson(value) as Record<string, unknown> | null;
    return s && str(s.code) && str(s.to) ? { code: s.code, to: s.to } : null;
  }
  const space = value?.indexOf(' ') ?? -1;
  if (value === undefined || space < 1 || space === value.length - 1) return null;
  return { code: value.slice(0, space), to: value.slice(space + 1) };
}

/**
 * Redis Cluster hash tags. The first characters of a user key are that user's tag: every key of
 * the user (failure count, locks, newest challenge) and of the user's challenges (record, send
 * state, attempts) carries it in braces, so one script or `MGET` can touch them together (one
 * hash slot), while different users spread over the slots. Three base64url characters are 18 bits,
 * more than the 16,384 slots.
 */
const TAG_LENGTH = 3;
/** Random part of a challenge id: 18 bytes, 144 bits (`randomId()`). */
const RANDOM_ID_LENGTH = 24;
/** A challenge id: the random part, then its user's tag (ids from before the tags have none). */
export const CHALLENGE_ID = /^[A-Za-z0-9_-]{24}(?:[A-Za-z0-9_-]{3})?$/;

/** A new challenge id for this user: 144 random bits, then the user's hash tag (not secret). */
export function newChallengeId(userKey: string): string {
  return randomId() + userKey.slice(0, TAG_LENGTH);
}

/**
 * `{tag}rest`: the user key with its tag in braces, for every key of one user (the key's hash slot
 * is the tag's). Recovery marks and remembered devices use it too.
 */
export const userTagged = (userKey: string) =>
  `{${userKey.slice(0, TAG_LENGTH)}}${userKey.slice(TAG_LENGTH)}`;
/** `random{tag}`: a challenge id with its user's tag in braces (an id without a tag stays as it is). */
const idTagged = (id: string) =>
  id.length === RANDOM_ID_LENGTH + TAG_LENGTH
    ? `${id.slice(0, RANDOM_ID_LENGTH)}{${id.slice(RANDOM_ID_LENGTH)}}`
    : id;

/** True when the challenge's keys share the user's hash slot (its id carries that user's tag). */
export function sharesUserSlot(id: string, userKey: string): boolean {
  return id.length === RANDOM_ID_LENGTH + TAG_LENGTH && id.endsWith(userKey.slice(0, TAG_LENGTH));
}

/** The prefix of the per-IP send counters' keys. */
export const IP_BUDGET_KEY = 'b:ip:';

/**
 * Users whose key and number hash are kept: the ones signing in right now. An entry is needed from
 * a user's send to their verify, so the cache must hold every user who sent a code in that window:
 * at 10,000 (like the session fingerprints and the verified-claim cache), 33 sign-ins a second with
 * five minutes to type the code, or 330 a second with 30 s. A miss costs a SHA-256 and an HMAC on
 * the verify; both caches together hold at most ~2.3 MB (about 230 B a user for the two entries).
 */
export const HOT_USERS = 10_000;

/**
 * Store keys. Numbers and addresses appear only as keyed hashes, under the *last* secret: it stays
 * put while a new one is put first (`[new, old]`), so a rotation does not restart the budgets.
 * Users appear as an unkeyed fingerprint, so that no rotation ever lifts a lockout.
 * A user's keys and their challenges' keys carry the user's hash tag (`{…}`, see `TAG_LENGTH`);
 * the others (budgets, messages, reports) hash as a whole and spread over a Redis Cluster.
 */
export function createKeys(config: Config) {
  // The secrets as HMAC keys prepared once (hmacKeys): the key hashes under the last, the code under each.
  const secretKeys = hmacKeys(config.secrets);
  const secret = secretKeys.at(-1) as KeyObject;
  // Every verify hashes its typed code under each secret: through prepared keys, no Hmac object.
  const codeKeys = secretKeys.map((key) => new HmacKey(key));
  const hashed = (kind: string, value: string) => keyHash(secret, kind, value);
  // A user's key and the keyed hash of a number repeat on every request of that user (the send, each
  // verify): the most recent are kept, like the session fingerprints. Both are pure functions of their
  // input. Bounded (about 100 B an entry each): a fixed cost, not one per pending challenge.
  const users = new BoundedCache<string, string>(HOT_USERS);
  const phones = new BoundedCache<string, string>(HOT_USERS);
  const userKeyOf = (userId: string) => fingerprint(`user:${userId}`);
  const phoneKeyOf = (e164: string) => hashed('phone', e164);
  return {
    /** HMAC(secret, challenge id + typed code) under every secret, the first first (rotation). */
    codeHashes: (id: string, code: string) => codeKeys.map((key) => hashCodeWith(key, id, code)),
    challenge: (id: string) => `c:${idTagged(id)}`,
    state: (id: string) => `s:${idTagged(id)}`,
    attempts: (id: string) => `a:${idTagged(id)}`,
    message: (messageId: string) => `m:${hashed('message', messageId)}`,
    /** A send to this number waiting for the provider's answer, and the reports that came before it. */
    inFlight: (e164: string) => `i:${hashed('inflight', e164)}`,
    /** Set while authentic delivery reports about our messages reach the app (the no-report call waits for it). */
    reportsWork: () => 'rw',
    /** A delivery report already acted on, by the hash of its body. */
    webhook: (rawBody: Buffer) => `w:${fingerprint(rawBody)}`,
    user: (userId: string) => users.memo(userId, userKeyOf),
    /** The number a challenge's code went to, for comparing with the number on file. */
    phone: (e164: string) => phones.memo(e164, phoneKeyOf),
    failures: (userKey: string) => `f:${userTagged(userKey)}`,
    failedAt: (userKey: string) => `fa:${userTagged(userKey)}`,
    sendLock: (userKey: string) => `l:${userTagged(userKey)}`,
    verifyLock: (userKey: string) => `v:${userTagged(userKey)}`,
    /** The newest challenge of a user in one first-factor session (the pair hashed: a short key). */
    recent: (userKey: string, session: string) =>
      `r:{${userKey.slice(0, TAG_LENGTH)}}${fingerprint(`${userKey}:${session}`)}`,
    /** A send budget's sliding-window record (limits.ts), per client IP, prefix, number, or the app. */
    budget: (kind: string, value: string) => `b:${kind}:${hashed(kind, value)}`,
  };
}

export type Keys = ReturnType<typeof createKeys>;
