/**
 * Counted node:crypto for `vi.mock`: `createHmac` and, where Node has it (20.12+), `hash` wrapped
 * to count their calls and pass them through. The factory is hoisted above the imports, so it loads
 * this file itself:
 *
 *   vi.mock('node:crypto', async (importOriginal) =>
 *     (await import('../helpers/crypto-calls.js')).countingCrypto(await importOriginal<typeof import('node:crypto')>()));
 *
 * The counts live on `globalThis`, so a test that reloads its modules (`vi.resetModules()`, which
 * may load this file again) still reads the one set of counters.
 */
import type * as Crypto from 'node:crypto';

export interface CryptoCalls {
  createHmac: number;
  hash: number;
}

const COUNTS: unique symbol = Symbol.for('express-sms-2fa.test.cryptoCalls');
const holder = globalThis as { [COUNTS]?: CryptoCalls };

/** The calls counted so far (set a field to 0 to start again). */
holder[COUNTS] ??= { createHmac: 0, hash: 0 };
export const cryptoCalls: CryptoCalls = holder[COUNTS];

/** node:crypto (`real`, from `importOriginal`) with its `createHmac` and `hash` counting calls. */
export function countingCrypto(real: typeof Crypto): typeof Crypto {
  return {
    ...real,
    createHmac: (...args: Parameters<typeof real.createHmac>) => {
      cryptoCalls.createHmac++;
      return real.createHmac(...args);
    },
    // Only where Node has it: without it, the code under test takes its createHmac fallback.
    ...(typeof real.hash === 'function'
      ? {
          hash: ((...args: Parameters<typeof real.hash>) => {
            cryptoCalls.hash++;
            return real.hash(...args);
          }) as typeof real.hash,
        }
      : {}),
  };
}
