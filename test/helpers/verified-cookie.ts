// The verified cookie's format, written out independently of src/cookie.ts, so that tests pin it.
import { createHmac } from 'node:crypto';

export type Method = 'sms' | 'voice' | 'recovery' | 'device';

export interface Bound {
  id: string;
  sessionId?: string;
  version?: string | number;
}

/**
 * `v2.<method>.<verifiedAt>.<expiresAt>.<signature>`: the signature is base64url (no padding) of
 * HMAC-SHA256(secret, `2fa-verified\0` + user id, session id and version, each as `<length>:<text>`
 * + the text before the signature). The user, session and version are bound, not carried.
 */
export function verifiedCookie(
  secret: string,
  user: Bound,
  claim: { method: Method; verifiedAt: number; expiresAt: number },
): string {
  const text = `v2.${claim.method}.${claim.verifiedAt}.${claim.expiresAt}`;
  const bound = [user.id, user.sessionId ?? '', String(user.version ?? '')]
    .map((s) => `${s.length}:${s}`)
    .join('');
  const signature = createHmac('sha256', secret).update(`2fa-verified\0${bound}${text}`).digest('base64url');
  return `${text}.${signature}`;
}

/** The session id inside express-session's signed `connect.sid=s%3A<id>.<signature>` cookie pair. */
export function sessionIdOf(sessionCookie: string): string {
  const value = decodeURIComponent(sessionCookie.slice(sessionCookie.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}
