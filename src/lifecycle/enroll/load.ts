// This browser's enrollment challenge: found through a pointer kept per user and first-factor
// session, so the sign-in challenge cookie stays as it is and the two can never be mixed up.
import { CHALLENGE_ID, parseChallenge, parseSendState } from '../../challenge.js';
import type { Runtime } from '../../context.js';
import { sessionFingerprint } from '../../cookie.js';
import { challengeView } from '../../delivery.js';
import { lockState } from '../../lockout.js';
import type { CheckedUser } from '../../options.js';
import type { Loaded } from '../../routes/load.js';

/**
 * What an enrollment challenge keeps as its `phone`: a marked keyed hash of the typed number. The
 * sign-in routes compare a challenge's `phone` with the number on file, which never matches it, so
 * a code sent to a typed number can never verify a sign-in.
 */
export const enrollMarker = (rt: Runtime, e164: string) => `e:${rt.keys.phone(e164)}`;

/** The key of the pointer to this user's enrollment challenge in this first-factor session. */
export const enrollPointer = (rt: Runtime, user: CheckedUser) =>
  rt.keys.recent(rt.keys.user(user.id), `enroll:${sessionFingerprint(user)}`);

/** The account's lock state and this session's enrollment challenge, in two round trips. */
export async function loadEnroll(rt: Runtime, user: CheckedUser): Promise<Loaded> {
  const { keys, store } = rt;
  const userKey = keys.user(user.id);
  const id = (await store.get(enrollPointer(rt, user))) ?? null;
  const valid = id !== null && CHALLENGE_ID.test(id);
  const challengeKeys = valid ? [keys.challenge(id), keys.state(id), keys.attempts(id)] : [];
  const [failures, failedAt, rawChallenge, rawState, rawAttempts] = await store.getMany([
    keys.failures(userKey),
    keys.failedAt(userKey),
    ...challengeKeys,
  ]);
  let challenge = valid ? parseChallenge(rawChallenge, id) : null;
  if (
    challenge &&
    (challenge.userId !== user.id ||
      challenge.session !== sessionFingerprint(user) ||
      !challenge.phone.startsWith('e:'))
  ) {
    challenge = null;
  }
  return {
    userKey,
    lock: lockState(failures, failedAt),
    challenge,
    state: challenge ? parseSendState(rawState) : null,
    attempts: Number(rawAttempts) || 0,
  };
}

/** The public view of an enrollment challenge: SMS only, so no call to offer. */
export function enrollView(rt: Runtime, loaded: Pick<Loaded, 'challenge' | 'state' | 'attempts'>) {
  const { challenge, state } = loaded;
  if (!challenge || !state) return null;
  return { ...challengeView(rt, challenge, state, loaded.attempts), voiceIn: null, fallback: null };
}

/** The live view, while a code can still be typed; else `null`. */
export function liveEnrollView(rt: Runtime, loaded: Loaded) {
  const live =
    loaded.challenge &&
    rt.config.now() < loaded.challenge.expiresAt &&
    loaded.attempts < rt.config.maxAttempts;
  return live ? enrollView(rt, loaded) : null;
}
