import { createHmac, timingSafeEqual } from 'node:crypto';
import { SECOND } from '../constants.js';
import { TwoFactorError } from '../errors.js';
import type { DeliveryReport, WebhookRequest } from './transport.js';

const refuse = (reason: string): TwoFactorError =>
  new TwoFactorError('ERR_2FA_FORBIDDEN_ORIGIN', {
    message: 'The delivery report could not be authenticated.',
    cause: new Error(`Smstools webhook refused: ${reason}`),
  });

function header(headers: WebhookRequest['headers'], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    if (Array.isArray(value)) throw refuse(`${name} header repeated`);
    return value;
  }
  return undefined;
}

/** Authenticates a Smstools webhook (`X-Smstools-Signature: t=…,v1=…`) and parses a delivery report. */
export function parseDeliveryReport(
  req: WebhookRequest,
  secret: string,
  toleranceMs: number,
): DeliveryReport | null {
  const { rawBody, now } = req;
  if (!Buffer.isBuffer(rawBody))
    throw new TypeError('parseDeliveryReport: rawBody must be the unparsed body Buffer');
  const signature = header(req.headers, 'x-smstools-signature');
  if (signature === undefined) throw refuse('missing X-Smstools-Signature header');
  let t: string | undefined;
  const candidates: Buffer[] = [];
  for (const part of signature.split(',')) {
    const [key, value = ''] = part.trim().split('=', 2);
    if (key === 't') {
      if (t !== undefined || !/^\d{1,12}$/.test(value)) throw refuse('malformed X-Smstools-Signature header');
      t = value;
    } else if (key === 'v1' && /^[0-9a-f]{64}$/i.test(value)) {
      candidates.push(Buffer.from(value, 'hex'));
    } // other schemes (a future v2) are ignored
  }
  if (t === undefined || candidates.length === 0) throw refuse('malformed X-Smstools-Signature header');
  const timestamp = header(req.headers, 'x-smstools-timestamp');
  if (timestamp !== undefined && timestamp.trim() !== t) throw refuse('X-Smstools-Timestamp differs from t');
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  if (!candidates.some((candidate) => timingSafeEqual(candidate, expected)))
    throw refuse('signature mismatch');
  if (!(Math.abs(now - Number(t) * SECOND) <= toleranceMs))
    throw refuse('timestamp outside the accepted window');

  let payload: unknown;
  try {
    payload = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return null;
  }
  if (typeof payload !== 'object' || payload === null) return null;
  const { webhook_type: type, message } = payload as { webhook_type?: unknown; message?: unknown };
  if (type !== 'delivery_report' || typeof message !== 'object' || message === null) return null;
  const {
    messageid,
    receiver,
    delivery_code: code,
    delivery_status: text,
  } = message as Record<string, unknown>;
  if (typeof messageid !== 'string' || messageid === '') return null;
  const status = statusOf(code, text);
  if (!status) return null;
  // `receiver` is digits as Smstools stores them (community parsers; no official example).
  const to = typeof receiver === 'string' ? /^\+?([1-9]\d{7,14})$/.exec(receiver.trim())?.[1] : undefined;
  return to === undefined
    ? { messageId: messageid, status }
    : { messageId: messageid, status, receiver: `+${to}` };
}

function statusOf(code: unknown, text: unknown): DeliveryReport['status'] | undefined {
  switch (typeof code === 'number' ? String(code) : code) {
    case '1':
      return 'delivered';
    case '2':
    case '4':
    case '5':
      return 'undelivered';
    case '0':
    case '3':
    case '9':
      return 'submitted';
  }
  if (text === 'delivered') return 'delivered';
  if (text === 'not delivered') return 'undelivered';
  if (text === 'submitted') return 'submitted';
  return undefined;
}
