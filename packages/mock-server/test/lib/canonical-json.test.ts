import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/lib/canonical-json.js';

/** Rebuilds `v` with every object's keys in a shuffled order (from `seed`). */
function shuffled(v: unknown, seed: number): unknown {
  if (Array.isArray(v)) return v.map((x, i) => shuffled(x, seed + i));
  if (typeof v !== 'object' || v === null) return v;
  const entries = Object.entries(v);
  const order = entries.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13));
  return Object.fromEntries(order.map((i) => [entries[i]?.[0], shuffled(entries[i]?.[1], seed + 1)]));
}

describe('canonicalJson', () => {
  it('sorts keys at every depth and drops spacing', () => {
    expect(canonicalJson(JSON.parse('{ "b": [ {"y":1, "x":2} ], "a": "é\\u0000" }'))).toBe(
      '{"a":"é\\u0000","b":[{"x":2,"y":1}]}',
    );
    expect(canonicalJson(JSON.parse('1.0'))).toBe('1');
    expect(canonicalJson(JSON.parse('1e2'))).toBe('100');
    expect(canonicalJson(null)).toBe('null');
  });

  it('two texts of one JSON value give one string; a different value another (fast-check)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(), (v, seed) => {
        const a = JSON.parse(JSON.stringify(v));
        const b = JSON.parse(JSON.stringify(shuffled(a, seed), null, 2));
        expect(canonicalJson(b)).toBe(canonicalJson(a));
        // and it is JSON of the same value
        expect(JSON.parse(canonicalJson(a))).toEqual(a);
      }),
      { seed: 20_261_130, numRuns: 300 },
    );
    expect(canonicalJson({ a: 1 })).not.toBe(canonicalJson({ a: '1' }));
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });
});
