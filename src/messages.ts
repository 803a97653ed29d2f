/** Languages of the default texts; also the Smstools text-to-speech voices. */
export const LOCALES = ['en', 'nl', 'fr', 'de'] as const;
export type Locale = (typeof LOCALES)[number];

export interface MessageContext {
  code: string;
  appName: string;
  /** Minutes until the code expires, rounded up. */
  minutes: number;
  locale: Locale;
}

interface Texts {
  account: string;
  sms: (c: MessageContext) => string;
  voice: (c: MessageContext, spoken: string) => string;
}

const TEXTS: Record<Locale, Texts> = {
  en: {
    account: 'your account',
    sms: (c) =>
      `Your verification code for ${c.appName} is ${c.code}. It expires in ${c.minutes} minutes. Never share it.`,
    voice: (c, s) => `Your verification code for ${c.appName} is: ${s}. Again: ${s}.`,
  },
  nl: {
    account: 'uw account',
    sms: (c) =>
      `Uw verificatiecode voor ${c.appName} is ${c.code}. Hij vervalt over ${c.minutes} minuten. Deel hem met niemand.`,
    voice: (c, s) => `Uw verificatiecode voor ${c.appName} is: ${s}. Nog eens: ${s}.`,
  },
  fr: {
    account: 'votre compte',
    sms: (c) =>
      `Votre code de vérification pour ${c.appName} est ${c.code}. Il expire dans ${c.minutes} minutes. Ne le partagez avec personne.`,
    voice: (c, s) => `Votre code de vérification pour ${c.appName} est : ${s}. Je répète : ${s}.`,
  },
  de: {
    account: 'Ihr Konto',
    sms: (c) =>
      `Ihr Bestätigungscode für ${c.appName} lautet ${c.code}. Er läuft in ${c.minutes} Minuten ab. Teilen Sie ihn mit niemandem.`,
    voice: (c, s) => `Ihr Bestätigungscode für ${c.appName} lautet: ${s}. Noch einmal: ${s}.`,
  },
};

/** What the texts depend on: the `locale`, `appName`, `webOtpDomain` and `messages` options. */
export interface TextOptions {
  locale: Locale;
  appName: string | undefined;
  webOtpDomain: string | undefined;
  messages: { sms?: (ctx: MessageContext) => string; voice?: (ctx: MessageContext) => string };
}

function contextFor(options: TextOptions, code: string, minutes: number): MessageContext {
  const { locale } = options;
  // The app name: the configured one, or "your account" in the locale.
  return { code, appName: options.appName ?? TEXTS[locale].account, minutes, locale };
}

function defaultSms(ctx: MessageContext): string {
  return TEXTS[ctx.locale].sms(ctx);
}

/** The default voice text: the digits one at a time, read twice, so a listener can write them down. */
function defaultVoice(ctx: MessageContext): string {
  return TEXTS[ctx.locale].voice(ctx, ctx.code.split('').join(', '));
}

/** The SMS for a code. The WebOTP line (`@domain #code`, last) makes browsers offer to fill it in. */
export function smsText(options: TextOptions, code: string, minutes: number): string {
  const ctx = contextFor(options, code, minutes);
  const text = (options.messages.sms ?? defaultSms)(ctx);
  return options.webOtpDomain ? `${text}\n\n@${options.webOtpDomain} #${code}` : text;
}

/** What the voice call reads for a code. */
export function voiceText(options: TextOptions, code: string, minutes: number): string {
  return (options.messages.voice ?? defaultVoice)(contextFor(options, code, minutes));
}
