import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseDictionary,
  type SfBareItem,
  type SfInnerList,
  type SfItem,
  serializeBareItem,
  serializeInnerList,
  serializeParams,
  serializeString,
} from '../../src/http/structured-fields.js';

const member = (header: string, key: string): SfItem | SfInnerList | undefined =>
  parseDictionary(header)?.get(key);
/** The bare item of dictionary member `x` (not an inner list). */
const itemX = (header: string): SfBareItem | undefined => (member(header, 'x') as SfItem | undefined)?.value;

describe('parseDictionary: bare items', () => {
  it('reads integers and decimals at their length limits', () => {
    expect(member('a=999999999999999', 'a')).toEqual({ value: 999_999_999_999_999, params: [] });
    expect(member('a=-999999999999999', 'a')).toEqual({ value: -999_999_999_999_999, params: [] });
    expect(member('a=123456789012.123', 'a')).toEqual({ value: { decimal: 123456789012.123 }, params: [] });
    expect(member('a=-0.5', 'a')).toEqual({ value: { decimal: -0.5 }, params: [] });
    expect(member('a=007', 'a')).toEqual({ value: 7, params: [] });
    for (const bad of [
      'a=1234567890123456',
      'a=1234567890123.1',
      'a=1.2345',
      'a=1.',
      'a=-',
      'a=-x',
      'a=1.2.3',
    ]) {
      expect(parseDictionary(bad), bad).toBeUndefined();
    }
  });

  it('reads strings with their two escapes and refuses anything else', () => {
    expect(member('a="x\\"y\\\\z"', 'a')).toEqual({ value: 'x"y\\z', params: [] });
    expect(member('a=""', 'a')).toEqual({ value: '', params: [] });
    expect(member('a="  spaced  "', 'a')).toEqual({ value: '  spaced  ', params: [] });
    for (const bad of ['a="x', 'a="x\\', 'a="\\n"', 'a="\t"', 'a="\u00e9"', 'a="\u007f"']) {
      expect(parseDictionary(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it('reads tokens, byte sequences and booleans', () => {
    expect(member("a=*tok/x:y!#$%&'+-.^_`|~9", 'a')).toEqual({
      value: { token: "*tok/x:y!#$%&'+-.^_`|~9" },
      params: [],
    });
    expect(member('a=:AAEC:', 'a')).toEqual({ value: new Uint8Array([0, 1, 2]), params: [] });
    expect(member('a=::', 'a')).toEqual({ value: new Uint8Array(0), params: [] });
    expect(member('a=?0;b=?1', 'a')).toEqual({ value: false, params: [['b', true]] });
    for (const bad of ['a=:AA-C:', 'a=:AAEC', 'a=:\u00e9A==:', 'a=?', 'a=?x', 'a=\u00e9', 'a=(1 \u00e9)']) {
      expect(parseDictionary(bad), bad).toBeUndefined();
    }
  });
});

describe('parseDictionary: byte sequences (RFC 8941 §4.2.7)', () => {
  const bytes = itemX;
  const hello = new TextEncoder().encode('hello');

  it('reads missing = padding (httpwg structured-field-tests binary.json, RFC 8941 §3.3.5)', () => {
    expect(bytes('x=:aGVsbG8=:')).toEqual(hello); // "basic binary"
    expect(bytes('x=:aGVsbG8:')).toEqual(hello); // "bad padding": SHOULD NOT fail
    expect(bytes('x=:YQ:')).toEqual(new Uint8Array([0x61]));
    expect(bytes('x=:YQ==:')).toEqual(new Uint8Array([0x61]));
    expect(bytes('x=:YWI:')).toEqual(new Uint8Array([0x61, 0x62]));
    const example = new TextEncoder().encode('pretend this is binary content.'); // RFC 8941 §3.3.5
    expect(bytes('x=:cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:')).toEqual(example);
    expect(bytes('x=:cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg:')).toEqual(example);
    // in inner lists and parameters too
    expect(parseDictionary('x=(:YQ: :YWI:);p=:YQ:')?.get('x')).toEqual({
      items: [
        { value: new Uint8Array([0x61]), params: [] },
        { value: new Uint8Array([0x61, 0x62]), params: [] },
      ],
      params: [['p', new Uint8Array([0x61])]],
    });
  });

  it('ignores non-zero pad bits', () => {
    expect(bytes('x=:iZ==:')).toEqual(new Uint8Array([0x89])); // "non-zero pad bits", canonical :iQ==:
    expect(bytes('x=:iZ:')).toEqual(new Uint8Array([0x89]));
    expect(bytes('x=:YR==:')).toEqual(new Uint8Array([0x61]));
    expect(bytes('x=:YWJ=:')).toEqual(new Uint8Array([0x61, 0x62])); // J = 001001: 2 pad bits set
    expect(bytes('x=:/+Ah:')).toEqual(new Uint8Array([0xff, 0xe0, 0x21])); // "non-ASCII binary"
  });

  it('still refuses what is not base64', () => {
    for (const bad of [
      'x=:_-Ah:', // "base64url binary"
      'x=:aGVsbG!8=:', // "extra chars"
      'x=:aGVsbG8=!:', // "suffix chars"
      'x=:aGVsb G8=:', // "extra whitespace"
      'x=:    :', // "all whitespace"
      'x=:aGVsbG8.:', // "bad padding dot"
      'x=:=aGVsbG8=:', // "padding at beginning"
      'x=:a=GVsbG8=:', // "padding in middle"
      'x=:aGVsbG8=', // "bad end delimiter"
      'x=:Y:', // a length no base64 has (4n + 1)
      'x=:YWJjZ:',
      'x=:YWJjZ===:',
      'x=:YQ=:', // partial padding: complete or absent
      'x=:YQ===:', // extra padding
      'x=:YWI==:',
      'x=:YWJj=:',
      'x=:=:',
      'x=:==:',
      'x=:====:',
      'x=:Y===:',
      'x=:\u00e9Q:',
    ]) {
      expect(parseDictionary(bad), bad).toBeUndefined();
    }
  });
});

describe('parseDictionary: structure', () => {
  it('overwrites a repeated key in place: the last value, the first position (RFC 8941 §4.2.2, §4.2.3.2)', () => {
    // httpwg structured-field-tests dictionary.json "duplicate key dictionary"
    const d = parseDictionary('a=1,b=2,a=3');
    expect([...(d?.keys() ?? [])]).toEqual(['a', 'b']);
    expect(d?.get('a')).toEqual({ value: 3, params: [] });
    // param-dict.json "duplicate parameter key"
    expect(parseDictionary('a=1;x=1;y=2;x=3')?.get('a')?.params).toEqual([
      ['x', 3],
      ['y', 2],
    ]);
    const both = parseDictionary('a=1, b=2, a=3;x=1;y=2;x=3');
    expect([...(both?.keys() ?? [])]).toEqual(['a', 'b']);
    expect(both?.get('a')).toEqual({
      value: 3,
      params: [
        ['x', 3],
        ['y', 2],
      ],
    });
    // inner-list parameters and members given as bare keys follow the same rule
    const inner = parseDictionary('s=("x");p=1;q;p=2, t, s=("y")');
    expect([...(inner?.keys() ?? [])]).toEqual(['s', 't']);
    expect(inner?.get('s')).toEqual({ items: [{ value: 'y', params: [] }], params: [] });
    expect(parseDictionary('s=("x");p=1;q;p=2')?.get('s')).toEqual({
      items: [{ value: 'x', params: [] }],
      params: [
        ['p', 2],
        ['q', true],
      ],
    });
  });

  it('allows spaces and tabs around commas, spaces inside inner lists and before parameters', () => {
    const d = parseDictionary('  a=( 1  "x";p );q=?0 ,\tb;k;v=tok , c');
    expect(d?.get('a')).toEqual({
      items: [
        { value: 1, params: [] },
        { value: 'x', params: [['p', true]] },
      ],
      params: [['q', false]],
    });
    expect(d?.get('b')).toEqual({
      value: true,
      params: [
        ['k', true],
        ['v', { token: 'tok' }],
      ],
    });
    expect(d?.get('c')).toEqual({ value: true, params: [] });
    expect(parseDictionary('')?.size).toBe(0);
  });

  it('rejects malformed structure', () => {
    for (const bad of [
      'A=1',
      '1a=1',
      'a=1,',
      'a=1,,b=2',
      ',a=1',
      'a=1 b=2',
      'a=("x"',
      'a=("x"\t"y")',
      'a=(1)(2)',
      'a=1;',
      'a=1;B=2',
      'a=;',
      'a=',
    ]) {
      expect(parseDictionary(bad), bad).toBeUndefined();
    }
  });
});

// Values that serialise: integers within ±10^15, decimals with at most three fraction digits,
// printable ASCII strings, tokens, byte sequences, booleans.
const key = fc.stringMatching(/^[a-z*][a-z0-9_\-.*]{0,6}$/);
const bareItem: fc.Arbitrary<SfBareItem> = fc.oneof(
  fc.integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 }),
  // a whole number of thousandths, as the parser reads it back (Number of the decimal text)
  fc
    .integer({ min: -999_999_999_999_999, max: 999_999_999_999_999 })
    .filter((milli) => milli % 1000 !== 0)
    .map((milli) => ({ decimal: Number((milli / 1000).toFixed(3)) })),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 }),
  fc.stringMatching(/^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]{0,8}$/).map((token) => ({ token })),
  fc.uint8Array({ maxLength: 40 }),
  fc.boolean(),
);
const params = fc.uniqueArray(fc.tuple(key, bareItem), { selector: ([k]) => k, maxLength: 4 });
const item = fc.record({ value: bareItem, params });
const innerList = fc.record({ items: fc.array(item, { maxLength: 5 }), params });

describe('RFC 8941 round trip', () => {
  it('parses what it serialises, to the same values', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(key, fc.oneof(item, innerList)), { selector: ([k]) => k, maxLength: 4 }),
        fc.constantFrom(',', ', ', ' ,\t'),
        (members, separator) => {
          const text = members
            .map(([k, m]) =>
              'items' in m
                ? `${k}=${serializeInnerList(m)}`
                : `${k}=${serializeBareItem(m.value)}${serializeParams(m.params)}`,
            )
            .join(separator);
          const parsed = parseDictionary(text);
          expect(parsed, text).toBeDefined();
          expect([...(parsed ?? [])]).toEqual(members);
        },
      ),
      { numRuns: 2000, seed: 9421 },
    );
  });

  it('reads any padded byte sequence with its = stripped, or pad bits set, to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 15 }), (value, bits) => {
        const text = serializeBareItem(value); // :base64=:, padded
        const stripped = text.replace(/=+:$/, ':');
        expect(itemX(`x=${stripped}`), stripped).toEqual(value);
        // set pad bits in the last data character: 4 of them after one byte, 2 after two
        const pad = value.length % 3 === 1 ? 4 : value.length % 3 === 2 ? 2 : 0;
        fc.pre(pad > 0);
        const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
        const last = stripped.length - 2;
        const noisy = B64[B64.indexOf(stripped[last] as string) | (bits & ((1 << pad) - 1))] as string;
        for (const t of [
          `${stripped.slice(0, last)}${noisy}:`,
          `${text.slice(0, last)}${noisy}${text.slice(last + 1)}`,
        ]) {
          expect(itemX(`x=${t}`), t).toEqual(value);
        }
      }),
      { numRuns: 1000, seed: 8941 },
    );
  });

  it('serialises strings with escapes, and refuses what is not printable ASCII', () => {
    expect(serializeString('plain')).toBe('"plain"');
    expect(serializeString('a"b\\c')).toBe('"a\\"b\\\\c"');
    for (const bad of ['\u00e9', '\n', '\u007f']) expect(() => serializeString(bad)).toThrow(TypeError);
    expect(() => serializeString(42 as unknown as string)).toThrow(TypeError);
    expect(() => serializeParams([['Bad', 1]])).toThrow(TypeError);
  });
});
