// How remembered devices are kept in the store: one record per device, one index per user.
import { isIPv4 } from 'node:net';
import { userTagged } from '../../challenge.js';
import type { Runtime } from '../../context.js';
import { TwoFactorError } from '../../errors.js';
import { ipKey } from '../../phone.js';

/** What the store keeps about one remembered device. The device's secret is there only as a hash. */
export interface DeviceRecord {
  /** Fingerprint (SHA-256) of the secret in the device cookie. */
  tokenHash: string;
  /** The user's `version` when it was remembered: a change ends it. */
  version: string;
  createdAt: number;
  lastUsedAt: number;
  /** At most 256 characters. */
  userAgent: string;
  /** The client's network, never its address: IPv4 /24 (`203.0.113.0/24`), IPv6 /48. */
  ipPrefix: string;
  expiresAt: number;
}

/** A remembered device as `tfa.devices.list` shows it (no secret, no full address). */
export interface RememberedDevice {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  userAgent: string;
  ipPrefix: string;
}

const FIELDS = [
  'tokenHash',
  'version',
  'createdAt',
  'lastUsedAt',
  'userAgent',
  'ipPrefix',
  'expiresAt',
] as const satisfies readonly (keyof DeviceRecord)[];

// With the user's hash tag, like the user's other keys: one slot on a Redis Cluster.
export const deviceKey = (userKey: string, id: string) => `d:${userTagged(userKey)}:${id}`;
export const deviceIndexKey = (userKey: string) => `dl:${userTagged(userKey)}`;

export function serializeRecord(record: DeviceRecord): string {
  return JSON.stringify(FIELDS.map((f) => record[f]));
}

export function parseRecord(value: string | undefined): DeviceRecord | null {
  if (value === undefined) return null;
  try {
    const r: unknown = JSON.parse(value);
    if (!Array.isArray(r) || r.length !== FIELDS.length) return null;
    const [tokenHash, version, createdAt, lastUsedAt, userAgent, ipPrefix, expiresAt] = r;
    const strings = [tokenHash, version, userAgent, ipPrefix].every((s) => typeof s === 'string');
    const numbers = [createdAt, lastUsedAt, expiresAt].every(Number.isFinite);
    return strings && numbers
      ? { tokenHash, version, createdAt, lastUsedAt, userAgent, ipPrefix, expiresAt }
      : null;
  } catch {
    return null;
  }
}

/** The user's devices: `[id, expiresAt]` pairs. */
export type DeviceIndex = [string, number][];

export function parseIndex(value: string | undefined): DeviceIndex {
  try {
    const list: unknown = value === undefined ? [] : JSON.parse(value);
    if (!Array.isArray(list)) return [];
    return list.filter(
      (e): e is [string, number] =>
        Array.isArray(e) && typeof e[0] === 'string' && Number.isFinite(e[1]) && e.length === 2,
    );
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Changes the user's index atomically (compare-and-set, retried): a device remembered in one tab
 * while another is revoked keeps both changes. Expired entries go on every change.
 */
export async function updateIndex(
  rt: Runtime,
  userKey: string,
  change: (entries: DeviceIndex) => DeviceIndex,
): Promise<void> {
  const key = deviceIndexKey(userKey);
  for (let attempt = 0; attempt < 20; attempt++) {
    const raw = await rt.store.get(key);
    const now = rt.config.now();
    const next = change(parseIndex(raw).filter(([, expiresAt]) => expiresAt > now));
    const until = Math.max(now + 1000, ...next.map(([, expiresAt]) => expiresAt));
    if (await rt.store.compareAndSet(key, raw, JSON.stringify(next), until - now)) return;
    await sleep(2 + attempt * 5);
  }
  throw new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE', { message: 'The device list is busy. Try again.' });
}

/** The client's network for the device list: IPv4 /24, IPv6 /48; never the address itself. */
export function ipPrefix(ip: string | undefined): string {
  const key = ipKey(ip);
  if (isIPv4(key)) return `${key.split('.').slice(0, 3).join('.')}.0/24`;
  if (key.endsWith('::/64')) return `${key.split(':').slice(0, 3).join(':')}::/48`;
  return '';
}
