import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromBase64Lenient, fromBase64Url, toBase64, toBase64Url } from '../../src/lib/bytes.js';

const a = new Uint8Array([0x61]);

describe('fromBase64 (strict, padded)', () => {
  it('decodes canonical padded base64 only', () => {
    expect(fromBase64('')).toEqual(new Uint8Array(0));
    expect(fromBase64('YQ==')).toEqual(a);
    expect(fromBase64('/+Ah')).toEqual(new Uint8Array([0xff, 0xe0, 0x21]));
    for (const bad of [
      'YQ',
      'YQ=',
      'YR==',
      'iZ==',
      'YWJ=',
      'Y===',
      'YQ===',
      '=YQ=',
      'Y=Q=',
      '_-Ah',
      'YQ ==',
    ]) {
      expect(fromBase64(bad), bad).toBeUndefined();
    }
    expect(fromBase64(42 as unknown as string)).toBeUndefined();
  });
});

describe('fromBase64Lenient (RFC 8941 §4.2.7)', () => {
  it('accepts missing padding and non-zero pad bits', () => {
    expect(fromBase64Lenient('')).toEqual(new Uint8Array(0));
    for (const ok of ['YQ==', 'YQ', 'YR==', 'YR', 'Yf']) expect(fromBase64Lenient(ok), ok).toEqual(a);
    expect(fromBase64Lenient('iZ==')).toEqual(new Uint8Array([0x89]));
    expect(fromBase64Lenient('YWJ')).toEqual(new Uint8Array([0x61, 0x62]));
    expect(fromBase64Lenient('YWJ=')).toEqual(new Uint8Array([0x61, 0x62]));
  });

  it('refuses other characters, misplaced or partial =, and impossible lengths', () => {
    for (const bad of [
      'Y',
      'YWJjZ',
      'YQ=',
      'YQ===',
      'Y===',
      '=YQ=',
      'Y=Q=',
      '=',
      '==',
      '====',
      '_-Ah',
      'YQ ==',
      ' YQ==',
      'YQ==\n',
      '\u00e9Q==',
    ]) {
      expect(fromBase64Lenient(bad), JSON.stringify(bad)).toBeUndefined();
    }
    expect(fromBase64Lenient(undefined as unknown as string)).toBeUndefined();
  });

  it('property: agrees with fromBase64 on padded input, and ignores the padding', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const padded = toBase64(bytes);
        expect(fromBase64(padded)).toEqual(bytes);
        expect(fromBase64Lenient(padded)).toEqual(bytes);
        expect(fromBase64Lenient(padded.replace(/=+$/, ''))).toEqual(bytes);
      }),
      { numRuns: 1000, seed: 4648 },
    );
  });
});

describe('fromBase64Url stays strict', () => {
  it('refuses padding and non-zero pad bits', () => {
    expect(fromBase64Url('YQ')).toEqual(a);
    expect(fromBase64Url(toBase64Url(new Uint8Array([0xff, 0xe0, 0x21])))).toEqual(
      new Uint8Array([0xff, 0xe0, 0x21]),
    );
    for (const bad of ['YQ==', 'YR', 'Y', '/+Ah']) expect(fromBase64Url(bad), bad).toBeUndefined();
  });
});
