import { describe, expect, it } from 'vitest';
import { createRandomTokens } from '../../src/lib/random-token.js';

describe('createRandomTokens', () => {
  it('gives tokens of the asked length over [A-Za-z0-9], across pool refills, without repeats', () => {
    const ids = createRandomTokens();
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const t = ids.next(12);
      expect(t).toMatch(/^[A-Za-z0-9]{12}$/);
      seen.add(t);
    }
    expect(seen.size).toBe(5000); // 60 000 characters: many refills of the 4 KiB pool
  });

  it('uses every character about equally often', () => {
    const ids = createRandomTokens();
    const counts = new Map<string, number>();
    const text = ids.next(62_000);
    for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(62);
    // 1 000 expected each; a biased modulo (256 % 62) would push the first 8 characters to ~1 200
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThan(160);
  });
});
