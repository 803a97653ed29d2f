import type { LifecycleTexts } from '../../lifecycle/texts.js';
import type { PageTexts } from '../options.js';

/** The page in Dutch; the error texts come from error-messages.ts. */
export const nl: Omit<PageTexts, 'errors' | 'codeFormat' | keyof LifecycleTexts> = {
  title: 'Verificatie in twee stappen',
  intro: 'Om uw account te beschermen, sturen we een code per sms naar {phone}.',
  introSent: 'We hebben een code per sms gestuurd naar {phone}.',
  introVoice: 'We bellen {phone} om u de code voor te lezen.',
  introSmsFailed: 'De sms naar {phone} kon niet worden verstuurd, dus we bellen u om de code voor te lezen.',
  introUndelivered: 'De sms naar {phone} is niet aangekomen, dus we bellen u om de code voor te lezen.',
  send: 'Stuur mij een code',
  waitIn: '{label} over\u00a0{time}',
  sending: 'Code wordt verstuurd…',
  codeLabel: 'Verificatiecode',
  codeHint: 'Voer de code van {length} cijfers in die we u stuurden.',
  codeHintVoice: 'Voer de code van {length} cijfers uit het gesprek in.',
  expiresIn: 'Hij vervalt over\u00a0{time}.',
  verify: 'Bevestigen',
  verifying: 'Code wordt gecontroleerd…',
  resend: 'Sms opnieuw sturen',
  voice: 'Bel mij liever',
  voiceAgain: 'Bel mij opnieuw',
  sent: 'Sms verstuurd.',
  delivered: 'Sms afgeleverd.',
  calling: 'We bellen u nu…',
  called: 'We hebben u gebeld.',
  undelivered: 'De sms kon niet worden afgeleverd.',
  callFailed: 'De oproep is niet gelukt.',
  attemptsLeft: { one: 'Nog {attempts} poging.', other: 'Nog {attempts} pogingen.' },
  locked: 'Te veel foute codes. Wacht even voor u het opnieuw probeert.',
  lockedHard: 'Dit account is geblokkeerd na te veel foute codes. Neem contact op met support.',
  signOutHint: 'Niet uw nummer? Meld u af en neem contact op met support.',
  noPhone:
    'Er staat geen mobiel nummer op uw account, dus we kunnen u geen code sturen. Neem contact op met support om er een toe te voegen.',
  signOut: 'Afmelden',
  riskNotice: '',
};
