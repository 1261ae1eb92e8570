/**
 * A small seeded PRNG (mulberry32) for reproducible fault injection and demo data.
 *
 * @module
 */

/** A seeded random source in [0, 1). */
export type Rng = () => number;

/** Creates a seeded PRNG. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
