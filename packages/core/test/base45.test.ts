import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase45At } from '../src/base45.js';
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

  it('encodes inputs longer than any QR code, around the encoder buffer, and short ones after them', () => {
    const bytes = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + 7) & 0xff);
    for (const n of [1023, 1024, 1025, 5000, 3, 1024, 0, 1]) {
      const t = encodeBase45(bytes(n));
      expect(t.length, String(n)).toBe(Math.floor(n / 2) * 3 + (n % 2) * 2);
      expect(decodeBase45(t), String(n)).toEqual(bytes(n));
    }
    expect(encodeBase45(text('AB'))).toBe('BB8');
  });

  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(decodeBase45(encodeBase45(bytes))).toEqual(bytes);
      }),
      { numRuns: 500, seed: 45 },
    );
  });

  it('agrees with RFC 9285 read character by character: bytes, errors, positions, any length', () => {
    const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
    /** RFC 9285 by the letter, one character at a time. */
    const reference = (t: string): Uint8Array | string => {
      if (t.length % 3 === 1) return 'dangling';
      const out: number[] = [];
      for (let i = 0; i < t.length; i += 3) {
        const v = [...t.slice(i, i + 3)].map((ch) => ALPHABET.indexOf(ch));
        if (v.some((x) => x < 0)) return 'invalid';
        const x = v.reduce((acc, d, k) => acc + d * 45 ** k, 0);
        if (x > (v.length === 3 ? 0xffff : 0xff)) return 'range';
        if (v.length === 3) out.push(x >> 8, x & 0xff);
        else out.push(x);
      }
      return Uint8Array.from(out);
    };
    const outcome = (f: () => Uint8Array): Uint8Array | string => {
      try {
        return f();
      } catch (e) {
        const m = (e as CampusCardError).message;
        return m.includes('dangling') ? 'dangling' : m.includes('exceeds') ? 'range' : 'invalid';
      }
    };
    // valid texts, near-valid ones (Base45 of random bytes with a character changed, added or
    // removed, ASCII or not), and long ones (over 4096 characters)
    const near = fc
      .tuple(
        fc.uint8Array({ maxLength: 200, size: 'max' }),
        fc.nat(),
        fc.constantFrom('', 'a', 'é', '€', '😀', ':', 'Z', '\u0000', '~'),
        fc.integer({ min: -1, max: 1 }),
      )
      .map(([bytes, at, ch, mode]) => {
        const t = encodeBase45(bytes);
        const i = t.length === 0 ? 0 : at % t.length;
        return mode < 0
          ? t.slice(0, i) + t.slice(i + 1)
          : mode === 0
            ? t.slice(0, i) + ch + t.slice(i + 1)
            : t + ch;
      });
    const long = fc.uint8Array({ minLength: 2731, maxLength: 2800 }).map((b) => encodeBase45(b));
    const valid = fc.uint8Array({ maxLength: 1000, size: 'max' }).map((b) => encodeBase45(b));
    fc.assert(
      fc.property(
        fc.oneof(valid, near, long),
        fc.constantFrom('', 'CC1:'),
        fc.constantFrom(0, 16),
        (t, prefix, room) => {
          const want = reference(t);
          const got = outcome(() => decodeBase45At(prefix + t, prefix.length, room));
          expect(typeof got === 'string' ? got : got.subarray(room)).toEqual(want);
        },
      ),
      { numRuns: 1500, seed: 4545 },
    );
    // the position of a bad character, short and long
    for (const t of ['ABCD?FGH', `${'A'.repeat(4200)}?BB`]) {
      expect(() => decodeBase45(t)).toThrow(`invalid Base45 character at ${t.indexOf('?')}`);
    }
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
