import type { LifecycleTexts } from '../../lifecycle/texts.js';
import type { PageTexts } from '../options.js';

/** The page in English; the error texts come from error-messages.ts. */
export const en: Omit<PageTexts, 'errors' | 'codeFormat' | keyof LifecycleTexts> = {
  title: 'Two-step verification',
  intro: 'To keep your account safe, we will text a code to {phone}.',
  introSent: 'We sent a code by SMS to {phone}.',
  introVoice: 'We are calling {phone} to read you the code.',
  introSmsFailed: 'The SMS to {phone} could not be sent, so we are calling you to read you the code.',
  introUndelivered: 'The SMS to {phone} was not delivered, so we are calling you to read you the code.',
  send: 'Text me a code',
  waitIn: '{label} in\u00a0{time}',
  sending: 'Sending a code…',
  codeLabel: 'Verification code',
  codeHint: 'Enter the {length}-digit code we sent you.',
  codeHintVoice: 'Enter the {length}-digit code from the call.',
  expiresIn: 'It expires in\u00a0{time}.',
  verify: 'Verify',
  verifying: 'Checking the code…',
  resend: 'Send the SMS again',
  voice: 'Call me instead',
  voiceAgain: 'Call me again',
  sent: 'SMS sent.',
  delivered: 'SMS delivered.',
  calling: 'Calling you now…',
  called: 'We called you.',
  undelivered: 'The SMS could not be delivered.',
  callFailed: 'The call did not go through.',
  attemptsLeft: { one: '{attempts} attempt left.', other: '{attempts} attempts left.' },
  locked: 'Too many wrong codes. Please wait before trying again.',
  lockedHard: 'This account is locked after too many wrong codes. Contact support.',
  signOutHint: 'Not your number? Sign out and contact support.',
  noPhone:
    'There is no mobile number on file for your account, so we cannot send you a code. Contact support to add one.',
  signOut: 'Sign out',
  riskNotice: '',
};
