import type { Request, Response } from 'express';
import { userTagged } from '../../challenge.js';
import type { Runtime } from '../../context.js';
import { fingerprint } from '../../crypto.js';
import { TwoFactorError } from '../../errors.js';
import { userAgentOf } from '../../events.js';
import { withVerifyLock } from '../../lock.js';
import { assertNotLocked, lockState, recordFailure, resetFailures } from '../../lockout.js';
import type { CheckedUser } from '../../options.js';
import { ipKey } from '../../phone.js';
import type { RouteResult } from '../../routes/result.js';
import { RECOVERY_USED_MARK_MS } from '../constants.js';
import type { RecoveryConfig } from '../options.js';
import { appCall, hashesOf } from './app-calls.js';
import { findRecoveryCode, generateRecoveryCode, hashRecoveryCode, normalizeRecoveryCode } from './codes.js';
import { sendRecoveryNotice } from './notice.js';

const configOf = (rt: Runtime): RecoveryConfig => {
  if (!rt.config.recovery)
    throw new Error('express-sms-2fa: recovery codes are off: set the `recovery: { load, save }` option');
  return rt.config.recovery;
};

/**
 * A new set of recovery codes for the user: `save` gets their keyed hashes (replacing, and so
 * invalidating, the old set); the codes themselves are returned once and kept nowhere.
 */
export async function generateRecoveryCodes(
  rt: Runtime,
  userId: string,
  save: (hashes: string[]) => Promise<void>,
): Promise<string[]> {
  const { count } = configOf(rt);
  const codes = new Set<string>();
  while (codes.size < count) codes.add(generateRecoveryCode());
  const signer = rt.config.secrets[0] as string;
  const list = [...codes];
  const hashes = list.map((code) => hashRecoveryCode(signer, userId, normalizeRecoveryCode(code) as string));
  // Under the account's verify lock: a code use running meanwhile would otherwise save the old
  // set (minus its code) over the new one, and the old codes would work again.
  await underVerifyLock(rt, rt.keys.user(userId), () => save(hashes));
  rt.emit({ type: 'recovery.generated', userId, codesLeft: list.length });
  return list;
}

/** How long a new set waits for a code check of the same account to finish before answering busy. */
const GENERATE_WAIT_TRIES = 40;
const GENERATE_WAIT_MS = 50;

/** `work` under the account's verify lock, waiting a little for a code check that holds it. */
async function underVerifyLock(rt: Runtime, userKey: string, work: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    let busy = false;
    try {
      await withVerifyLock(
        rt,
        userKey,
        async () => undefined,
        () => work(),
      );
      return;
    } catch (error) {
      busy = error instanceof TwoFactorError && error.code === 'ERR_2FA_COOLDOWN';
      if (!busy || attempt >= GENERATE_WAIT_TRIES) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, GENERATE_WAIT_MS));
  }
}

/** For `tfa.recovery.generate(userId)`: the app's own `save` errors reach the app as they are. */
export async function generateForApp(rt: Runtime, userId: string | number): Promise<string[]> {
  const recovery = configOf(rt);
  if (
    (typeof userId !== 'string' || userId === '') &&
    !(typeof userId === 'number' && Number.isFinite(userId))
  ) {
    throw new TypeError('express-sms-2fa: tfa.recovery.generate(userId) needs a string or number id');
  }
  const id = String(userId);
  return generateRecoveryCodes(rt, id, async (hashes) => {
    await recovery.save(id, hashes);
  });
}

/** The user's codes left, for the app's account page. */
export async function countRecoveryCodes(rt: Runtime, userId: string | number): Promise<number> {
  return hashesOf(await configOf(rt).load(String(userId))).length;
}

function readRecoveryCode(value: unknown): string {
  if (typeof value !== 'string')
    throw new TwoFactorError('ERR_2FA_BAD_REQUEST', { message: '`code` must be a string.' });
  const code = normalizeRecoveryCode(value);
  if (!code) {
    throw new TwoFactorError('ERR_2FA_BAD_REQUEST', {
      message: 'Enter the recovery code as it was given: 12 letters and digits, like abcd-efgh-2345.',
    });
  }
  return code;
}

/**
 * POST /2fa/recovery/verify. One code check at a time per account (the lock SMS codes use), the
 * account lockout before any compare and every wrong code counted toward it. A matching code is
 * claimed by an atomic store increment before the app's `save` removes it: of any number of
 * requests racing with one code, across processes, exactly one wins, even when `load` and `save`
 * are not atomic or the app's database lags.
 */
export async function verifyRecoveryCode(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
  rawCode: unknown,
  returnTo: string,
): Promise<RouteResult> {
  const recovery = configOf(rt);
  const { config, store, keys, cookies, emit } = rt;
  const code = readRecoveryCode(rawCode);
  const userKey = keys.user(user.id);
  const who = { userId: user.id, ip: ipKey(req.ip), ...userAgentOf(req) };
  const preload = () => store.getMany([keys.failures(userKey), keys.failedAt(userKey)]);
  return withVerifyLock(rt, userKey, preload, async ([failures, failedAt]) => {
    assertNotLocked(rt, lockState(failures, failedAt));
    // Read once the lock is ours, not alongside it: a new set saved before our turn is the one checked.
    const hashes = hashesOf(await appCall('load', config.logger, () => recovery.load(user.id)));
    const index = findRecoveryCode(config.secrets, user.id, code, hashes);
    // With the user's hash tag: one slot with the user's other keys on a Redis Cluster.
    const usedKey = (hash: string) => `ru:${userTagged(userKey)}:${fingerprint(hash)}`;
    const used = index < 0 ? undefined : usedKey(hashes[index] as string);
    const claimed = used !== undefined && (await store.increment(used, RECOVERY_USED_MARK_MS)) === 1;
    if (!claimed) {
      const failed = await recordFailure(rt, userKey);
      emit({ type: 'verify.failed', ...who, reason: 'recovery', failures: failed });
      if (failed === config.lockout.hardLimit) emit({ type: 'user.locked', ...who, failures: failed });
      throw new TwoFactorError('ERR_2FA_CODE_INVALID');
    }
    // A stale read (a replica, a save still under way) may still list codes used since: they are
    // marked in the store, and must not be written back, where they would outlive their mark.
    const marks = await store.getMany(hashes.map(usedKey));
    const left = hashes.filter((_, i) => i !== index && marks[i] === undefined);
    try {
      await appCall('save', config.logger, () => recovery.save(user.id, left));
    } catch (error) {
      // Not removed, so not used: give the code back (the lock keeps others out meanwhile).
      await store.delete(used).catch(() => {});
      throw error;
    }
    await resetFailures(rt, userKey);
    const now = config.now();
    cookies.writeVerified(res, user, {
      verifiedAt: now,
      expiresAt: now + config.verifiedTtlMs,
      method: 'recovery',
    });
    cookies.clearChallenge(res);
    emit({ type: 'recovery.used', ...who, codesLeft: left.length });
    sendRecoveryNotice(rt, user);
    return { verified: true, returnTo };
  });
}
