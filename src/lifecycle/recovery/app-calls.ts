import { TwoFactorError } from '../../errors.js';

/** The app's `load` and `save` get this long before the request fails closed with 503. */
const APP_CALL_TIMEOUT_MS = 10_000;

/**
 * Calls the app's recovery storage. A throw, a rejection or no answer in time becomes 503
 * ERR_2FA_STORE_UNAVAILABLE (fail closed), logged without the value.
 */
export async function appCall<T>(
  what: string,
  logger: { error(message: string): void },
  call: () => T | Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer in ${APP_CALL_TIMEOUT_MS} ms`)),
      APP_CALL_TIMEOUT_MS,
    );
    timer.unref?.();
  });
  try {
    return await Promise.race([Promise.resolve().then(call), timeout]);
  } catch (cause) {
    logger.error(
      `express-sms-2fa: recovery.${what} failed (${cause instanceof Error ? cause.name : 'error'}); answered 503`,
    );
    throw new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE', { cause });
  } finally {
    clearTimeout(timer);
  }
}

/** The saved hashes as `load` gave them: anything but an array of strings reads as none. */
export function hashesOf(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((h): h is string => typeof h === 'string') : [];
}
