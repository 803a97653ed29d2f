import { performance } from 'node:perf_hooks';
import { parseDestination } from '../phone.js';
import { billedParts } from '../sms-length.js';
import type { SendResult, SmsMessage, SmsTransport, VoiceMessage } from '../transports/transport.js';
import type { Metrics } from './metrics.js';

/**
 * The app's transport with every send timed and every accepted SMS counted in billed parts. Only
 * `sendSms` and `sendVoice` are replaced; everything else (`parseDeliveryReport`, `language`,
 * `health`, a custom transport's own methods) reaches the original unchanged. `afterSend` runs
 * after each accepted send, for checks that must not delay it.
 */
export function measuredTransport(
  transport: SmsTransport,
  metrics: Metrics,
  afterSend: () => void = () => {},
): SmsTransport {
  const timed = <M extends SmsMessage>(channel: 'sms' | 'voice', send: (msg: M) => Promise<SendResult>) =>
    async function measuredSend(msg: M): Promise<SendResult> {
      const started = performance.now();
      let result: SendResult;
      try {
        result = await send.call(transport, msg);
      } catch (error) {
        metrics.providerCall(channel, false, (performance.now() - started) / 1000);
        throw error;
      }
      metrics.providerCall(channel, true, (performance.now() - started) / 1000);
      if (channel === 'sms') metrics.smsParts(billedParts(msg.text), parseDestination(msg.to)?.country);
      afterSend();
      return result;
    };

  const sendSms = timed<SmsMessage>('sms', transport.sendSms);
  const sendVoice = transport.sendVoice ? timed<VoiceMessage>('voice', transport.sendVoice) : undefined;
  return new Proxy(transport, {
    get(target, property, receiver) {
      if (property === 'sendSms') return sendSms;
      if (property === 'sendVoice') return sendVoice;
      return Reflect.get(target, property, receiver);
    },
  });
}
