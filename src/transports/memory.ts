import type { ProviderStatus, SendResult, SmsMessage, SmsTransport, VoiceMessage } from './transport.js';

export interface RecordedMessage {
  channel: 'sms' | 'voice';
  to: string;
  text: string;
  language?: string;
  reference?: string;
  id: string;
  at: number;
}

export interface MemoryTransport extends SmsTransport {
  /** Every message "sent", oldest first. */
  readonly messages: RecordedMessage[];
  /** The newest message to `phone`, SMS or voice. */
  last(phone: string): RecordedMessage | undefined;
  /** The code in the newest message to `phone` (the first run of 6 to 10 digits, spaces allowed in voice). */
  lastCode(phone: string): string | undefined;
  /** Forget every recorded message. */
  clear(): void;
  sendVoice(msg: VoiceMessage): Promise<SendResult>;
  /** Always healthy, with no balance: nothing leaves the process. */
  health(): Promise<ProviderStatus>;
}

const digitsOnly = (phone: string) => phone.replace(/\D/g, '');

/** Extracts the code from an SMS ("... 123456 ...") or a voice text ("1, 2, 3, 4, 5, 6"). */
export function extractCode(text: string): string | undefined {
  const plain = text.match(/\b\d{6,10}\b/);
  if (plain) return plain[0];
  const spoken = text.match(/\d(?:[ ,.]+\d){5,9}/);
  return spoken ? spoken[0].replace(/\D/g, '') : undefined;
}

/** Records messages instead of sending them: for tests, local development and the demo. */
export function memoryTransport(options: { now?: () => number } = {}): MemoryTransport {
  const now = options.now ?? Date.now;
  const messages: RecordedMessage[] = [];
  let sequence = 0;

  function record(channel: 'sms' | 'voice', msg: VoiceMessage): SendResult {
    const id = `mem-${++sequence}`;
    messages.push({ channel, ...msg, id, at: now() });
    return { id };
  }

  return {
    messages,
    async sendSms(msg: SmsMessage) {
      return record('sms', msg);
    },
    async sendVoice(msg: VoiceMessage) {
      return record('voice', msg);
    },
    last(phone) {
      const wanted = digitsOnly(phone);
      return messages.findLast((m) => digitsOnly(m.to) === wanted);
    },
    lastCode(phone) {
      const message = this.last(phone);
      return message ? extractCode(message.text) : undefined;
    },
    clear() {
      messages.length = 0;
    },
    async health() {
      return {};
    },
  };
}
