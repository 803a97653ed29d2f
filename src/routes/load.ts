import type { Request } from 'express';
import { type Challenge, parseChallenge, parseSendState, type SendState } from '../challenge.js';
import type { Runtime } from '../context.js';
import { sessionFingerprint } from '../cookie.js';
import { type ChallengeView, challengeView } from '../delivery.js';
import type { LockState } from '../lockout.js';
import { lockState } from '../lockout.js';
import type { CheckedUser } from '../options.js';
import { parseDestination } from '../phone.js';

export interface Loaded {
  userKey: string;
  lock: LockState;
  /** This browser's challenge, when it exists and belongs to this user and this session. */
  challenge: Challenge | null;
  state: SendState | null;
  attempts: number;
}

/** A number on file written in E.164 (`+32470123401`) is compared as it is, without parsing. */
export const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * Whether the number on file is the one the challenge's code went to (`phoneKey`, the keyed hash
 * of its E.164 form). A number on file already in E.164 form is hashed as it is (kept, boundedly):
 * equal hashes mean the very number that parsed as valid at send time. Only a number written
 * otherwise, or one that does not match, goes through libphonenumber.
 */
export function sameNumber(rt: Runtime, phoneKey: string, phone: unknown): boolean {
  if (typeof phone === 'string' && E164.test(phone) && rt.keys.phone(phone) === phoneKey) return true;
  const onFile = parseDestination(phone);
  return onFile !== null && rt.keys.phone(onFile.e164) === phoneKey;
}

/** One round trip: the account's lock state and this browser's challenge (or the one named). */
export async function load(
  rt: Runtime,
  req: Request,
  user: CheckedUser,
  id: string | null = rt.cookies.readChallenge(req),
): Promise<Loaded> {
  const { keys, store } = rt;
  const userKey = keys.user(user.id);
  const lockKeys = [keys.failures(userKey), keys.failedAt(userKey)];
  const challengeKeys = id ? [keys.challenge(id), keys.state(id), keys.attempts(id)] : [];
  const [failures, failedAt, rawChallenge, rawState, rawAttempts] = await store.getMany([
    ...lockKeys,
    ...challengeKeys,
  ]);
  let challenge = id ? parseChallenge(rawChallenge, id) : null;
  // Bound to the user and the session that started it: anyone else's cookie is "no challenge".
  if (challenge && (challenge.userId !== user.id || challenge.session !== sessionFingerprint(user))) {
    challenge = null;
  }
  // And bound to the number on file: after a change of number the old code is worth nothing.
  if (challenge && !sameNumber(rt, challenge.phone, user.phone)) challenge = null;
  return {
    userKey,
    lock: lockState(failures, failedAt),
    challenge,
    state: challenge ? parseSendState(rawState) : null,
    attempts: Number(rawAttempts) || 0,
  };
}

/** The public view of this browser's challenge while it can still be verified, else `null`. */
export function liveView(rt: Runtime, loaded: Loaded): ChallengeView | null {
  const { challenge, state } = loaded;
  const live =
    challenge && state && rt.config.now() < challenge.expiresAt && loaded.attempts < rt.config.maxAttempts;
  return live ? challengeView(rt, challenge, state, loaded.attempts) : null;
}
