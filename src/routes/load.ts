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
  const onFile = parseDestination(user.phone);
  if (challenge && (!onFile || challenge.phone !== keys.phone(onFile.e164))) challenge = null;
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
