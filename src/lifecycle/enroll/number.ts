// The number a user types to enroll: parsed in the country they chose, checked against the allow-list.
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js';
import type { Runtime } from '../../context.js';
import { TwoFactorError } from '../../errors.js';
import type { CheckedUser } from '../../options.js';
import { type Destination, parseDestination } from '../../phone.js';
import { assertAllowedCountry } from '../../routes/destination.js';

/** Longer than any number with spaces, dashes and brackets: refused before parsing. */
const MAX_TYPED = 40;
/** What a typed number may hold: digits, a leading `+`, and the separators people type. */
const TYPED_NUMBER = /^\+?[\d\s()./-]+$/;

/** The country a national number is read in: the one chosen, if allowed, else the first allowed one. */
export function defaultCountry(rt: Runtime, chosen: unknown): CountryCode | undefined {
  const allowed = rt.config.allowedCountries;
  if (typeof chosen === 'string' && /^[A-Z]{2}$/.test(chosen) && (allowed === 'all' || allowed.has(chosen))) {
    return chosen as CountryCode;
  }
  return allowed === 'all' ? undefined : ([...allowed][0] as CountryCode);
}

/**
 * The typed number in E.164: a national format (`0470 12 34 01`) is read in `country`, an
 * international one (`+32…`, `0032…` is not) as it says. Never taken from anywhere but this field.
 */
export function readTypedNumber(
  rt: Runtime,
  user: CheckedUser,
  typed: unknown,
  country: unknown,
  ip: string,
): Destination {
  // libphonenumber-js would find a number inside any text; only a number as typed is one.
  if (typeof typed !== 'string' || typed.length > MAX_TYPED || !TYPED_NUMBER.test(typed.trim())) {
    throw new TwoFactorError('ERR_2FA_PHONE_INVALID');
  }
  const parsed = parsePhoneNumberFromString(typed.trim(), defaultCountry(rt, country));
  const dest = parsed?.isValid() ? parseDestination(parsed.number) : null;
  if (!dest) throw new TwoFactorError('ERR_2FA_PHONE_INVALID');
  assertAllowedCountry(rt, user, dest, ip, 'sms');
  return dest;
}
