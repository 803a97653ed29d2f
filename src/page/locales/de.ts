import type { LifecycleTexts } from '../../lifecycle/texts.js';
import type { PageTexts } from '../options.js';

/** The page in German; the error texts come from error-messages.ts. */
export const de: Omit<PageTexts, 'errors' | 'codeFormat' | keyof LifecycleTexts> = {
  title: 'Bestätigung in zwei Schritten',
  intro: 'Zum Schutz Ihres Kontos senden wir einen Code per SMS an {phone}.',
  introSent: 'Wir haben einen Code per SMS an {phone} gesendet.',
  introVoice: 'Wir rufen {phone} an und lesen Ihnen den Code vor.',
  introSmsFailed:
    'Die SMS an {phone} konnte nicht gesendet werden. Wir rufen Sie an und lesen Ihnen den Code vor.',
  introUndelivered:
    'Die SMS an {phone} wurde nicht zugestellt. Wir rufen Sie an und lesen Ihnen den Code vor.',
  send: 'Code per SMS senden',
  waitIn: '{label} in\u00a0{time}',
  sending: 'Code wird gesendet…',
  codeLabel: 'Bestätigungscode',
  codeHint: 'Geben Sie den {length}-stelligen Code ein, den wir Ihnen gesendet haben.',
  codeHintVoice: 'Geben Sie den {length}-stelligen Code aus dem Anruf ein.',
  expiresIn: 'Er läuft in\u00a0{time} ab.',
  verify: 'Bestätigen',
  verifying: 'Code wird geprüft…',
  resend: 'SMS erneut senden',
  voice: 'Stattdessen anrufen',
  voiceAgain: 'Erneut anrufen',
  sent: 'SMS gesendet.',
  delivered: 'SMS zugestellt.',
  calling: 'Wir rufen Sie jetzt an…',
  called: 'Wir haben Sie angerufen.',
  undelivered: 'Die SMS konnte nicht zugestellt werden.',
  callFailed: 'Der Anruf kam nicht zustande.',
  attemptsLeft: { one: 'Noch {attempts} Versuch.', other: 'Noch {attempts} Versuche.' },
  locked: 'Zu viele falsche Codes. Bitte warten Sie, bevor Sie es erneut versuchen.',
  lockedHard: 'Dieses Konto ist nach zu vielen falschen Codes gesperrt. Wenden Sie sich an den Support.',
  signOutHint: 'Nicht Ihre Nummer? Melden Sie sich ab und wenden Sie sich an den Support.',
  noPhone:
    'Für Ihr Konto ist keine Mobilnummer hinterlegt, daher können wir Ihnen keinen Code senden. Wenden Sie sich an den Support, um eine hinzuzufügen.',
  signOut: 'Abmelden',
  riskNotice: '',
  enrollTitle: 'Mobilnummer hinzufügen',
  enrollChangeTitle: 'Mobilnummer ändern',
  enrollIntro: 'Wir senden einen Code per SMS an diese Nummer, um zu prüfen, dass sie Ihnen gehört.',
  enrollCountry: 'Land',
  enrollPhone: 'Mobilnummer',
  enrollPhoneHint: 'Zum Beispiel {example}',
  enrollSend: 'Code per SMS senden',
  enrollSent:
    'Wir haben einen Code per SMS an {phone} gesendet. Geben Sie ihn ein, um die Nummer zu bestätigen.',
  enrollOther: 'Eine andere Nummer verwenden',
  enrollReverify:
    'Um Ihre Nummer zu ändern, bestätigen Sie zuerst mit einem Code an {phone}, dass Sie es sind.',
  enrollReverifyAction: 'Code an meine aktuelle Nummer senden',
  enrollNotice: 'Wir benachrichtigen Ihre aktuelle Nummer per SMS, dass sie ersetzt wurde.',
};
