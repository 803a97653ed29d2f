import { ERROR_CODES, type ErrorCode, type TwoFactorError } from './errors.js';
import type { Locale } from './messages.js';

/**
 * The error messages in every language of `locale`: the API answers in them and the challenge
 * page shows them, so both speak with one voice. English is ERROR_CODES' own. A new error code
 * needs its text here in every language (the type and a test both check).
 */
export const ERROR_MESSAGES: Record<Locale, Record<ErrorCode, string>> = {
  en: Object.fromEntries(Object.entries(ERROR_CODES).map(([code, { message }]) => [code, message])) as Record<
    ErrorCode,
    string
  >,
  nl: {
    ERR_2FA_UNAUTHENTICATED: 'Meld u eerst aan.',
    ERR_2FA_REQUIRED: 'Een tweede factor is vereist.',
    ERR_2FA_BAD_REQUEST: 'Het verzoek is ongeldig.',
    ERR_2FA_NO_CHALLENGE: 'Er staat geen code open. Vraag een nieuwe code aan.',
    ERR_2FA_CODE_INVALID: 'Die code klopt niet.',
    ERR_2FA_CODE_EXPIRED: 'Die code is verlopen. Vraag een nieuwe code aan.',
    ERR_2FA_TOO_MANY_ATTEMPTS: 'Te veel foute codes. Vraag een nieuwe code aan.',
    ERR_2FA_LOCKED: 'Te veel foute codes. Probeer het later opnieuw.',
    ERR_2FA_COOLDOWN: 'Wacht even voor u het opnieuw vraagt.',
    ERR_2FA_RATE_LIMITED: 'Er zijn te veel codes aangevraagd. Probeer het later opnieuw.',
    ERR_2FA_DESTINATION_BLOCKED: 'Naar dit telefoonnummer kunnen geen codes worden gestuurd.',
    ERR_2FA_NO_PHONE: 'Er staat geen telefoonnummer op dit account.',
    ERR_2FA_PHONE_INVALID: 'Voer een geldig mobiel nummer in.',
    ERR_2FA_REVERIFY_REQUIRED: 'Bevestig eerst dat u het bent met een code naar uw huidige nummer.',
    ERR_2FA_VOICE_UNAVAILABLE: 'Bellen is niet beschikbaar.',
    ERR_2FA_FORBIDDEN_ORIGIN:
      'Dit verzoek kwam niet van deze site. Laad de pagina opnieuw en probeer het nog eens.',
    ERR_2FA_SEND_FAILED: 'De code kon niet worden verstuurd. Probeer het zo opnieuw.',
    ERR_2FA_STORE_UNAVAILABLE: 'Verificatie is nu niet beschikbaar. Probeer het zo opnieuw.',
  },
  fr: {
    ERR_2FA_UNAUTHENTICATED: 'Connectez-vous d’abord.',
    ERR_2FA_REQUIRED: 'Un second facteur est requis.',
    ERR_2FA_BAD_REQUEST: 'La requête est mal formée.',
    ERR_2FA_NO_CHALLENGE: 'Aucun code en attente. Demandez un nouveau code.',
    ERR_2FA_CODE_INVALID: 'Ce code n’est pas correct.',
    ERR_2FA_CODE_EXPIRED: 'Ce code a expiré. Demandez un nouveau code.',
    ERR_2FA_TOO_MANY_ATTEMPTS: 'Trop de codes erronés. Demandez un nouveau code.',
    ERR_2FA_LOCKED: 'Trop de codes erronés. Réessayez plus tard.',
    ERR_2FA_COOLDOWN: 'Patientez avant de redemander.',
    ERR_2FA_RATE_LIMITED: 'Trop de codes ont été demandés. Réessayez plus tard.',
    ERR_2FA_DESTINATION_BLOCKED: 'Impossible d’envoyer des codes à ce numéro.',
    ERR_2FA_NO_PHONE: 'Aucun numéro de téléphone n’est enregistré pour ce compte.',
    ERR_2FA_PHONE_INVALID: 'Saisissez un numéro de mobile valide.',
    ERR_2FA_REVERIFY_REQUIRED: 'Confirmez d’abord que c’est vous avec un code envoyé à votre numéro actuel.',
    ERR_2FA_VOICE_UNAVAILABLE: 'Les appels vocaux ne sont pas disponibles.',
    ERR_2FA_FORBIDDEN_ORIGIN: 'Cette requête ne vient pas de ce site. Rechargez la page et réessayez.',
    ERR_2FA_SEND_FAILED: 'Le code n’a pas pu être envoyé. Réessayez dans un instant.',
    ERR_2FA_STORE_UNAVAILABLE: 'La vérification est indisponible. Réessayez dans un instant.',
  },
  de: {
    ERR_2FA_UNAUTHENTICATED: 'Melden Sie sich zuerst an.',
    ERR_2FA_REQUIRED: 'Ein zweiter Faktor ist erforderlich.',
    ERR_2FA_BAD_REQUEST: 'Die Anfrage ist fehlerhaft.',
    ERR_2FA_NO_CHALLENGE: 'Es steht kein Code aus. Fordern Sie einen neuen Code an.',
    ERR_2FA_CODE_INVALID: 'Dieser Code stimmt nicht.',
    ERR_2FA_CODE_EXPIRED: 'Dieser Code ist abgelaufen. Fordern Sie einen neuen Code an.',
    ERR_2FA_TOO_MANY_ATTEMPTS: 'Zu viele falsche Codes. Fordern Sie einen neuen Code an.',
    ERR_2FA_LOCKED: 'Zu viele falsche Codes. Versuchen Sie es später erneut.',
    ERR_2FA_COOLDOWN: 'Bitte warten Sie, bevor Sie erneut anfragen.',
    ERR_2FA_RATE_LIMITED: 'Es wurden zu viele Codes angefordert. Versuchen Sie es später erneut.',
    ERR_2FA_DESTINATION_BLOCKED: 'An diese Telefonnummer können keine Codes gesendet werden.',
    ERR_2FA_NO_PHONE: 'Für dieses Konto ist keine Telefonnummer hinterlegt.',
    ERR_2FA_PHONE_INVALID: 'Geben Sie eine gültige Mobilnummer ein.',
    ERR_2FA_REVERIFY_REQUIRED:
      'Bestätigen Sie zuerst mit einem Code an Ihre aktuelle Nummer, dass Sie es sind.',
    ERR_2FA_VOICE_UNAVAILABLE: 'Sprachanrufe sind nicht verfügbar.',
    ERR_2FA_FORBIDDEN_ORIGIN:
      'Diese Anfrage kam nicht von dieser Website. Laden Sie die Seite neu und versuchen Sie es erneut.',
    ERR_2FA_SEND_FAILED: 'Der Code konnte nicht gesendet werden. Versuchen Sie es gleich noch einmal.',
    ERR_2FA_STORE_UNAVAILABLE:
      'Die Bestätigung ist gerade nicht verfügbar. Versuchen Sie es gleich noch einmal.',
  },
};

/** A code that is not all its digits, in every language; `{length}` is the code length. */
export const CODE_FORMAT_MESSAGES: Record<Locale, string> = {
  en: 'Enter all {length} digits of the code.',
  nl: 'Voer alle {length} cijfers van de code in.',
  fr: 'Saisissez les {length} chiffres du code.',
  de: 'Geben Sie alle {length} Ziffern des Codes ein.',
};

/**
 * The message an error answers with in `locale`: the code's own text when the error carries the
 * generic English one, else the specific message it was made with (a developer's hint such as
 * "The body is not valid JSON.", kept as written).
 */
export function localMessage(error: TwoFactorError, locale: Locale): string {
  return error.message === ERROR_CODES[error.code].message
    ? ERROR_MESSAGES[locale][error.code]
    : error.message;
}

/** The "enter all digits" message for a code length. */
export const codeFormatMessage = (locale: Locale, length: number) =>
  CODE_FORMAT_MESSAGES[locale].replace('{length}', String(length));
