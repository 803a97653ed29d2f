// Remembered devices (API.md §8): the device cookie, the one store read that admits it, the list.
import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Runtime } from '../../context.js';
import { fingerprint, randomId, safeEqual } from '../../crypto.js';
import { userAgentOf } from '../../events.js';
import type { SecondFactorInfo } from '../../guard.js';
import type { CheckedUser } from '../../options.js';
import { ipKey } from '../../phone.js';
import { MAX_DEVICES_PER_USER } from '../constants.js';
import {
  type DeviceIndex,
  type DeviceRecord,
  deviceIndexKey,
  deviceKey,
  ipPrefix,
  parseIndex,
  parseRecord,
  type RememberedDevice,
  serializeRecord,
  updateIndex,
} from './records.js';

/**
 * What the device cookie holds (signed): the user and `version` it belongs to, the device's public
 * id, its secret (144 random bits; the store keeps only its hash) and when it ends. Not the session:
 * it outlives sign-outs, which is its point.
 */
interface DeviceClaim {
  userId: string;
  version: string;
  id: string;
  token: string;
  expiresAt: number;
}

function encodeClaim(c: DeviceClaim): string {
  return Buffer.from(JSON.stringify([c.userId, c.version, c.id, c.token, c.expiresAt])).toString('base64url');
}

function decodeClaim(value: string): DeviceClaim | null {
  try {
    const p: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (!Array.isArray(p) || p.length !== 5) return null;
    const [userId, version, id, token, expiresAt] = p;
    if (![userId, version, id, token].every((s) => typeof s === 'string') || !Number.isFinite(expiresAt))
      return null;
    return { userId, version, id, token, expiresAt };
  } catch {
    return null;
  }
}

/** A body's `remember` field as a checkbox or a JSON client sends it. */
export function wantsRemember(value: unknown): boolean {
  return value === true || value === '1' || value === 'on' || value === 'true';
}

const versionOf = (user: CheckedUser) => String(user.version ?? '');

/**
 * After a verified code with the box checked: records the device and sets its cookie. The user's
 * other records are pruned on the way (expired, another `version`, beyond the 20 newest).
 */
export async function rememberDevice(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
): Promise<void> {
  const { config, store, keys } = rt;
  if (!config.rememberDevice) return;
  const ttlMs = config.rememberDevice.ttlMs;
  const userKey = keys.user(user.id);
  const now = config.now();
  const id = randomBytes(9).toString('base64url');
  const token = randomId();
  const version = versionOf(user);
  const record: DeviceRecord = {
    tokenHash: fingerprint(token),
    version,
    createdAt: now,
    lastUsedAt: now,
    userAgent: userAgentOf(req).userAgent ?? '',
    ipPrefix: ipPrefix(req.ip),
    expiresAt: now + ttlMs,
  };
  await store.set(deviceKey(userKey, id), serializeRecord(record), ttlMs);
  // Records of an older `version` no longer admit anyone: they leave the list now.
  const known = parseIndex(await store.get(deviceIndexKey(userKey)));
  const records = known.length ? await store.getMany(known.map(([other]) => deviceKey(userKey, other))) : [];
  const stale = new Set(
    known.filter((_, i) => parseRecord(records[i])?.version !== version).map(([other]) => other),
  );
  const dropped: string[] = [];
  await updateIndex(rt, userKey, (entries) => {
    const kept = entries.filter(([other]) => !stale.has(other));
    const next: DeviceIndex = [...kept, [id, record.expiresAt]];
    const excess = next.splice(0, Math.max(0, next.length - MAX_DEVICES_PER_USER));
    dropped.splice(0, dropped.length, ...excess.map(([other]) => other));
    return next;
  });
  await store.delete(...[...stale, ...dropped].map((other) => deviceKey(userKey, other)));
  rt.cookies.writeDevice(
    res,
    encodeClaim({ userId: user.id, version, id, token, expiresAt: record.expiresAt }),
    ttlMs,
  );
  rt.emit({
    type: 'device.remembered',
    userId: user.id,
    deviceId: id,
    ip: ipKey(req.ip),
    ...userAgentOf(req),
  });
}

/** Whether the request brings a device cookie at all (no store, no HMAC): the guard's cheap test. */
export function hasDeviceCookie(rt: Runtime, req: Request): boolean {
  const header = req.headers.cookie;
  return typeof header === 'string' && header.includes(`${rt.config.cookie.name}-device=`);
}

/**
 * A browser with no verified state for this session, but a device cookie: one store read confirms
 * the device is still remembered (not revoked, same `version`, not expired), then the ordinary
 * session-bound verified cookie is issued, so the next requests cost the guard no store at all.
 * `null` when the device does not admit this user; a device that can never admit anyone again
 * loses its cookie.
 */
export async function admitDevice(
  rt: Runtime,
  req: Request,
  res: Response,
  user: CheckedUser,
): Promise<SecondFactorInfo | null> {
  const { config, store, keys, cookies } = rt;
  if (!config.rememberDevice) return null;
  const raw = cookies.readDevice(req);
  if (raw === null) return null;
  const claim = decodeClaim(raw);
  if (!claim) {
    cookies.clearDevice(res);
    return null;
  }
  // Another user's device on a shared browser: theirs to keep, not this user's to use.
  if (claim.userId !== user.id) return null;
  const userKey = keys.user(user.id);
  const key = deviceKey(userKey, claim.id);
  const now = config.now();
  if (claim.version !== versionOf(user) || now >= claim.expiresAt) {
    cookies.clearDevice(res);
    store.delete(key).catch(() => {});
    return null;
  }
  const stored = await store.get(key);
  const record = parseRecord(stored);
  if (
    !record ||
    !safeEqual(record.tokenHash, fingerprint(claim.token)) ||
    record.version !== claim.version ||
    now >= record.expiresAt
  ) {
    cookies.clearDevice(res);
    return null;
  }
  // `verifiedAt` is when a code was typed: the one that remembered this device, not this
  // admission, so that no app reading `req.secondFactor.verifiedAt` takes a device for a fresh code.
  const verifiedAt = Math.min(now, record.createdAt);
  cookies.writeVerified(res, user, {
    verifiedAt,
    expiresAt: Math.min(now + config.verifiedTtlMs, record.expiresAt),
    method: 'device',
  });
  // Last used: compare-and-set, so that a revoke meanwhile is never undone by this write.
  const touched = serializeRecord({ ...record, lastUsedAt: now, ipPrefix: ipPrefix(req.ip) });
  store.compareAndSet(key, stored, touched, record.expiresAt - now).catch(() => {});
  return { verifiedAt, method: 'device' };
}

export async function listDevices(rt: Runtime, userId: string | number): Promise<RememberedDevice[]> {
  const userKey = rt.keys.user(String(userId));
  const index = parseIndex(await rt.store.get(deviceIndexKey(userKey)));
  if (index.length === 0) return [];
  const records = await rt.store.getMany(index.map(([id]) => deviceKey(userKey, id)));
  const now = rt.config.now();
  const devices: RememberedDevice[] = [];
  index.forEach(([id], i) => {
    const r = parseRecord(records[i]);
    if (r && r.expiresAt > now) {
      devices.push({
        id,
        createdAt: r.createdAt,
        lastUsedAt: r.lastUsedAt,
        userAgent: r.userAgent,
        ipPrefix: r.ipPrefix,
      });
    }
  });
  return devices.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
}

/** Forgets one device: its cookie admits nobody from now on. True when there was one to forget. */
export async function revokeDevice(rt: Runtime, userId: string | number, id: string): Promise<boolean> {
  if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(id)) return false;
  const uid = String(userId);
  const userKey = rt.keys.user(uid);
  const existed = (await rt.store.consume(deviceKey(userKey, id))) !== undefined;
  await updateIndex(rt, userKey, (entries) => entries.filter(([other]) => other !== id));
  if (existed) rt.emit({ type: 'device.revoked', userId: uid, deviceId: id });
  return existed;
}

/** Forgets every device of the user; the number forgotten. */
export async function revokeAllDevices(rt: Runtime, userId: string | number): Promise<number> {
  const uid = String(userId);
  const userKey = rt.keys.user(uid);
  let ids: string[] = [];
  await updateIndex(rt, userKey, (entries) => {
    ids = entries.map(([id]) => id);
    return [];
  });
  const consumed = await Promise.all(ids.map((id) => rt.store.consume(deviceKey(userKey, id))));
  const revoked = ids.filter((_, i) => consumed[i] !== undefined);
  for (const id of revoked) rt.emit({ type: 'device.revoked', userId: uid, deviceId: id });
  return revoked.length;
}
