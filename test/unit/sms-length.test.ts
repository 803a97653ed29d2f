import { describe, expect, it } from 'vitest';
import { LOCALES } from '../../src/messages.js';
import type { TwoFactorOptions } from '../../src/options.js';
import { gsmLength, smsParts } from '../../src/sms-length.js';
import { memoryTransport } from '../../src/transports/memory.js';
import { twoFactor } from '../../src/two-factor.js';

function build(options: Partial<TwoFactorOptions> = {}): string[] {
  const warnings: string[] = [];
  twoFactor({
    secret: 'x'.repeat(32),
    getUser: () => null,
    transport: memoryTransport(),
    allowedCountries: ['BE'],
    logger: { warn: (m) => warnings.push(m), error: (m) => warnings.push(m) },
    ...options,
  });
  return warnings;
}

describe('gsmLength and smsParts', () => {
  it('counts GSM-7 units: accented letters of the basic set once, the nine extension characters twice', () => {
    expect(gsmLength('Code 123456')).toEqual({ units: 11, foreign: [] });
    expect(gsmLength('éèàäöüßÑ\n')).toEqual({ units: 9, foreign: [] });
    expect(gsmLength('€\\}[^~]{|')).toEqual({ units: 18, foreign: [] });
    expect(gsmLength('ça coûte 🙂🙂')).toEqual({ units: 11, foreign: ['ç', 'û', '🙂'] });
  });

  it('splits over 160 units into parts of 153', () => {
    expect([1, 160, 161, 306, 307, 459].map(smsParts)).toEqual([1, 1, 2, 2, 3, 3]);
  });
});

describe('the SMS text, checked at startup', () => {
  it('is quiet for the default texts in every locale, with the longest code and a long app name', () => {
    for (const locale of LOCALES) {
      expect(build({ locale, codeLength: 10, appName: 'A'.repeat(40) }), locale).toEqual([]);
    }
  });

  it('warns once when every code would go out as several billed parts', () => {
    const warnings = build({
      webOtpDomain: `${'very-long-subdomain.'.repeat(4)}example.com`,
      appName: 'A'.repeat(40),
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /the SMS text is 2\d\d GSM-7 characters with a 6-digit code, so every code goes out as 2 billed parts/,
    );
    expect(warnings[0]).toMatch(/warnings: \{ smsLength: false \}/);
  });

  it('warns about characters GSM-7 lacks, without repeating the text', () => {
    const warnings = build({ messages: { sms: ({ code }: { code: string }) => `🔐 ${code} — secret` } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('GSM-7 lacks (🔐 —)');
    expect(warnings[0]).not.toContain('secret');
  });

  it('can be silenced with warnings.smsLength: false', () => {
    expect(
      build({
        messages: { sms: ({ code }: { code: string }) => `🔐 ${code}${'x'.repeat(300)}` },
        warnings: { smsLength: false },
      }),
    ).toEqual([]);
  });

  it('refuses at startup a custom text that throws or returns no text', () => {
    expect(() =>
      build({
        messages: {
          sms: () => {
            throw new Error('template missing');
          },
        },
      }),
    ).toThrow(/option `messages.sms` threw when called with a sample context: template missing/);
    expect(() => build({ messages: { sms: (() => undefined) as never } })).toThrow(
      /option `messages.sms` must return the SMS text/,
    );
    expect(() => build({ messages: { sms: () => '  ' } })).toThrow(
      /option `messages.sms` must return the SMS text/,
    );
  });
});
