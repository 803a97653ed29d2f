// express-sms-2fa: an SMS one-time-code second factor for Express. Named exports only.
export { DAY, HOUR, MINUTE, SECOND } from './constants.js'; // time units (every option is in ms)
export type { ErrorCode } from './errors.js';
export { ERROR_CODES, TwoFactorConfigError, TwoFactorError } from './errors.js'; // error class and code table
export type { TwoFactorEvent, TwoFactorEventType } from './events.js'; // monitoring events (onEvent)
export type { SecondFactorGuard, SecondFactorInfo } from './guard.js'; // tfa.requireSecondFactor (and .within(ms)), req.secondFactor
export type { HealthReport, ProviderHealth, StoreHealth } from './health/health.js'; // tfa.health()
export type { HealthOptions, MetricsOptions } from './health/options.js'; // the health and metrics options
export type { RememberedDevice } from './lifecycle/devices/records.js'; // tfa.devices.list()
export type { EnrollOptions } from './lifecycle/enroll/options.js'; // the enroll option: enrollment and phone change
export type { RecoveryOptions, RememberDeviceOptions } from './lifecycle/options.js'; // the recovery and rememberDevice options
export type { Locale, MessageContext } from './messages.js'; // custom SMS / voice texts
export { METER_NAME, METRICS } from './metrics/instruments.js'; // OpenTelemetry instrument names, units, descriptions
export type { Logger, SendAttempt, TwoFactorOptions, User } from './options.js'; // SendAttempt: what beforeSend decides on
export type { PageAlternative, PageChallenge, PageOptions, PageTexts, PageView } from './page/options.js'; // challenge page customisation
export type { MemoryStore, MemoryStoreOptions } from './stores/memory-store.js';
export { memoryStore } from './stores/memory-store.js'; // default store: per-process lru-cache
export type { PostgresQuery, PostgresStore, PostgresStoreOptions } from './stores/postgres-store.js';
export { postgresStore } from './stores/postgres-store.js'; // PostgreSQL store for several instances (app passes query); postgresStore.schema() is its DDL
export type { RedisStore, RedisStoreOptions, SendCommand } from './stores/redis-store.js';
export { redisStore } from './stores/redis-store.js'; // Redis/Valkey store for several instances (app passes sendCommand)
export type { Store, VerifyAttemptInput, VerifyAttemptResult } from './stores/store.js'; // the five-method store interface, and its optional one-call verify
export type { MemoryTransport, RecordedMessage } from './transports/memory.js';
export { memoryTransport } from './transports/memory.js'; // records messages (tests, demo)
export type {
  SmstoolsErrorKind,
  SmstoolsOptions,
  SmstoolsTransport,
  SmstoolsVoiceGender,
  SmstoolsVoiceLanguage,
} from './transports/smstools.js';
export { SmstoolsError, smstools } from './transports/smstools.js'; // Smstools transport (ofetch): SMS + voice
export type {
  DeliveryReport,
  ProviderStatus,
  SendResult,
  SmsMessage,
  SmsTransport,
  VoiceMessage,
} from './transports/transport.js';
export type { TwoFactor } from './two-factor.js';
export { twoFactor } from './two-factor.js'; // the factory: router + guard
