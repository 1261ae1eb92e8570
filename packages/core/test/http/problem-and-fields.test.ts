import { describe, expect, it } from 'vitest';
import { parseDictionary, serializeInnerList } from '../../src/http/structured-fields.js';
import { isProblem } from '../../src/http.js';

describe('isProblem', () => {
  const ok = {
    type: 'about:blank',
    title: 'T',
    status: 400,
    code: 'ERR_X',
    retryable: false,
    request_id: 'r',
  };
  it('accepts complete problems and rejects wrong shapes', () => {
    expect(isProblem(ok)).toBe(true);
    expect(isProblem({ ...ok, detail: 'd', instance: '/i', errors: [{ path: '/a', message: 'm' }] })).toBe(
      true,
    );
    for (const bad of [
      null,
      [],
      'x',
      { ...ok, code: undefined },
      { ...ok, retryable: 'no' },
      { ...ok, status: 99 },
      { ...ok, request_id: 1 },
      { ...ok, errors: [{ path: 1 }] },
      { ...ok, detail: 3 },
    ]) {
      expect(isProblem(bad)).toBe(false);
    }
  });
});

describe('RFC 8941 dictionaries', () => {
  it('parses and re-serialises inner lists with parameters', () => {
    const d = parseDictionary('sig1=("@method" "@path");created=1;keyid="a\\"b";x=?1, sig2=:AAEC:;p=tok/1');
    expect(d).toBeDefined();
    const sig1 = d?.get('sig1');
    expect(sig1 && 'items' in sig1 && serializeInnerList(sig1)).toBe(
      '("@method" "@path");created=1;keyid="a\\"b";x',
    );
    const sig2 = d?.get('sig2');
    expect(sig2 && 'value' in sig2 && sig2.value).toEqual(new Uint8Array([0, 1, 2]));
  });
  it('rejects malformed input', () => {
    for (const bad of [
      'A=1',
      'a=1,',
      'a=("x"',
      'a="\u00e9"',
      'a=:A:',
      'a=1234567890123456',
      'a=1.2345',
      'a=?2',
      ',a=1',
    ])
      expect(parseDictionary(bad), bad).toBeUndefined();
  });
});
