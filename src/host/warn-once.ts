import type { Logger } from '../options.js';

/**
 * Says something about the host app once per `twoFactor()` instance: a misfit that would
 * otherwise fail silently on every request (the text names the fix), without flooding the log.
 */
export type WarnOnce = (key: string, message: string, level?: 'warn' | 'error') => void;

export function createWarnOnce(logger: Logger): WarnOnce {
  const said = new Set<string>();
  return (key, message, level = 'warn') => {
    if (said.has(key)) return;
    said.add(key);
    logger[level](`express-sms-2fa: ${message}`);
  };
}
