import { isIPv4, isIPv6 } from 'node:net';
import { parsePhoneNumberFromString } from 'libphonenumber-js';
import { BoundedCache } from './bounded-cache.js';

export interface Destination {
  /** E.164, e.g. `+32470123401`. */
  e164: string;
  /** ISO 3166 alpha-2, e.g. `BE`. */
  country: string;
  /** Safe to show and log: `+32 4•• •• •• 01`. */
  masked: string;
  /** The number without its last 3 digits: the unit SMS pumping rotates through. */
  prefix: string;
}

/** Numbers on file repeat on every request of their users: parsed once, kept boundedly. */
const parsedNumbers = new BoundedCache<string, Destination | false>(10_000);
const parseOrFalse = (phone: string) => parse(phone) ?? false;

/** Parses the number on file; `null` when it is not a valid international number. */
export function parseDestination(phone: unknown): Destination | null {
  if (typeof phone !== 'string' || phone.length > 32) return null;
  return parsedNumbers.memo(phone, parseOrFalse) || null;
}

function parse(phone: string): Destination | null {
  const parsed = parsePhoneNumberFromString(phone.trim());
  if (!parsed?.country || !parsed.isValid()) return null;
  return {
    e164: parsed.number,
    country: parsed.country,
    masked: mask(parsed.formatInternational()),
    prefix: parsed.number.slice(0, -3),
  };
}

/** Keeps the country code, the first national digit and the last two digits. */
function mask(international: string): string {
  const [countryCode = '', ...rest] = international.split(' ');
  const national = rest.join(' ');
  const digits = national.replace(/\D/g, '').length;
  let seen = 0;
  const masked = national.replace(/\d/g, (d) => {
    seen++;
    return seen === 1 || seen > digits - 2 ? d : '•';
  });
  return `${countryCode} ${masked}`;
}

/** Masks any text that may hold a phone number: for the rare value that never parsed. */
export function maskUnknown(phone: unknown): string {
  return typeof phone === 'string' && phone.length >= 4 ? `•••${phone.slice(-2)}` : '•••';
}

/** The rate-limit key of a client address: IPv4 as is, IPv6 per /64 (one subscriber's allocation). */
export function ipKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = ip.startsWith('::ffff:') ? ip.slice(7) : ip;
  if (isIPv4(mapped)) return mapped;
  if (!isIPv6(ip)) return 'unknown';
  const [head = '', tail = ''] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::')
    ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
