import type { LifecycleTexts } from '../../lifecycle/texts.js';
import type { PageTexts } from '../options.js';

/** The page in French; the error texts come from error-messages.ts. */
export const fr: Omit<PageTexts, 'errors' | 'codeFormat' | keyof LifecycleTexts> = {
  title: 'Vérification en deux étapes',
  intro: 'Pour protéger votre compte, nous allons envoyer un code par SMS au {phone}.',
  introSent: 'Nous avons envoyé un code par SMS au {phone}.',
  introVoice: 'Nous appelons le {phone} pour vous lire le code.',
  introSmsFailed: 'Le SMS au {phone} n’a pas pu être envoyé : nous vous appelons pour vous lire le code.',
  introUndelivered: 'Le SMS au {phone} n’a pas été remis : nous vous appelons pour vous lire le code.',
  send: 'Envoyez-moi un code',
  waitIn: '{label} dans\u00a0{time}',
  sending: 'Envoi du code…',
  codeLabel: 'Code de vérification',
  codeHint: 'Saisissez le code à {length} chiffres que nous vous avons envoyé.',
  codeHintVoice: 'Saisissez le code à {length} chiffres entendu pendant l’appel.',
  expiresIn: 'Il expire dans\u00a0{time}.',
  verify: 'Vérifier',
  verifying: 'Vérification du code…',
  resend: 'Renvoyer le SMS',
  voice: 'Appelez-moi plutôt',
  voiceAgain: 'Rappelez-moi',
  sent: 'SMS envoyé.',
  delivered: 'SMS remis.',
  calling: 'Nous vous appelons…',
  called: 'Nous vous avons appelé.',
  undelivered: 'Le SMS n’a pas pu être remis.',
  callFailed: 'L’appel n’a pas abouti.',
  // French counts 0 and 1 as singular ("one"); its "many" (round millions) falls back to `other`.
  attemptsLeft: { one: 'Encore {attempts} essai.', other: 'Encore {attempts} essais.' },
  locked: 'Trop de codes erronés. Patientez avant de réessayer.',
  lockedHard: 'Ce compte est bloqué après trop de codes erronés. Contactez le support.',
  signOutHint: 'Ce n’est pas votre numéro ? Déconnectez-vous et contactez le support.',
  noPhone:
    'Aucun numéro de mobile n’est enregistré pour votre compte : nous ne pouvons pas vous envoyer de code. Contactez le support pour en ajouter un.',
  signOut: 'Se déconnecter',
  riskNotice: '',
};
