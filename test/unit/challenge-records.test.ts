import { describe, expect, it } from 'vitest';
import { parseSealed, serializeSealed } from '../../src/challenge.js';
import { seal, unseal } from '../../src/crypto.js';

const SECRET = 'a-test-secret-that-is-at-least-32-characters';

describe('the sealed code and number of a challenge', () => {
  it('round-trips through seal and unseal as `code number`, without JSON', () => {
    const sealed = { code: '042917', to: '+32470123401' };
    const text = serializeSealed(sealed);
    expect(text).toBe('042917 +32470123401');
    expect(parseSealed(unseal([SECRET], 'challenge-id', seal(SECRET, 'challenge-id', text)))).toEqual(sealed);
  });

  it('reads anything else as no code at all', () => {
    for (const bad of [undefined, '', '042917', ' +32470123401', '042917 ', '{"code":"1","to":"+3"}']) {
      expect(parseSealed(bad)).toBeNull();
    }
  });
});
