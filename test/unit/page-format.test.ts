import { describe, expect, it } from 'vitest';
import { codeFrom } from '../../src/page/client/code-input.js';
import { clock, fillText, plural } from '../../src/page/format.js';

describe('the page texts: plural forms and countdowns', () => {
  const attempts = { one: '{n} attempt', other: '{n} attempts' };

  it.each([
    ['en', 0, 'other'],
    ['en', 1, 'one'],
    ['en', 2, 'other'],
    ['nl', 1, 'one'],
    ['de', 1, 'one'],
    ['de', 0, 'other'],
    // French counts zero as singular: "0 essai".
    ['fr', 0, 'one'],
    ['fr', 1, 'one'],
    ['fr', 2, 'other'],
  ] as const)('in %s, %i takes the "%s" form (Intl.PluralRules)', (locale, n, form) => {
    expect(plural(attempts, n, locale)).toBe(attempts[form]);
  });

  it('falls back to "other" for a form the text does not give, and takes a plain string as it is', () => {
    expect(plural({ other: 'x' }, 1, 'en')).toBe('x');
    expect(plural({ one: 'a', other: 'b' }, 1_000_000, 'fr')).toBe('b'); // French "many"
    expect(plural('same', 1, 'en')).toBe('same');
  });

  it('reads countdowns as m:ss, rounding up', () => {
    expect([0, 0.2, 9, 58, 60, 118, 600].map(clock)).toEqual([
      '0:00',
      '0:01',
      '0:09',
      '0:58',
      '1:00',
      '1:58',
      '10:00',
    ]);
  });

  it('fills only the placeholders it is given', () => {
    expect(fillText('{label} in {time} {other}', { label: 'Verify', time: '0:42' })).toBe(
      'Verify in 0:42 {other}',
    );
    expect(fillText('{constructor}', {})).toBe('{constructor}');
  });
});

describe('the code field: digits only, and the code out of a pasted SMS', () => {
  it.each([
    ['12ab34', '1234'],
    ['123 456', '123456'],
    ['123-456', '123456'],
    ['1234567', '123456'],
    ['Your verification code for the demo is 482193. It expires in 5 minutes. Never share it.', '482193'],
    [
      'Uw verificatiecode voor Shop24 is 482193. Hij vervalt over 5 minuten.\n\n@shop.example #482193',
      '482193',
    ],
    ['', ''],
  ])('%j → %j', (typed, code) => {
    expect(codeFrom(typed, 6)).toBe(code);
  });
});
