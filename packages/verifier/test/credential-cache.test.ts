import type { VerifiedCredential } from '@campus-card/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCredentialCache } from '../src/credential-cache.js';

const v = (n: number) => ({ n }) as unknown as VerifiedCredential;

describe('createCredentialCache', () => {
  it('is bounded and evicts the least recently used', () => {
    const c = createCredentialCache(2);
    c.set('a', v(1));
    c.set('b', v(2));
    expect(c.get('a')).toEqual(v(1)); // a is now most recent
    c.set('c', v(3));
    expect(c.size).toBe(2);
    expect(c.get('b')).toBeUndefined();
    expect(c.get('a')).toEqual(v(1));
    expect(c.get('c')).toEqual(v(3));
    c.clear();
    expect(c.size).toBe(0);
  });
  it('capacity 0 caches nothing; bad capacities throw', () => {
    const c = createCredentialCache(0);
    c.set('a', v(1));
    expect(c.get('a')).toBeUndefined();
    expect(() => createCredentialCache(-1)).toThrow(RangeError);
    expect(() => createCredentialCache(1.5)).toThrow(RangeError);
  });
  it('behaves as a reference LRU under any sequence of gets, sets and clears', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('get' as const), key: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 6 }), n: fc.nat(99) }),
      fc.record({ kind: fc.constant('clear' as const) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(op, { maxLength: 60 }), (capacity, ops) => {
        const c = createCredentialCache(capacity);
        let model: Array<[string, VerifiedCredential]> = []; // most recent first
        for (const o of ops) {
          if (o.kind === 'clear') {
            c.clear();
            model = [];
          } else if (o.kind === 'get') {
            const key = String(o.key);
            const at = model.findIndex(([k]) => k === key);
            const want = at < 0 ? undefined : model[at];
            if (want !== undefined) model = [want, ...model.filter((_, i) => i !== at)];
            expect(c.get(key)).toBe(want?.[1]);
          } else if (capacity > 0) {
            const key = String(o.key);
            const value = v(o.n);
            c.set(key, value);
            model = [[key, value] as [string, VerifiedCredential], ...model.filter(([k]) => k !== key)].slice(
              0,
              capacity,
            );
          }
          expect(c.size).toBe(model.length);
        }
        for (const [k, value] of model) expect(c.get(k)).toBe(value);
      }),
      { seed: 77, numRuns: 500 },
    );
  });
});
