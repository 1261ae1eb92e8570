/**
 * Not CBOR at all (ERR_CBOR_MALFORMED) versus CBOR this format does not take
 * (ERR_CBOR_UNSUPPORTED_TYPE, ERR_CBOR_NOT_DETERMINISTIC): the second two are verdicts on
 * well-formed input only (spec §9), so every not-well-formed example of RFC 8949 Appendix F is
 * ERR_CBOR_MALFORMED, whatever the scan meets first (a tag, a float, an indefinite length).
 */
import { describe, expect, it } from 'vitest';
import { encodeQr, verifyPresentation } from '../../src/index.js';
import { decodeCbor } from '../../src/lib/cbor.js';
import { PRESENTATION_LIMITS } from '../../src/lib/limits.js';
import { codeOf } from '../helpers/code-of.js';

const hex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (x) => Number.parseInt(x, 16));
const decode = (h: string): string =>
  codeOf(() => decodeCbor(hex(h), { maxBytes: 1024, maxDepth: 16, maxItems: 1024 }, 'x'));

// RFC 8949 Appendix F.1, every example (grouped as there)
const NOT_WELL_FORMED = [
  // end of input in a head
  '18 19 1a 1b 1901 1a0102 1b01020304050607 38 58 78 98 9a01ff00 b8 d8 f8 f900 fa0000 fb000000',
  // definite-length strings with short data
  '41 61 5affffffff00 5bffffffffffffffff010203 7affffffff00 7b7fffffffffffffff010203',
  // definite-length maps and arrays not closed with enough items
  '81 818181818181818181 8200 a1 a20102 a100 a2000000',
  // tag number not followed by tag content
  'c0',
  // indefinite-length strings, maps and arrays not closed by a break
  '5f4100 7f6100 9f 9f0102 bf bf01020102 819f 9f8000 9f9f9f9f9fffffffff 9f819f819f9fffffff',
  // reserved additional information values
  '1c 1d 1e 3c 3d 3e 5c 5d 5e 7c 7d 7e 9c 9d 9e bc bd be dc dd de fc fd fe',
  // reserved two-byte encodings of simple values
  'f800 f801 f818 f81f',
  // indefinite-length string chunks not of the correct type, or not definite
  '5f00ff 5f21ff 5f6100ff 5f80ff 5fa0ff 5fc000ff 5fe0ff 7f4100ff 5f5f4100ffff 7f7f6100ffff',
  // a break on its own, in a definite-length array or map or a tag, or in a map's value position
  'ff 81ff 8200ff a1ff a1ff00 a100ff a20000ff 9f81ff 9f829f819f9fffffffff bf00ff bf000000ff',
  // major types 0, 1 and 6 with additional information 31
  '1f 3f df',
]
  .join(' ')
  .split(' ');

describe('RFC 8949 Appendix F: not well-formed is ERR_CBOR_MALFORMED', () => {
  it('every example of Appendix F.1', () => {
    const wrong = NOT_WELL_FORMED.map((h) => [h, decode(h)]).filter(
      ([, code]) => code !== 'ERR_CBOR_MALFORMED',
    );
    expect(wrong).toEqual([]);
  });

  it('a float, a tag or an indefinite-length item cut short is truncated CBOR, not an unsupported type', () => {
    for (const h of [
      'f9',
      'f93c',
      'fa47c350',
      'fb3ff1999999',
      'd8',
      'd912',
      'c0',
      'd2',
      '5f',
      '5f41',
      '9f',
      'bf',
    ]) {
      expect([h, decode(h)]).toEqual([h, 'ERR_CBOR_MALFORMED']);
    }
  });

  it('a map key that is a break, or a tag with no content inside an array, is malformed', () => {
    expect(decode('a1ff00')).toBe('ERR_CBOR_MALFORMED');
    expect(decode('82c0')).toBe('ERR_CBOR_MALFORMED');
    expect(decode('8201c0')).toBe('ERR_CBOR_MALFORMED');
  });

  it('input that is not CBOR is malformed, even where the scan first meets a non-deterministic head', () => {
    // 18 05: the integer 5 in a non-shortest head; alone it is well-formed, with more it is not one item
    expect(decode('1805')).toBe('ERR_CBOR_NOT_DETERMINISTIC');
    expect(decode('180500')).toBe('ERR_CBOR_MALFORMED');
    // a duplicated key, and then the input ends before its value
    expect(decode('a201000100')).toBe('ERR_CBOR_NOT_DETERMINISTIC');
    expect(decode('a2010001')).toBe('ERR_CBOR_MALFORMED');
    // a null followed by invalid UTF-8 (spec §2.1: malformed)
    expect(decode('82f661ff')).toBe('ERR_CBOR_MALFORMED');
  });

  it('well-formed items outside the format stay ERR_CBOR_UNSUPPORTED_TYPE (RFC 8949 Appendix A examples)', () => {
    const wellFormed = [
      'f6 f7 f820 f8ff f93c00 fa47c35000 fb3ff199999999999a c100 d818456449455446 c11a514b67b0',
      '5fff 5f42010243030405ff 7f657374726561646d696e67ff 9fff 9f018202039f0405ffff 9f01820203820405ff',
      'bf61610161629f0203ffff 826161bf61626163ff bf6346756ef563416d7421ff 1bffffffffffffffff a14000 c0c0c000',
    ]
      .join(' ')
      .split(' ');
    const wrong = wellFormed
      .map((h) => [h, decode(h)])
      .filter(([, code]) => code !== 'ERR_CBOR_UNSUPPORTED_TYPE');
    expect(wrong).toEqual([]);
  });

  it('the check keeps to the depth limit: a deep unterminated nest after a tag is refused at once, typed', () => {
    const bytes = new Uint8Array(PRESENTATION_LIMITS.maxBytes).fill(0x9f);
    bytes[0] = 0xc0;
    const start = performance.now();
    const code = codeOf(() => decodeCbor(bytes, PRESENTATION_LIMITS, 'x'));
    expect(performance.now() - start).toBeLessThan(1000);
    // nested past the limit before the walk could tell: the scan's first verdict stands
    expect(code).toBe('ERR_CBOR_UNSUPPORTED_TYPE');
    // within the limit, the same cut-short nest is malformed
    expect(decode('c09f9f9f')).toBe('ERR_CBOR_MALFORMED');
  });

  it('a scanned code whose bytes are a tag head and nothing else is ERR_CBOR_MALFORMED', async () => {
    const code = await verifyPresentation(encodeQr(hex('d2')), {
      trustList: { version: 1, iat: 0, authority: 'platform', keys: [] },
      now: 1_767_225_600,
    }).then(
      () => 'OK',
      (e: { code?: string }) => e.code,
    );
    expect(code).toBe('ERR_CBOR_MALFORMED');
  });
});
