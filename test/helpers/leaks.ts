import { extractCode } from '../../src/transports/memory.js';
import type { CapturedResponse } from './capture.js';
import { SECRET, SESSION_SECRET, USERS } from './create-app.js';

/** What the scan needs from a test app. */
export interface Scanned {
  phones: Map<string, string>;
  sentTexts: () => string[];
  responses: CapturedResponse[];
  logs: string[];
  events: object[];
}

/**
 * Every place where an issued code, a full phone number, a secret, a session id or a cookie
 * value shows up in what the apps answered (bodies, headers but Set-Cookie), logged, emitted,
 * or what went to the console. An empty list means clean.
 */
export function findLeaks(apps: Scanned[], consoleLines: string[]): string[] {
  const secrets = new Set<string>([SECRET, SESSION_SECRET]);
  for (const user of Object.values(USERS)) for (const form of phoneForms(user.phone)) secrets.add(form);
  const codes = new Set<string>();
  const places: [string, string][] = consoleLines.map((line) => ['console', line]);

  for (const t of apps) {
    for (const phone of t.phones.values()) for (const form of phoneForms(phone)) secrets.add(form);
    for (const text of t.sentTexts()) {
      const code = extractCode(text);
      if (code) codes.add(code);
    }
    for (const res of t.responses) {
      const cookies = ([] as unknown[]).concat(res.headers['set-cookie'] ?? []).map(String);
      for (const cookie of cookies) {
        const value = decodeURIComponent(cookie.split(';')[0]?.split('=').slice(1).join('=') ?? '');
        if (value.length >= 8) {
          secrets.add(value);
          secrets.add(encodeURIComponent(value));
        }
      }
      const headers = Object.entries(res.headers).filter(([name]) => name !== 'set-cookie');
      places.push(
        [`${res.method} ${res.url} body`, res.body],
        [`${res.method} ${res.url} headers`, safeStringify(headers)],
      );
    }
    places.push(...t.logs.map((line): [string, string] => ['logger', line]));
    places.push(...t.events.map((event): [string, string] => ['event', safeStringify(event)]));
  }

  const found: string[] = [];
  for (const [where, text] of places) {
    for (const secret of secrets) {
      if (text.includes(secret))
        found.push(`${where} holds a secret, a full number or a cookie value: ${redact(text, secret)}`);
    }
    for (const code of codes) {
      if (new RegExp(`(?<!\\d)${code}(?!\\d)`).test(text))
        found.push(`${where} holds an issued code: ${redact(text, code)}`);
    }
  }
  return found;
}

/** The ways a number can be written: E.164, without +, national digits, with a trunk 0. */
export function phoneForms(e164: string): string[] {
  const digits = e164.replace(/\D/g, '');
  const national = digits.replace(/^(32|31|1|33|49|44)/, '');
  // Forms shorter than 6 characters (from junk numbers) would match everywhere.
  return [e164, digits, national, `0${national}`].filter((form) => form.length >= 6);
}

function redact(text: string, secret: string): string {
  const at = text.indexOf(secret);
  return `…${text.slice(Math.max(0, at - 40), at)}[HERE]${text.slice(at + secret.length, at + secret.length + 40)}…`;
}

export function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
