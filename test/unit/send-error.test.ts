import type { Response } from 'express';
import { describe, expect, it, vi } from 'vitest';
import { localMessage } from '../../src/error-messages.js';
import { ERROR_CODES, type ErrorCode, TwoFactorError } from '../../src/errors.js';
import { sendError } from '../../src/http.js';
import { LOCALES } from '../../src/messages.js';

/** What sendError wrote: status, headers in order, body. */
function capture(error: TwoFactorError, locale: (typeof LOCALES)[number]) {
  const headers: [string, unknown][] = [];
  let body = '';
  const res = {
    statusCode: 0,
    setHeader: (name: string, value: unknown) => headers.push([name, value]),
    end: (text: string) => {
      body = text;
    },
  };
  sendError(res as unknown as Response, error, locale);
  return { status: res.statusCode, headers, body };
}

/** The answer as sendError built it before its texts were kept: serialized every time. */
function reference(error: TwoFactorError, locale: (typeof LOCALES)[number]) {
  const retryAfter = error.retryAfter ?? (error.status === 429 || error.status === 503 ? 1 : undefined);
  const text = JSON.stringify({
    error: { code: error.code, message: localMessage(error, locale), ...error.details },
  });
  return {
    status: error.status,
    headers: [
      ...(retryAfter === undefined ? [] : [['Retry-After', String(Math.max(1, Math.ceil(retryAfter)))]]),
      ['Content-Type', 'application/json; charset=utf-8'],
      ['Content-Length', Buffer.byteLength(text)],
    ],
    body: text,
  };
}

describe('sendError keeps the text of an error without details', () => {
  const codes = Object.keys(ERROR_CODES) as ErrorCode[];
  it('writes exactly the serialized answer, the first time and every time after', () => {
    for (const locale of LOCALES) {
      for (const code of codes) {
        for (let i = 0; i < 3; i++) {
          const made = () => new TwoFactorError(code, i === 2 ? { retryAfter: 7.5 } : {});
          expect(capture(made(), locale)).toEqual(reference(made(), locale));
        }
      }
    }
  });

  it('keeps messages of their own apart, details serialized each time, and stops keeping past its cap', () => {
    const errors = [
      new TwoFactorError('ERR_2FA_BAD_REQUEST', { message: 'The field "a" appears twice.' }),
      new TwoFactorError('ERR_2FA_BAD_REQUEST', { message: 'The field "b" appears twice.' }),
      new TwoFactorError('ERR_2FA_BAD_REQUEST', { message: 'Use POST.', status: 405 }),
      new TwoFactorError('ERR_2FA_CODE_INVALID', { details: { attemptsLeft: 3 } }),
      new TwoFactorError('ERR_2FA_CODE_INVALID', { details: { attemptsLeft: 2 } }),
      new TwoFactorError('ERR_2FA_REQUIRED', { details: { verifyUrl: '/2fa?returnTo=%2F' } }),
      ...Array.from(
        { length: 300 },
        (_, i) => new TwoFactorError('ERR_2FA_BAD_REQUEST', { message: `ü ${i}` }),
      ),
    ];
    for (let round = 0; round < 2; round++) {
      for (const error of errors) expect(capture(error, 'fr')).toEqual(reference(error, 'fr'));
    }
  });

  it('keeps only the texts of a code with its own message: a custom one (a field the client named) never fills it', () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      const own = new TwoFactorError('ERR_2FA_STORE_UNAVAILABLE');
      capture(own, 'de');
      stringify.mockClear();
      capture(own, 'de');
      expect(stringify).not.toHaveBeenCalled();
      const named = new TwoFactorError('ERR_2FA_BAD_REQUEST', { message: 'The field "zz" appears twice.' });
      capture(named, 'de');
      capture(named, 'de');
      expect(stringify).toHaveBeenCalledTimes(2);
    } finally {
      stringify.mockRestore();
    }
  });
});

describe("sendError keeps a wrong code's text, by its attempts left", () => {
  it('serializes a wrong code of one count once, and writes exactly the spread answer', () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    try {
      for (const locale of LOCALES) {
        for (const attemptsLeft of [0, 1, 4, 9, 1000]) {
          const made = () => new TwoFactorError('ERR_2FA_CODE_INVALID', { details: { attemptsLeft } });
          capture(made(), locale);
          stringify.mockClear();
          expect(capture(made(), locale)).toEqual(reference(made(), locale));
          // once for `reference` alone: the answer's own text was kept
          expect(stringify).toHaveBeenCalledTimes(1);
          stringify.mockClear();
        }
      }
    } finally {
      stringify.mockRestore();
    }
  });

  it('serializes every other shape of details each time, as the spread gives it', () => {
    const inherited = Object.create({ extra: 1 }) as Record<string, unknown>;
    inherited.attemptsLeft = 2;
    const hidden = {} as Record<string, unknown>;
    Object.defineProperty(hidden, 'attemptsLeft', { value: 3, enumerable: false });
    const withSymbol = { attemptsLeft: 5, [Symbol('s')]: 1 } as Record<string, unknown>;
    const detailsList: Record<string, unknown>[] = [
      { attemptsLeft: 2, extra: 'x' },
      { extra: 'x', attemptsLeft: 2 },
      { attemptsLeft: 1.5 },
      { attemptsLeft: -1 },
      { attemptsLeft: 1001 },
      { attemptsLeft: '3' },
      { attemptsLeft: -0 },
      inherited,
      hidden,
      withSymbol,
    ];
    for (const details of detailsList) {
      for (const message of [undefined, 'A message of its own.']) {
        const made = () =>
          new TwoFactorError('ERR_2FA_CODE_INVALID', { details, ...(message ? { message } : {}) });
        for (let i = 0; i < 2; i++) expect(capture(made(), 'nl')).toEqual(reference(made(), 'nl'));
      }
    }
  });
});
