// The SMS to the old number after a change of number (security.md R-42: notify through another channel).
import type { Runtime } from '../../context.js';
import { providerDeadline, withTimeout } from '../../delivery.js';
import type { Locale } from '../../messages.js';
import type { Destination } from '../../phone.js';

/**
 * `{app}` is `appName` (or "your account"), `{last}` the new number's last two digits. Plain GSM-7
 * characters only (a straight apostrophe in French), so each fits one billed SMS part.
 */
const NOTICES: Record<Locale, { account: string; text: string }> = {
  en: {
    account: 'your account',
    text: 'The phone number for {app} was changed to a number ending in {last}. If this was not you, contact support now.',
  },
  nl: {
    account: 'uw account',
    text: 'Het telefoonnummer van {app} is gewijzigd in een nummer dat eindigt op {last}. Was u dit niet? Neem dan meteen contact op met support.',
  },
  fr: {
    account: 'votre compte',
    text: "Le numéro de téléphone de {app} a été remplacé par un numéro se terminant par {last}. Si ce n'était pas vous, contactez le support sans attendre.",
  },
  de: {
    account: 'Ihr Konto',
    text: 'Die Telefonnummer für {app} wurde in eine Nummer mit den Endziffern {last} geändert. Waren Sie das nicht? Wenden Sie sich sofort an den Support.',
  },
};

export function noticeText(locale: Locale, appName: string | undefined, next: Destination): string {
  const { account, text } = NOTICES[locale];
  return text.replace('{app}', appName ?? account).replace('{last}', next.e164.slice(-2));
}

/**
 * Texts the old number that it was replaced. Nothing in the request decides whether it goes, and
 * no send budget can hold it back (an attacker could otherwise spend the budget first). A failure
 * (or a provider that does not answer in time) is logged and does not undo the change, which is
 * already saved.
 */
export async function notifyOldNumber(
  rt: Runtime,
  userId: string,
  old: Destination,
  next: Destination,
): Promise<boolean> {
  const { config } = rt;
  try {
    // Bounded like every provider call: a hung provider must not hold the change's answer.
    await withTimeout(
      config.transport.sendSms({ to: old.e164, text: noticeText(config.locale, config.appName, next) }),
      providerDeadline(rt),
    );
    return true;
  } catch {
    config.logger.error(
      `express-sms-2fa: the notice of a phone change to the old number ${old.masked} (user ${userId}) could not be sent`,
    );
    return false;
  }
}
