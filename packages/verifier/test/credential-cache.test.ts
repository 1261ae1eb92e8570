import type { VerifiedCredential } from '@campus-card/core';
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
});
