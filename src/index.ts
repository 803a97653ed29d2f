// express-sms-2fa: an SMS one-time-code second factor for Express. Named exports only.
export { DAY, HOUR, MINUTE, SECOND } from './constants.js'; // time units (all options are in ms)
export type { ErrorCode } from './errors.js';
export { ERROR_CODES, TwoFactorConfigError, TwoFactorError } from './errors.js'; // error class and code table
export type { MemoryStore, MemoryStoreOptions } from './stores/memory-store.js';
export { memoryStore } from './stores/memory-store.js'; // default store: per-process lru-cache
export type { Store } from './stores/store.js'; // the five-method store interface
export type { MemoryTransport, RecordedMessage } from './transports/memory.js';
export { memoryTransport } from './transports/memory.js'; // records messages (tests, demo)
export type {
  DeliveryReport,
  SendResult,
  SmsMessage,
  SmsTransport,
  VoiceMessage,
} from './transports/transport.js';
