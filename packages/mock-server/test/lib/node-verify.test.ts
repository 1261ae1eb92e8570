import { createContentDigest } from '@campus-card/core/http';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeDigest } from '../../src/lib/node-verify.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('nodeDigest', () => {
  it("gives RFC 9530's own Content-Digest examples", () => {
    // RFC 9530 §2 and appendix B: the body `{"hello": "world"}`
    const body = utf8('{"hello": "world"}');
    expect(createContentDigest(body, 'sha-256', nodeDigest)).toBe(
      'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:',
    );
    expect(createContentDigest(body, 'sha-512', nodeDigest)).toBe(
      'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
    );
  });

  it('returns the raw digest: 32 bytes for sha-256, 64 for sha-512, of an empty body too', () => {
    expect(nodeDigest('sha-256', new Uint8Array(0))).toHaveLength(32);
    expect(nodeDigest('sha-512', new Uint8Array(0))).toHaveLength(64);
    expect(nodeDigest('sha-256', new Uint8Array(0))).toBeInstanceOf(Uint8Array);
  });

  it("agrees with core's pure-JS digest on any body, whole or a view into a larger buffer", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4096 }),
        fc.nat({ max: 16 }),
        fc.constantFrom('sha-256' as const, 'sha-512' as const),
        (bytes, pad, alg) => {
          // a view with an offset: only its own bytes count
          const big = new Uint8Array(pad + bytes.length + pad).fill(0xa5);
          big.set(bytes, pad);
          const view = big.subarray(pad, pad + bytes.length);
          const expected = createContentDigest(bytes, alg);
          expect(createContentDigest(bytes, alg, nodeDigest)).toBe(expected);
          expect(createContentDigest(view, alg, nodeDigest)).toBe(expected);
        },
      ),
      { numRuns: 200, seed: 17 },
    );
  });
});
