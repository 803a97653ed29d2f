import type { Runtime } from '../context.js';
import { kindOf } from '../context.js';
import { TwoFactorError } from '../errors.js';
import type { CheckedUser } from '../options.js';
import { type Destination, parseDestination } from '../phone.js';

/** Nothing usable on file: `none` (null, absent, empty) or `invalid-number` (a national number, junk). */
export type MissingReason = 'none' | 'invalid-number';

function missingReason(phone: unknown): MissingReason {
  return phone === null || phone === undefined || phone === '' ? 'none' : 'invalid-number';
}

/**
 * The number on file, parsed; `null` when there is none to send to. A value that is there but not
 * an international number is the app's data to fix: said once (never the value itself).
 */
export function phoneOnFile(rt: Runtime, user: CheckedUser): Destination | null {
  const dest = parseDestination(user.phone);
  if (dest || missingReason(user.phone) === 'none') return dest;
  rt.warnOnce(
    'getUser:phone',
    typeof user.phone === 'string'
      ? "getUser returned a `phone` that is not a valid international number (a national number like 0470…, a 00 prefix, or not a number), so its users see \"no phone on file\": return E.164 ('+', the country code, the number without its trunk 0), e.g. parsePhoneNumber(phone, 'BE').number from libphonenumber-js"
      : `getUser returned a \`phone\` that is ${kindOf(user.phone)}: return the number on file as an E.164 string ('+' and the country code first), or null when there is none`,
  );
  return null;
}

/** Fires `destination.missing` and gives the error the send routes answer with. */
export function missingPhone(rt: Runtime, user: CheckedUser, ip: string): TwoFactorError {
  rt.emit({ type: 'destination.missing', userId: user.id, ip, reason: missingReason(user.phone) });
  return new TwoFactorError('ERR_2FA_NO_PHONE');
}

/**
 * Refuses a number outside `allowedCountries` (422 ERR_2FA_DESTINATION_BLOCKED, `send.blocked`
 * with reason `country`): the same check for the number on file and a number being enrolled.
 */
export function assertAllowedCountry(
  rt: Runtime,
  user: CheckedUser,
  dest: Destination,
  ip: string,
  channel?: 'sms',
): void {
  const allowed = rt.config.allowedCountries;
  if (allowed === 'all' || allowed.has(dest.country)) return;
  rt.emit({
    type: 'send.blocked',
    userId: user.id,
    phone: dest.masked,
    country: dest.country,
    ip,
    ...(channel ? { channel } : {}),
    reason: 'country',
  });
  throw new TwoFactorError('ERR_2FA_DESTINATION_BLOCKED');
}
