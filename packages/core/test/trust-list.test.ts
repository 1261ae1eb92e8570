/**
 * Trust lists (spec §3): which schools an entry covers.
 */
import { describe, expect, it } from 'vitest';
import { entryCoversSchool, generateKeyPair, PLATFORM_AUTHORITY, type TrustListEntry } from '../src/index.js';

const key = generateKeyPair('ES256').publicKey;

function entry(schools: string[]): TrustListEntry {
  return { key, roles: ['student'], nbf: 0, exp: 1, schools, uses: 7 };
}

describe('entryCoversSchool', () => {
  it('an entry naming schools covers exactly those, whatever the authority', () => {
    for (const authority of [PLATFORM_AUTHORITY, '10001']) {
      expect(entryCoversSchool(entry(['10001', '10002']), { authority }, '10002')).toBe(true);
      expect(entryCoversSchool(entry(['10001']), { authority }, '10003')).toBe(false);
    }
  });

  it('an empty `schools` covers every school in a platform list, only its own in a school’s list', () => {
    expect(entryCoversSchool(entry([]), { authority: 'platform' }, '10002')).toBe(true);
    expect(entryCoversSchool(entry([]), { authority: '10001' }, '10001')).toBe(true);
    expect(entryCoversSchool(entry([]), { authority: '10001' }, '10002')).toBe(false);
    expect(entryCoversSchool(entry([]), { authority: '10001' }, 'platform')).toBe(false);
  });
});
