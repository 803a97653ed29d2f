import type { Locale } from '../messages.js';
import type { Countable } from '../page/format.js';

/**
 * The page's texts for recovery codes and remembered devices, merged into the page texts of each
 * locale (src/page/texts.ts) and overridable through `page.texts` like the others.
 */
export interface LifecycleTexts {
  /** The challenge page's link to the recovery-code form. */
  useRecoveryCode: string;
  recoveryTitle: string;
  recoveryIntro: string;
  recoveryLabel: string;
  recoveryHint: string;
  recoverySubmit: string;
  /** The recovery form's link back to the SMS code. */
  recoveryBack: string;
  /** The page that shows a new set of recovery codes, once. */
  codesTitle: string;
  codesIntro: string;
  codesCopy: string;
  codesCopied: string;
  codesDownload: string;
  codesPrint: string;
  codesDone: string;
  /** The challenge page's box (`rememberDevice`), for a lifetime in whole days. `{days}` */
  rememberDevice: Countable;
  /** The same box for a lifetime under a day. `{hours}` */
  rememberDeviceHours: Countable;
}

export const LIFECYCLE_TEXTS: Record<Locale, LifecycleTexts> = {
  en: {
    useRecoveryCode: 'Use a recovery code',
    recoveryTitle: 'Use a recovery code',
    recoveryIntro:
      'Lost your phone? Enter one of the recovery codes you saved. Each code works once, and we will let your phone number know it was used.',
    recoveryLabel: 'Recovery code',
    recoveryHint: '12 letters and digits, like abcd-efgh-2345.',
    recoverySubmit: 'Sign in with this code',
    recoveryBack: 'Get a code by SMS instead',
    codesTitle: 'Your recovery codes',
    codesIntro:
      'Keep these codes somewhere safe, like a password manager. Each one lets you sign in once if you cannot get a code by SMS. They are shown only now, and your previous codes no longer work.',
    codesCopy: 'Copy',
    codesCopied: 'Copied.',
    codesDownload: 'Download',
    codesPrint: 'Print',
    codesDone: 'I saved them',
    rememberDevice: {
      one: "Don't ask again on this device for {days} day",
      other: "Don't ask again on this device for {days} days",
    },
    rememberDeviceHours: {
      one: "Don't ask again on this device for {hours} hour",
      other: "Don't ask again on this device for {hours} hours",
    },
  },
  nl: {
    useRecoveryCode: 'Een herstelcode gebruiken',
    recoveryTitle: 'Een herstelcode gebruiken',
    recoveryIntro:
      'Telefoon kwijt? Voer een van de herstelcodes in die u bewaard hebt. Elke code werkt één keer, en we laten uw telefoonnummer weten dat hij gebruikt is.',
    recoveryLabel: 'Herstelcode',
    recoveryHint: '12 letters en cijfers, zoals abcd-efgh-2345.',
    recoverySubmit: 'Aanmelden met deze code',
    recoveryBack: 'Liever een code per sms',
    codesTitle: 'Uw herstelcodes',
    codesIntro:
      'Bewaar deze codes op een veilige plek, zoals een wachtwoordbeheerder. Met elke code kunt u één keer aanmelden als u geen code per sms kunt krijgen. Ze worden alleen nu getoond, en uw vorige codes werken niet meer.',
    codesCopy: 'Kopiëren',
    codesCopied: 'Gekopieerd.',
    codesDownload: 'Downloaden',
    codesPrint: 'Afdrukken',
    codesDone: 'Ik heb ze bewaard',
    rememberDevice: {
      one: 'Niet meer vragen op dit apparaat gedurende {days} dag',
      other: 'Niet meer vragen op dit apparaat gedurende {days} dagen',
    },
    rememberDeviceHours: {
      one: 'Niet meer vragen op dit apparaat gedurende {hours} uur',
      other: 'Niet meer vragen op dit apparaat gedurende {hours} uur',
    },
  },
  fr: {
    useRecoveryCode: 'Utiliser un code de secours',
    recoveryTitle: 'Utiliser un code de secours',
    recoveryIntro:
      'Téléphone perdu ? Saisissez l’un des codes de secours que vous avez conservés. Chaque code ne sert qu’une fois, et nous prévenons votre numéro de téléphone de son utilisation.',
    recoveryLabel: 'Code de secours',
    recoveryHint: '12 lettres et chiffres, comme abcd-efgh-2345.',
    recoverySubmit: 'Me connecter avec ce code',
    recoveryBack: 'Recevoir plutôt un code par SMS',
    codesTitle: 'Vos codes de secours',
    codesIntro:
      'Conservez ces codes en lieu sûr, par exemple dans un gestionnaire de mots de passe. Chacun vous permet de vous connecter une fois si vous ne pouvez pas recevoir de code par SMS. Ils ne sont affichés que maintenant, et vos codes précédents ne fonctionnent plus.',
    codesCopy: 'Copier',
    codesCopied: 'Copié.',
    codesDownload: 'Télécharger',
    codesPrint: 'Imprimer',
    codesDone: 'Je les ai conservés',
    rememberDevice: {
      one: 'Ne plus demander sur cet appareil pendant {days} jour',
      many: 'Ne plus demander sur cet appareil pendant {days} jours',
      other: 'Ne plus demander sur cet appareil pendant {days} jours',
    },
    rememberDeviceHours: {
      one: 'Ne plus demander sur cet appareil pendant {hours} heure',
      many: 'Ne plus demander sur cet appareil pendant {hours} heures',
      other: 'Ne plus demander sur cet appareil pendant {hours} heures',
    },
  },
  de: {
    useRecoveryCode: 'Wiederherstellungscode verwenden',
    recoveryTitle: 'Wiederherstellungscode verwenden',
    recoveryIntro:
      'Telefon verloren? Geben Sie einen der Wiederherstellungscodes ein, die Sie aufbewahrt haben. Jeder Code funktioniert einmal, und wir benachrichtigen Ihre Telefonnummer über die Verwendung.',
    recoveryLabel: 'Wiederherstellungscode',
    recoveryHint: '12 Buchstaben und Ziffern, etwa abcd-efgh-2345.',
    recoverySubmit: 'Mit diesem Code anmelden',
    recoveryBack: 'Stattdessen einen Code per SMS erhalten',
    codesTitle: 'Ihre Wiederherstellungscodes',
    codesIntro:
      'Bewahren Sie diese Codes sicher auf, etwa in einem Passwortmanager. Mit jedem können Sie sich einmal anmelden, wenn Sie keinen Code per SMS erhalten. Sie werden nur jetzt angezeigt, und Ihre bisherigen Codes funktionieren nicht mehr.',
    codesCopy: 'Kopieren',
    codesCopied: 'Kopiert.',
    codesDownload: 'Herunterladen',
    codesPrint: 'Drucken',
    codesDone: 'Ich habe sie gespeichert',
    rememberDevice: {
      one: 'Auf diesem Gerät {days} Tag lang nicht mehr fragen',
      other: 'Auf diesem Gerät {days} Tage lang nicht mehr fragen',
    },
    rememberDeviceHours: {
      one: 'Auf diesem Gerät {hours} Stunde lang nicht mehr fragen',
      other: 'Auf diesem Gerät {hours} Stunden lang nicht mehr fragen',
    },
  },
};
