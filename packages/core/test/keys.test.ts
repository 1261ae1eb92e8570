import { createPublicKey } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CampusCardError,
  computeKeyId,
  exportCoseKey,
  exportJwk,
  fromHex,
  generateKeyPair,
  importCoseKey,
  importJwk,
  importPrivateJwk,
  importRawPublicKey,
  signBytes,
  toHex,
  verifyBytes,
} from '../src/index.js';

const hex = (s: string) => fromHex(s) as Uint8Array;

describe('key ids (RFC 9679)', () => {
  it('matches the RFC 9679 §6 example thumbprint (first 8 bytes)', () => {
    const raw = hex(
      '04' +
        '65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d' +
        '1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c',
    );
    expect(toHex(computeKeyId('ES256', raw))).toBe('496bd8afadf307e5');
  });

  it('is the same for the compressed and uncompressed forms of a key', () => {
    const { publicKey } = generateKeyPair('ES256');
    const compressed = importCoseKey(exportCoseKey(publicKey, { compressed: true, alg: false }));
    expect(compressed.kid).toEqual(publicKey.kid);
    expect(compressed.raw).toEqual(publicKey.raw);
  });
});

describe('JWK and COSE_Key import/export', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: round-trips public and private keys, and node:crypto accepts the JWK`, () => {
      const { privateKey, publicKey } = generateKeyPair(alg);
      const jwk = exportJwk(publicKey);
      expect(jwk.alg).toBe(alg);
      expect(importJwk(jwk)).toEqual(publicKey);
      const priv = importPrivateJwk(exportJwk(privateKey, { includePrivate: true }));
      expect(priv.d).toEqual(privateKey.d);
      expect(exportJwk(privateKey)).not.toHaveProperty('d');
      expect(JSON.stringify(privateKey)).not.toContain(toHex(privateKey.d));
      expect(importCoseKey(exportCoseKey(publicKey))).toEqual(publicKey);
      const { kid: _k, alg: _a, ...rest } = jwk;
      const node = createPublicKey({ key: rest as import('node:crypto').JsonWebKey, format: 'jwk' });
      expect(node.asymmetricKeyType).toBe(alg === 'ES256' ? 'ec' : 'ed25519');
    });
  }

  it('rejects bad keys with ERR_KEY_INVALID or ERR_ALG_NOT_ALLOWED', () => {
    const { publicKey } = generateKeyPair('ES256');
    const jwk = exportJwk(publicKey);
    const bad: unknown[] = [
      null,
      {},
      { ...jwk, x: 'AAAA' },
      { ...jwk, crv: 'P-384' },
      { ...jwk, alg: 'EdDSA' },
      { ...jwk, y: jwk.x },
      { ...jwk, d: 'AAAA' },
      { kty: 'RSA', n: 'x', e: 'AQAB' },
    ];
    for (const b of bad) expect(() => importJwk(b), JSON.stringify(b)).toThrow(CampusCardError);
    expect(() => importRawPublicKey('ES256', new Uint8Array(65))).toThrow(CampusCardError);
    const cose = exportCoseKey(publicKey);
    cose.set(3, -8);
    expect(() => importCoseKey(cose)).toThrow(/alg/);
  });

  it('refuses a private JWK whose d does not match its public key', () => {
    const a = generateKeyPair('ES256');
    const b = generateKeyPair('ES256');
    const mixed = { ...exportJwk(a.publicKey), d: exportJwk(b.privateKey, { includePrivate: true }).d };
    expect(() => importJwk(mixed)).toThrow(CampusCardError);
  });
});

describe('signatures', () => {
  it('sign → verify true, any changed byte → false (both algorithms)', () => {
    for (const alg of ['ES256', 'EdDSA'] as const) {
      const { privateKey, publicKey } = generateKeyPair(alg);
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.nat(), (msg, at) => {
          const sig = signBytes(privateKey, msg);
          expect(verifyBytes(publicKey, msg, sig)).toBe(true);
          const m2 = Uint8Array.from(msg);
          m2[at % m2.length] = (m2[at % m2.length] as number) ^ 1;
          expect(verifyBytes(publicKey, m2, sig)).toBe(false);
          expect(verifyBytes(publicKey, msg, sig.subarray(0, 63))).toBe(false);
        }),
        { numRuns: 30, seed: 21 },
      );
    }
  });

  it('deterministic seeds give deterministic keys', () => {
    const seed = new Uint8Array(48).fill(7);
    expect(generateKeyPair('ES256', { seed }).publicKey.raw).toEqual(
      generateKeyPair('ES256', { seed }).publicKey.raw,
    );
  });
});
