// Text helpers shared by the server-rendered page and its script (bundled into it): no Node APIs.

/** One form per `Intl.PluralRules` category of the language; `other` is the one always needed. */
export interface PluralForms {
  zero?: string;
  one?: string;
  two?: string;
  few?: string;
  many?: string;
  other: string;
}

/** A text that may depend on a number: one string for every number, or its plural forms. */
export type Countable = string | PluralForms;

/** The form of `text` for `count` under the plural rules of `locale` (French 0 and 1 are "one"). */
export function plural(text: Countable, count: number, locale: string): string {
  return typeof text === 'string' ? text : (text[new Intl.PluralRules(locale).select(count)] ?? text.other);
}

/** Fills `{name}` placeholders; unknown names stay as written. */
export function fillText(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? String(values[name]) : whole,
  );
}

/** Seconds as `m:ss` (`58` → `0:58`, `118` → `1:58`): how every countdown on the page reads. */
export function clock(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What a `{time}` text is filled with. */
export const timeValues = (seconds: number) => ({ time: clock(seconds) });
