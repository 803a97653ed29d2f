import { CODE_FORMAT_MESSAGES, ERROR_MESSAGES } from '../error-messages.js';
import { LIFECYCLE_TEXTS } from '../lifecycle/texts.js';
import type { Locale } from '../messages.js';
import { de } from './locales/de.js';
import { en } from './locales/en.js';
import { fr } from './locales/fr.js';
import { nl } from './locales/nl.js';
import type { PageTexts } from './options.js';

const PAGE_ONLY = { en, nl, fr, de };

/**
 * The page's default texts in each language of `locale`. The error messages and the "enter all
 * digits" message are the API's own, so the page and the API say the same thing.
 */
export const PAGE_TEXTS: Record<Locale, PageTexts> = Object.fromEntries(
  Object.entries(PAGE_ONLY).map(([locale, texts]) => [
    locale,
    {
      ...texts,
      ...LIFECYCLE_TEXTS[locale as Locale],
      codeFormat: CODE_FORMAT_MESSAGES[locale as Locale],
      errors: { ...ERROR_MESSAGES[locale as Locale] },
    },
  ]),
) as Record<Locale, PageTexts>;

/** The English texts (the default when no `locale` is set). */
export const DEFAULT_TEXTS: PageTexts = PAGE_TEXTS.en;
