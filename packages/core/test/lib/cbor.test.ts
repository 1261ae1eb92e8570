/**
 * The CBOR decoder's text strings: decoded exactly as encoded, byte for byte (a leading U+FEFF is
 * content, not a byte order mark to drop), so two encodings never become the same text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CampusCardError,
  decodeCredential,
  generateKeyPair,
  issueCredential,
  parsePresentationPayload,
} from '../../src/index.js';
import { decodeCbor, decodeCborOwned, encodeCbor } from '../../src/lib/cbor.js';
import { PRESENTATION_LIMITS } from '../../src/lib/limits.js';

const NOW = 1_767_225_600;
const BOM = [0xef, 0xbb, 0xbf];
const T_0042 = [0x54, 0x2d, 0x30, 0x30, 0x34, 0x32]; // "T-0042"

describe('decodeCbor text strings', () => {
  it('keeps a leading U+FEFF (EF BB BF) instead of dropping it', () => {
    const withBom = Uint8Array.from([0x60 + 9, ...BOM, ...T_0042]);
    const plain = Uint8Array.from([0x60 + 6, ...T_0042]);
    expect(decodeCbor(withBom, PRESENTATION_LIMITS, 'test')).toBe('\uFEFFT-0042');
    expect(decodeCborOwned(withBom.slice(), PRESENTATION_LIMITS, 'test')).toBe('\uFEFFT-0042');
    expect(decodeCbor(plain, PRESENTATION_LIMITS, 'test')).toBe('T-0042');
    // a BOM-only string and one inside an array too
    expect(decodeCbor(Uint8Array.from([0x63, ...BOM]), PRESENTATION_LIMITS, 'test')).toBe('\uFEFF');
    expect(decodeCbor(Uint8Array.from([0x81, 0x64, ...BOM, 0x41]), PRESENTATION_LIMITS, 'test')).toEqual([
      '\uFEFFA',
    ]);
  });

  it('round-trips text with a leading U+FEFF', () => {
    for (const text of ['\uFEFF', '\uFEFFT-0042', '\uFEFF\uFEFFx', 'a\uFEFF']) {
      expect(decodeCbor(encodeCbor(text), PRESENTATION_LIMITS, 'test')).toBe(text);
    }
  });

  it('a compact code whose card id starts with U+FEFF names that card id, not "T-0042"', () => {
    const payload = encodeCbor(['\uFEFFT-0042', new Uint8Array(8).fill(7), NOW, new Uint8Array(4)]);
    expect(Array.from(payload.subarray(2, 5))).toEqual(BOM);
    expect(parsePresentationPayload(payload).cardId).toBe('\uFEFFT-0042');
  });

  it('a credential whose card id (sub) starts with U+FEFF keeps it', async () => {
    const issuer = generateKeyPair('ES256');
    const phone = generateKeyPair('ES256');
    const input = { school: '10001', role: 'teacher', iat: NOW, validityDays: 30, statusIndex: 3 } as const;
    const withBom = await issueCredential(
      { ...input, cardId: '\uFEFFT-0042', holderKey: phone.publicKey },
      issuer.privateKey,
    );
    const plain = await issueCredential(
      { ...input, cardId: 'T-0042', holderKey: phone.publicKey },
      issuer.privateKey,
    );
    expect(decodeCredential(withBom).claims.cardId).toBe('\uFEFFT-0042');
    expect(decodeCredential(plain).claims.cardId).toBe('T-0042');
  });
});

/** The error code `f` throws, or `'OK'`. */
function codeOf(f: () => unknown): string {
  try {
    f();
    return 'OK';
  } catch (e) {
    return e instanceof CampusCardError ? e.code : `untyped ${String(e)}`;
  }
}

describe('decodeCbor integers: magnitude at most 2^53 − 1 (spec §2.1)', () => {
  const decode = (bytes: number[]) => decodeCbor(Uint8Array.from(bytes), { maxBytes: 64 }, 'x');

  it('refuses −2^53 (3b 001fffffffffffff) with a typed error, as it refuses 2^53', () => {
    expect(codeOf(() => decode([0x3b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(
      'ERR_CBOR_UNSUPPORTED_TYPE',
    );
    expect(codeOf(() => decode([0x1b, 0x00, 0x20, 0, 0, 0, 0, 0, 0]))).toBe('ERR_CBOR_UNSUPPORTED_TYPE');
    // and inside a container
    expect(codeOf(() => decode([0x81, 0x3b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).toBe(
      'ERR_CBOR_UNSUPPORTED_TYPE',
    );
  });

  it('accepts ±(2^53 − 1), which re-encode to the same bytes', () => {
    const min = [0x3b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe];
    const max = [0x1b, 0x00, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
    expect(decode(min)).toBe(-Number.MAX_SAFE_INTEGER);
    expect(decode(max)).toBe(Number.MAX_SAFE_INTEGER);
    expect(Array.from(encodeCbor(decode(min)))).toEqual(min);
    expect(Array.from(encodeCbor(decode(max)))).toEqual(max);
  });

  it('every decoded integer is a safe integer (random 8-byte arguments, both signs)', () => {
    const argument = fc.oneof(
      fc.constantFrom(2n ** 53n - 2n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n),
      fc.bigInt({ min: 2n ** 32n, max: 2n ** 64n - 1n }),
    );
    fc.assert(
      fc.property(fc.boolean(), argument, (negative, arg) => {
        const bytes = [negative ? 0x3b : 0x1b];
        for (let i = 7; i >= 0; i--) bytes.push(Number((arg >> BigInt(i * 8)) & 0xffn));
        let value: unknown;
        try {
          value = decode(bytes);
        } catch (e) {
          expect((e as CampusCardError).code).toBe('ERR_CBOR_UNSUPPORTED_TYPE');
          return;
        }
        expect(Number.isSafeInteger(value)).toBe(true);
        expect(Array.from(encodeCbor(value as number))).toEqual(bytes);
      }),
      { seed: 53, numRuns: 500 },
    );
  });
});
