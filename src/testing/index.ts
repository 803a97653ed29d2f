// Test helpers for apps that use express-sms-2fa: `import { ... } from 'express-sms-2fa/testing'`.

export { extractCode } from '../transports/memory.js'; // the code in an SMS or voice text
export type { CheckStoreOptions } from './check-store.js';
export { checkStore } from './check-store.js'; // checks that a custom store keeps the Store contract
export type {
  FakeDeliveryStatus,
  FakeSmstools,
  FakeSmstoolsFailure,
  FakeSmstoolsMessage,
  FakeSmstoolsOptions,
  FakeSmstoolsRequest,
  FakeSmstoolsWebhook,
  FakeSmstoolsWebhookAttempt,
} from './fake-smstools.js';
export { fakeSmstools, startFakeSmstools } from './fake-smstools.js'; // a faithful fake Smstools API server
