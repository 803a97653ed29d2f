// Test helpers for apps that use express-sms-2fa: `import { ... } from 'express-sms-2fa/testing'`.
export { extractCode } from '../transports/memory.js';
