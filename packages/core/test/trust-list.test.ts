/**
 * Trust lists (spec §3): which schools an entry covers; a list names at least one key.
 */
import { describe, expect, it } from 'vitest';
import {
  CampusCardError,
  decodeSign1,
  entryCoversSchool,
  generateKeyPair,
  PLATFORM_AUTHORITY,
  parseTrustListPayload,
  sign1ToBeSigned,
  signBytes,
  signTrustList,
  type TrustListEntry,
  verifyTrustList,
} from '../src/index.js';
import { type CborMap, decodeCbor, encodeCbor } from '../src/lib/cbor.js';

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

describe('a trust list names at least one key (spec §3: keys is [+ entry])', () => {
  const root = generateKeyPair('ES256').privateKey;
  const input = { version: 1, iat: 1_767_225_600, authority: 'platform' } as const;

  /** The error code `f` throws (or its promise rejects with), or `'OK'`. */
  async function codeOf(f: () => unknown): Promise<string> {
    try {
      await f();
      return 'OK';
    } catch (e) {
      return e instanceof CampusCardError ? e.code : `untyped ${String(e)}`;
    }
  }

  it('signTrustList refuses to sign a list with no keys, with the reader’s ERR_STRUCTURE', async () => {
    expect(await codeOf(() => signTrustList({ ...input, keys: [] }, root))).toBe('ERR_STRUCTURE');
    await expect(signTrustList({ ...input, keys: [] }, root)).rejects.toThrow(/at least one/);
  });

  it('a reader refuses an empty list, signed by its root, when it loads it', async () => {
    const one = await signTrustList(
      { ...input, keys: [{ key: generateKeyPair('ES256').publicKey, roles: ['student'], nbf: 0, exp: 1 }] },
      root,
    );
    expect(verifyTrustList(one, [root.publicKey]).keys).toHaveLength(1);
    // the same list re-signed with keys = []
    const sign1 = decodeSign1(one, { maxBytes: 4096 }, 'tl', true);
    const payload = decodeCbor(sign1.payload, { maxBytes: 4096 }, 'p') as CborMap;
    payload.set(4, []);
    const empty = encodeCbor(payload);
    const signature = signBytes(root, sign1ToBeSigned(sign1.protectedBytes, empty));
    const bytes = encodeCbor([sign1.protectedBytes, new Map(), empty, signature]);
    expect(await codeOf(() => parseTrustListPayload(empty))).toBe('ERR_STRUCTURE');
    expect(await codeOf(() => verifyTrustList(bytes, [root.publicKey]))).toBe('ERR_STRUCTURE');
    // as a list without keys at all, or with keys that are not an array
    payload.delete(4);
    expect(await codeOf(() => parseTrustListPayload(encodeCbor(payload)))).toBe('ERR_STRUCTURE');
    payload.set(4, new Map());
    expect(await codeOf(() => parseTrustListPayload(encodeCbor(payload)))).toBe('ERR_STRUCTURE');
  });
});
