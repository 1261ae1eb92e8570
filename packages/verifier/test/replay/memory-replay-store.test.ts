import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryReplayStore } from '../../src/replay/memory-replay-store.js';

const NOW = 1_767_225_600;

function digestOf(n: number, salt = 0): Uint8Array {
  const d = new Uint8Array(16);
  const v = new DataView(d.buffer);
  v.setUint32(0, n, true);
  v.setUint32(4, salt, true);
  v.setUint32(8, Math.imul(n, 0x9e3779b1), true);
  v.setUint32(12, n ^ 0x5a5a5a5a, true);
  return d;
}

describe('createMemoryReplayStore', () => {
  it('accepts a digest once while it is live, and again after it expires', () => {
    const store = createMemoryReplayStore({ capacity: 10 });
    const d = digestOf(1);
    expect(store.checkAndInsert(d, NOW + 91, NOW)).toBe('fresh');
    expect(store.checkAndInsert(d, NOW + 91, NOW)).toBe('replayed');
    expect(store.checkAndInsert(new Uint8Array(d), NOW + 200, NOW + 90)).toBe('replayed');
    expect(store.checkAndInsert(d, NOW + 300, NOW + 91)).toBe('fresh');
    expect(store.size).toBe(1);
  });

  it('rounds a fractional expiresAt up, never down', () => {
    const store = createMemoryReplayStore({ capacity: 2 });
    const d = digestOf(7);
    expect(store.checkAndInsert(d, NOW + 0.5, NOW)).toBe('fresh');
    expect(store.checkAndInsert(d, NOW + 5, NOW + 0.9)).toBe('replayed');
  });

  it("answers 'full' when full of live entries, without forgetting any, and recovers after expiry", () => {
    const store = createMemoryReplayStore({ capacity: 3 });
    for (let n = 0; n < 3; n++) expect(store.checkAndInsert(digestOf(n), NOW + 10 + n, NOW)).toBe('fresh');
    expect(store.checkAndInsert(digestOf(99), NOW + 10, NOW)).toBe('full');
    expect(store.checkAndInsert(digestOf(99), NOW + 20, NOW + 9)).toBe('full');
    for (let n = 0; n < 3; n++) expect(store.checkAndInsert(digestOf(n), NOW + 50, NOW + 9)).toBe('replayed');
    // digest 0 expires at NOW + 10: one slot frees up, only one.
    expect(store.checkAndInsert(digestOf(99), NOW + 30, NOW + 10)).toBe('fresh');
    expect(store.checkAndInsert(digestOf(98), NOW + 30, NOW + 10)).toBe('full');
    expect(store.checkAndInsert(digestOf(1), NOW + 30, NOW + 10)).toBe('replayed');
    expect(store.checkAndInsert(digestOf(98), NOW + 30, NOW + 12)).toBe('fresh');
  });

  it('reports its size and memory', () => {
    const store = createMemoryReplayStore({ capacity: 1_000_000 });
    expect(store.capacity).toBe(1_000_000);
    // ceil(1 000 000 / 0.9) slots of 20 bytes, plus a one-byte tag each
    expect(store.byteLength).toBe(1_111_112 * 21);
    expect(store.byteLength / store.capacity).toBeLessThanOrEqual(24);
    expect(store.size).toBe(0);
  });

  it('takes over its own expired entry when a digest comes back, without growing', () => {
    const store = createMemoryReplayStore({ capacity: 1 });
    const d = digestOf(3);
    expect(store.checkAndInsert(d, NOW + 5, NOW)).toBe('fresh');
    expect(store.checkAndInsert(d, NOW + 10, NOW + 5)).toBe('fresh');
    expect(store.size).toBe(1);
    // the entry is live again, until NOW + 10: the one slot is taken
    expect(store.checkAndInsert(digestOf(4), NOW + 20, NOW + 9)).toBe('full');
    expect(store.checkAndInsert(d, NOW + 20, NOW + 9)).toBe('replayed');
    expect(store.checkAndInsert(digestOf(4), NOW + 20, NOW + 10)).toBe('fresh');
  });

  it('tells apart thousands of digests that share the 255 one-byte tags', () => {
    // 3 000 random digests: about 12 per tag, many in the same probe runs
    let seed = 0x9e3779b9;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    const digests = Array.from({ length: 6000 }, () => {
      const d = new Uint8Array(16);
      const v = new DataView(d.buffer);
      for (let o = 0; o < 16; o += 4) v.setUint32(o, random(), true);
      return d;
    });
    const live = digests.slice(0, 3000);
    const others = digests.slice(3000);
    const store = createMemoryReplayStore({ capacity: 3000 });
    for (const d of live) expect(store.checkAndInsert(d, NOW + 91, NOW)).toBe('fresh');
    for (const d of live) expect(store.checkAndInsert(d, NOW + 91, NOW + 1)).toBe('replayed');
    // full of live entries: every other digest is refused as full, none is taken for a replay
    for (const d of others) expect(store.checkAndInsert(d, NOW + 91, NOW + 2)).toBe('full');
    // a digest differing from a live one in a single bit is another digest
    const near = new Uint8Array(live[0] as Uint8Array);
    near[15] = (near[15] as number) ^ 1;
    expect(store.checkAndInsert(near, NOW + 91, NOW + 2)).toBe('full');
    // once they expire, the others all go in
    for (const d of others) expect(store.checkAndInsert(d, NOW + 200, NOW + 91)).toBe('fresh');
    expect(store.size).toBe(3000);
    for (const d of others) expect(store.checkAndInsert(d, NOW + 200, NOW + 92)).toBe('replayed');
  });

  it('calls onInsert synchronously for fresh digests only, and keeps the entry if the hook throws', () => {
    const seen: Array<[string, number]> = [];
    const store = createMemoryReplayStore({
      capacity: 4,
      onInsert: (d, e) => seen.push([Array.from(d).join(','), e]),
    });
    store.checkAndInsert(digestOf(1), NOW + 1.5, NOW);
    store.checkAndInsert(digestOf(1), NOW + 2, NOW);
    expect(seen).toEqual([[Array.from(digestOf(1)).join(','), NOW + 2]]);

    const failing = createMemoryReplayStore({
      capacity: 4,
      onInsert: () => {
        throw new Error('disk full');
      },
    });
    expect(() => failing.checkAndInsert(digestOf(2), NOW + 5, NOW)).toThrow('disk full');
    expect(failing.checkAndInsert(digestOf(2), NOW + 5, NOW)).toBe('replayed');
  });

  it('rejects bad arguments with TypeError / RangeError', () => {
    expect(() => createMemoryReplayStore({ capacity: 0 })).toThrow(RangeError);
    expect(() => createMemoryReplayStore({ capacity: 1.5 })).toThrow(TypeError);
    expect(() => createMemoryReplayStore({ capacity: 2 ** 30 })).toThrow(RangeError);
    const store = createMemoryReplayStore({ capacity: 4 });
    expect(() => store.checkAndInsert(new Uint8Array(15), NOW + 1, NOW)).toThrow(RangeError);
    expect(() => store.checkAndInsert([1, 2] as unknown as Uint8Array, NOW + 1, NOW)).toThrow(TypeError);
    expect(() => store.checkAndInsert(digestOf(1), NOW, NOW)).toThrow(RangeError);
    expect(() => store.checkAndInsert(digestOf(1), 2 ** 32, NOW)).toThrow(RangeError);
    expect(() => store.checkAndInsert(digestOf(1), NOW + 1, Number.NaN)).toThrow(RangeError);
    expect(() => store.checkAndInsert(digestOf(1), '5' as unknown as number, NOW)).toThrow(TypeError);
  });

  it('property: matches a Map model under random operations (never forgets a live entry)', () => {
    const op = fc.record({
      key: fc.integer({ min: 0, max: 40 }),
      ttl: fc.integer({ min: 1, max: 30 }),
      advance: fc.integer({ min: 0, max: 4 }),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), fc.array(op, { maxLength: 400 }), (capacity, ops) => {
        const store = createMemoryReplayStore({ capacity });
        const model = new Map<number, number>(); // key → expiresAt
        let now = NOW;
        for (const { key, ttl, advance } of ops) {
          now += advance;
          for (const [k, e] of model) if (e <= now) model.delete(k);
          const live = model.get(key);
          const expected = live !== undefined ? 'replayed' : model.size >= capacity ? 'full' : 'fresh';
          const got = store.checkAndInsert(digestOf(key, 1), now + ttl, now);
          expect(got).toBe(expected);
          if (got === 'fresh') model.set(key, now + ttl);
          expect(store.size).toBeLessThanOrEqual(capacity);
        }
        // every live entry is still there
        for (const [k, e] of model) {
          if (e > now) expect(store.checkAndInsert(digestOf(k, 1), now + 1000, now)).toBe('replayed');
        }
      }),
      { seed: 20260101, numRuns: 300 },
    );
  });

  it('property: colliding home slots and wrap-around keep every live entry (tiny table, many keys)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 3 })), {
          maxLength: 300,
        }),
        (ops) => {
          const store = createMemoryReplayStore({ capacity: 6 });
          const model = new Map<string, number>();
          let now = NOW;
          for (const [d, advance] of ops) {
            now += advance;
            for (const [k, e] of model) if (e <= now) model.delete(k);
            const k = d.join(',');
            const expected = model.has(k) ? 'replayed' : model.size >= 6 ? 'full' : 'fresh';
            expect(store.checkAndInsert(d, now + 5, now)).toBe(expected);
            if (expected === 'fresh') model.set(k, now + 5);
          }
        },
      ),
      { seed: 7, numRuns: 200 },
    );
  });

  it('stays correct at scale with moving expiries', () => {
    const store = createMemoryReplayStore({ capacity: 5000 });
    let now = NOW;
    for (let n = 0; n < 60_000; n++) {
      if (n % 50 === 0) now++;
      expect(store.checkAndInsert(digestOf(n), now + 91, now)).toBe('fresh');
    }
    // the last 91 s of digests (91 × 50 = 4550) are live
    for (let n = 60_000 - 4500; n < 60_000; n += 97) {
      expect(store.checkAndInsert(digestOf(n), now + 91, now)).toBe('replayed');
    }
    expect(store.size).toBeLessThanOrEqual(5000);
  });
});
