import { MINUTE } from './constants.js';
import { TwoFactorConfigError } from './errors.js';
import { smsText } from './messages.js';
import type { Config } from './options.js';

/** The GSM 03.38 basic character set: one unit each. */
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
/** The extension table: two units each (Smstools: "nine characters count double"). */
const GSM_EXTENDED = new Set('€\\}[^~]{|');
/** One SMS holds 160 GSM-7 characters; a long one is split into parts of 153, each billed. */
const SINGLE_PART = 160;
const MULTI_PART = 153;
/** Smstools' error 118 (handling_errors page): an SMS of more than 459 GSM-7 characters (3 parts) is refused. */
export const MAX_SMS_LENGTH = 459;

export interface GsmLength {
  /** GSM-7 units: extension characters count two. */
  units: number;
  /** Characters GSM-7 does not have (each listed once). */
  foreign: string[];
}

export function gsmLength(text: string): GsmLength {
  let units = 0;
  const foreign = new Set<string>();
  for (const char of text) {
    if (GSM_BASIC.has(char)) units += 1;
    else if (GSM_EXTENDED.has(char)) units += 2;
    else {
      units += 1;
      foreign.add(char);
    }
  }
  return { units, foreign: [...foreign] };
}

/** How many billed parts an SMS of `units` GSM-7 characters goes out as. */
export function smsParts(units: number): number {
  return units <= SINGLE_PART ? 1 : Math.ceil(units / MULTI_PART);
}

/** UCS-2: 70 UTF-16 units in one SMS, 67 per part of a split one. */
const UCS2_SINGLE_PART = 70;
const UCS2_MULTI_PART = 67;

/**
 * The parts an SMS of `text` is billed as: GSM-7 when every character has a GSM-7 form, else UCS-2
 * (what a provider that does not transliterate sends; the larger count of the two).
 */
export function billedParts(text: string): number {
  const { units, foreign } = gsmLength(text);
  if (foreign.length === 0) return smsParts(units);
  return text.length <= UCS2_SINGLE_PART ? 1 : Math.ceil(text.length / UCS2_MULTI_PART);
}

/**
 * At startup: composes the SMS with the longest code and says what it will cost. A custom text
 * that throws, is not a string or is longer than Smstools takes is a configuration error; one
 * that needs several billed parts,
 * or holds characters GSM-7 lacks (Smstools converts to GSM-7), gets a warning.
 */
export function checkSmsText(config: Config): void {
  let text: unknown;
  try {
    text = smsText(config, '0'.repeat(config.codeLength), Math.ceil(config.codeTtlMs / MINUTE));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new TwoFactorConfigError('messages.sms', `threw when called with a sample context: ${reason}`);
  }
  if (typeof text !== 'string' || text.trim() === '') {
    throw new TwoFactorConfigError('messages.sms', 'must return the SMS text, a non-empty string');
  }
  const { units, foreign } = gsmLength(text);
  if (units > MAX_SMS_LENGTH) {
    throw new TwoFactorConfigError(
      'messages.sms',
      `makes an SMS of ${units} GSM-7 characters with a ${config.codeLength}-digit code: Smstools refuses more than ${MAX_SMS_LENGTH} (error 118); shorten the text, appName or webOtpDomain`,
    );
  }
  if (!config.warnings.smsLength) return;
  const off = ' (disable with warnings: { smsLength: false })';
  if (foreign.length > 0) {
    config.logger.warn(
      `express-sms-2fa: the SMS text has characters GSM-7 lacks (${foreign.slice(0, 5).join(' ')}): providers convert or replace them, or send the SMS as UCS-2 in parts of 70${off}`,
    );
  }
  const parts = smsParts(units);
  if (parts > 1) {
    config.logger.warn(
      `express-sms-2fa: the SMS text is ${units} GSM-7 characters with a ${config.codeLength}-digit code, so every code goes out as ${parts} billed parts (one holds ${SINGLE_PART}); shorten messages.sms, appName or webOtpDomain${off}`,
    );
  }
}
