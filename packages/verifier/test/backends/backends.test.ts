import { generateKeyPair, importRawPublicKey, type SignatureBackend, signBytes } from '@campus-card/core';
import { p256 } from '@noble/curves/nist.js';
import { describe, expect, it } from 'vitest';
import { createWebCryptoBackend, nobleBackend } from '../../src/index.js';
import { nodeBackend } from '../../src/node.js';

const backends: Array<[string, SignatureBackend]> = [
  ['webcrypto', createWebCryptoBackend()],
  ['noble', nobleBackend],
  ['node', nodeBackend],
];
const data = new TextEncoder().encode('campus card');
const N = p256.Point.CURVE().n;

function highS(sig: Uint8Array): Uint8Array {
  const s = BigInt(`0x${Buffer.from(sig.subarray(32)).toString('hex')}`);
  const out = sig.slice();
  out.set(Buffer.from((N - s).toString(16).padStart(64, '0'), 'hex'), 32);
  return out;
}

describe.each(backends)('%s backend', (_name, backend) => {
  it('verifies ES256 (low and high S) and EdDSA; false for tampering, never throws', async () => {
    const es = generateKeyPair('ES256');
    const ed = generateKeyPair('EdDSA');
    const sig = signBytes(es.privateKey, data);
    expect(await backend.verify(es.publicKey, data, sig)).toBe(true);
    expect(await backend.verify(es.publicKey, data, highS(sig))).toBe(true);
    expect(await backend.verify(ed.publicKey, data, signBytes(ed.privateKey, data))).toBe(true);
    const bad = sig.slice();
    bad[5] = (bad[5] as number) ^ 1;
    expect(await backend.verify(es.publicKey, data, bad)).toBe(false);
    expect(await backend.verify(es.publicKey, data, sig.subarray(0, 63))).toBe(false);
    expect(await backend.verify(es.publicKey, data, new Uint8Array(64))).toBe(false);
    expect(await backend.verify(ed.publicKey, data, sig)).toBe(false);
    const bogusKey = { ...importRawPublicKey('ES256', es.publicKey.raw), raw: new Uint8Array(65) };
    expect(await backend.verify(bogusKey, data, sig)).toBe(false);
  });
});

describe('createWebCryptoBackend', () => {
  it('throws without WebCrypto', () => {
    expect(() => createWebCryptoBackend({} as SubtleCrypto)).toThrow(TypeError);
  });

  it('a WebCrypto without Ed25519 (older browsers, WebViews) falls back to noble for EdDSA keys', async () => {
    const real = globalThis.crypto.subtle;
    const noEd25519 = {
      importKey: (...args: Parameters<SubtleCrypto['importKey']>) =>
        (args[2] as { name?: string }).name === 'Ed25519'
          ? Promise.reject(new DOMException('Unrecognized algorithm name', 'NotSupportedError'))
          : real.importKey(...args),
      verify: (...args: Parameters<SubtleCrypto['verify']>) => real.verify(...args),
    } as unknown as SubtleCrypto;
    const backend = createWebCryptoBackend(noEd25519);
    const ed = generateKeyPair('EdDSA');
    const es = generateKeyPair('ES256');
    const edSig = signBytes(ed.privateKey, data);
    // an EdDSA card was denied BAD_SIGNATURE on such a runtime
    expect(await backend.verify(ed.publicKey, data, edSig)).toBe(true);
    const bad = edSig.slice();
    bad[3] = (bad[3] as number) ^ 1;
    expect(await backend.verify(ed.publicKey, data, bad)).toBe(false);
    expect(await backend.verify(es.publicKey, data, signBytes(es.privateKey, data))).toBe(true);
    const bogusKey = { ...importRawPublicKey('ES256', es.publicKey.raw), raw: new Uint8Array(65) };
    expect(await backend.verify(bogusKey, data, signBytes(es.privateKey, data))).toBe(false);
  });
});
