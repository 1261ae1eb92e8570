import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CampusCardError, decodeBase45, encodeBase45 } from '../src/index.js';

const text = (s: string) => new TextEncoder().encode(s);

describe('Base45 (RFC 9285)', () => {
  it('matches the RFC 9285 §4.3 examples', () => {
    expect(encodeBase45(text('AB'))).toBe('BB8');
    expect(encodeBase45(text('Hello!!'))).toBe('%69 VD92EX0');
    expect(encodeBase45(text('base-45'))).toBe('UJCLQE7W581');
    expect(new TextDecoder().decode(decodeBase45('QED8WEX0'))).toBe('ietf!');
  });

  it('rejects the RFC invalid input and other bad text with ERR_QR_BASE45', () => {
    for (const bad of ['GGW', 'a', 'AB', 'ABCD', 'BB8é', '::', 'ZZZ']) {
      let code: string | undefined;
      try {
        decodeBase45(bad);
      } catch (e) {
        code = (e as CampusCardError).code;
      }
      expect(code, bad).toBe('ERR_QR_BASE45');
    }
  });

  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(decodeBase45(encodeBase45(bytes))).toEqual(bytes);
      }),
      { numRuns: 500, seed: 45 },
    );
  });

  it('never throws anything but a typed error on random strings', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        try {
          decodeBase45(s);
        } catch (e) {
          expect(e).toBeInstanceOf(CampusCardError);
        }
      }),
      { numRuns: 1000, seed: 451 },
    );
  });
});
