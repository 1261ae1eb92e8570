/**
 * The CBOR decoder's text strings: decoded exactly as encoded, byte for byte (a leading U+FEFF is
 * content, not a byte order mark to drop), so two encodings never become the same text.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CampusCardError,
  decodeCredential,
  generateKeyPair,
  issueCredential,
  parsePresentationPayload,
} from '../../src/index.js';
import { decodeCbor, decodeCborOwned, encodeCbor } from '../../src/lib/cbor.js';
import { PRESENTATION_LIMITS } from '../../src/lib/limits.js';
import { codeOf } from '../helpers/code-of.js';

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

/**
 * Well-formed UTF-8 as Unicode defines it (table 3-7), written out byte by byte as the C example
 * harness (examples/c-verifier-harness) checks it: the reference the decoder is held to below.
 */
function isUtf8(b: readonly number[]): boolean {
  for (let i = 0; i < b.length; ) {
    const lead = b[i] as number;
    let more: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (lead < 0x80) {
      i++;
      continue;
    }
    if (lead >= 0xc2 && lead <= 0xdf) more = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      more = 2;
      if (lead === 0xe0) lo = 0xa0;
      if (lead === 0xed) hi = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      more = 3;
      if (lead === 0xf0) lo = 0x90;
      if (lead === 0xf4) hi = 0x8f;
    } else return false;
    if (i + more >= b.length) return false;
    const second = b[i + 1] as number;
    if (second < lo || second > hi) return false;
    for (let j = 2; j <= more; j++) if (((b[i + j] as number) & 0xc0) !== 0x80) return false;
    i += 1 + more;
  }
  return true;
}

/** A CBOR text string head and `bytes` (fewer than 256 bytes). */
function textItem(bytes: readonly number[]): number[] {
  return bytes.length < 24 ? [0x60 + bytes.length, ...bytes] : [0x78, bytes.length, ...bytes];
}

describe('decodeCbor text strings are UTF-8 (spec §2.1)', () => {
  const decode = (bytes: number[]) => decodeCbor(Uint8Array.from(bytes), { maxBytes: 1024 }, 'x');
  const invalid: ReadonlyArray<readonly [string, number[]]> = [
    ['a lone continuation byte', [0x54, 0x80, 0x41]],
    ['a lead byte C0 (overlong "/" in two bytes)', [0xc0, 0xaf]],
    ['a lead byte C1', [0xc1, 0xbf]],
    ['an overlong three-byte form (E0 80 AF)', [0xe0, 0x80, 0xaf]],
    ['an overlong four-byte form (F0 80 80 AF)', [0xf0, 0x80, 0x80, 0xaf]],
    ['a surrogate (ED A0 80, U+D800)', [0xed, 0xa0, 0x80]],
    ['the last surrogate (ED BF BF, U+DFFF)', [0xed, 0xbf, 0xbf]],
    ['U+110000 (F4 90 80 80)', [0xf4, 0x90, 0x80, 0x80]],
    ['a lead byte F5', [0xf5, 0x80, 0x80, 0x80]],
    ['the byte FF', [0x41, 0xff]],
    ['the byte FE', [0xfe]],
    ['a character cut short by the end of the string', [0x54, 0xe2, 0x82]],
    ['a character cut short by an ASCII byte', [0xe2, 0x82, 0x41]],
    ['a four-byte character missing its last byte', [0xf0, 0x9f, 0x98, 0x41]],
  ];

  for (const [what, bytes] of invalid) {
    it(`refuses ${what} with ERR_CBOR_MALFORMED, alone, in an array, as a map key or value`, () => {
      expect(isUtf8(bytes)).toBe(false);
      const t = textItem(bytes);
      expect(codeOf(() => decode(t))).toBe('ERR_CBOR_MALFORMED');
      expect(codeOf(() => decode([0x82, 0x01, ...t]))).toBe('ERR_CBOR_MALFORMED');
      expect(codeOf(() => decode([0xa1, ...t, 0x01]))).toBe('ERR_CBOR_MALFORMED');
      expect(codeOf(() => decode([0xa1, 0x01, ...t]))).toBe('ERR_CBOR_MALFORMED');
      // a byte string holds any bytes
      expect(codeOf(() => decode([0x40 + bytes.length, ...bytes]))).toBe('OK');
    });
  }

  it('accepts the first and last code point of each UTF-8 length and those around the surrogates', () => {
    const text = '\u0000\u007F\u0080\u07FF\u0800\uD7FF\uE000\uFFFD\uFFFF\u{10000}\u{10FFFF}';
    const encoded = encodeCbor(text);
    expect(isUtf8([...encoded.subarray(2)])).toBe(true);
    expect(decode([...encoded])).toBe(text);
  });

  it('accepts a text string exactly when it is well-formed UTF-8 (random bytes)', () => {
    // bytes around every boundary of table 3-7, and any byte
    const edge = fc.constantFrom(
      0x00,
      0x41,
      0x7f,
      0x80,
      0x8f,
      0x90,
      0x9f,
      0xa0,
      0xbf,
      0xc0,
      0xc1,
      0xc2,
      0xdf,
      0xe0,
      0xe1,
      0xec,
      0xed,
      0xee,
      0xef,
      0xf0,
      0xf1,
      0xf3,
      0xf4,
      0xf5,
      0xff,
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(edge, fc.integer({ min: 0, max: 255 })), { maxLength: 12 }), (bytes) => {
        const code = codeOf(() => decode(textItem(bytes)));
        expect(code).toBe(isUtf8(bytes) ? 'OK' : 'ERR_CBOR_MALFORMED');
        // what is accepted is the same bytes again
        if (code === 'OK') expect([...encodeCbor(decode(textItem(bytes)))]).toEqual(textItem(bytes));
      }),
      { seed: 8, numRuns: 3000 },
    );
  });
});

describe('decodeCbor: not CBOR at all (malformed) versus CBOR this format does not take (unsupported)', () => {
  const decode = (bytes: number[]) => decodeCbor(Uint8Array.from(bytes), { maxBytes: 64 }, 'x');

  it('heads RFC 8949 reserves or forbids are ERR_CBOR_MALFORMED', () => {
    const malformed = [
      [0xfc], // simple values 28 – 30: reserved additional information
      [0xfd],
      [0xfe],
      [0xf8, 0x00], // the two-byte form of a simple value below 32
      [0xf8, 0x1f],
      [0xf8], // truncated
      [0xdc], // tags with reserved additional information
      [0xdd],
      [0xde],
      [0xdf], // additional information 31 has no meaning for a tag
      [0x1f], // … nor for an integer (there is no indefinite-length integer)
      [0x3f],
      [0x1c], // reserved additional information for an integer, as before
      [0x5c],
    ];
    for (const bytes of malformed) {
      expect([bytes, codeOf(() => decode(bytes))]).toEqual([bytes, 'ERR_CBOR_MALFORMED']);
    }
  });

  it('well-formed items outside the format stay ERR_CBOR_UNSUPPORTED_TYPE', () => {
    const unsupported = [
      [0xf6], // null
      [0xf8, 0x20], // simple value 32, two-byte form
      [0xf9, 0x3c, 0x00], // a half float
      [0xc1, 0x00], // a tag
      [0x5f, 0xff], // an indefinite-length byte string
      [0x9f, 0xff], // an indefinite-length array
    ];
    for (const bytes of unsupported) {
      expect([bytes, codeOf(() => decode(bytes))]).toEqual([bytes, 'ERR_CBOR_UNSUPPORTED_TYPE']);
    }
  });
});
