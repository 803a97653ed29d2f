import { DAY } from '../../constants.js';
import type { Runtime } from '../../context.js';
import type { Locale } from '../../messages.js';
import type { CheckedUser } from '../../options.js';
import { parseDestination } from '../../phone.js';

const ACCOUNT: Record<Locale, string> = {
  en: 'your account',
  nl: 'uw account',
  fr: 'votre compte',
  de: 'Ihr Konto',
};

/** The notice after a recovery code was used; no digits in it, so nothing reads as a code. */
const NOTICE: Record<Locale, (app: string) => string> = {
  en: (app) =>
    `A recovery code was just used to sign in to ${app}. If this was not you, contact support now.`,
  nl: (app) =>
    `Er is net een herstelcode gebruikt om aan te melden bij ${app}. Was u dit niet? Neem meteen contact op met support.`,
  fr: (app) =>
    `Un code de secours vient d’être utilisé pour se connecter à ${app}. Si ce n’était pas vous, contactez le support.`,
  de: (app) =>
    `Soeben wurde ein Wiederherstellungscode für die Anmeldung bei ${app} verwendet. Waren Sie das nicht? Wenden Sie sich sofort an den Support.`,
};

export function recoveryNoticeText(locale: Locale, appName: string | undefined): string {
  return NOTICE[locale](appName ?? ACCOUNT[locale]);
}

/**
 * Tells the number on file that a recovery code was used (the owner of a lost phone may still get
 * it on a new SIM; an attacker with a stolen code is found out). Only to an allowed country. It
 * runs in the background: the sign-in does not wait for the provider, and a failure is logged
 * without the number.
 *
 * A code costs nothing to whoever may make a new set (a used code makes the browser fresh, and a
 * fresh browser may generate), so the notices have a budget of their own: `limits.phonePerDay` per
 * number and day. Only recovery-code uses spend it, so nobody can spend it first without texting
 * the number; the sign-in send budgets are not touched.
 */
export function sendRecoveryNotice(rt: Runtime, user: CheckedUser): void {
  const { config } = rt;
  const dest = parseDestination(user.phone);
  if (!dest) return;
  if (config.allowedCountries !== 'all' && !config.allowedCountries.has(dest.country)) return;
  const text = recoveryNoticeText(config.locale, config.appName);
  const perDay = config.limits.phonePerDay;
  Promise.resolve()
    .then(async () => {
      if ((await rt.store.increment(rt.keys.budget('rn', dest.e164), DAY)) > perDay) {
        config.logger.error(
          `express-sms-2fa: the recovery-code notice to ${dest.masked} was not sent: ${perDay} were sent to it within a day (limits.phonePerDay)`,
        );
        return;
      }
      await config.transport.sendSms({ to: dest.e164, text });
    })
    .catch(() => {
      config.logger.error(`express-sms-2fa: the recovery-code notice to ${dest.masked} could not be sent`);
    });
}
