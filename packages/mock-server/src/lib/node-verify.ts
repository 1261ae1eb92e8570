/**
 * node:crypto (OpenSSL) verification of RFC 9421 request signatures, with the `KeyObject` of
 * each key built once. It plugs into core/http's `verifyRequest` through its `verifier` hook;
 * the pure-JS default is some forty times slower on this path.
 *
 * @module
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { exportPublicJwk, type VerifyKey } from '@campus-card/core/http';

/** A request-signature verifier for `verifyRequest({ verifier })`. */
export type RequestSignatureVerifier = (key: VerifyKey, base: Uint8Array, signature: Uint8Array) => boolean;

/**
 * Creates a verifier on node:crypto. ECDSA P-256 takes raw r ‖ s (`ieee-p1363`) and accepts
 * high-S signatures, as core's `verifyBytes` does; Ed25519 is OpenSSL's RFC 8032 check. Key
 * objects are cached per {@link VerifyKey} object (keep reusing the same key objects). Never
 * throws: a malformed key or signature gives `false`.
 */
export function createNodeRequestVerifier(): RequestSignatureVerifier {
  const keys = new WeakMap<VerifyKey, KeyObject | null>();
  function keyObject(key: VerifyKey): KeyObject | null {
    let k = keys.get(key);
    if (k === undefined) {
      try {
        const { kid: _kid, ...jwk } = exportPublicJwk(key);
        k = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
      } catch {
        k = null;
      }
      keys.set(key, k);
    }
    return k;
  }
  return (key, base, signature) => {
    if (signature.length !== 64) return false;
    const k = keyObject(key);
    if (k === null) return false;
    try {
      return key.alg === 'ed25519'
        ? verify(null, base, k, signature)
        : verify('sha256', base, { key: k, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      return false;
    }
  };
}
