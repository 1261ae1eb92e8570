/**
 * `@campus-card/verifier/node`: the node:crypto signature backend, the fastest on Node.
 * It lives on its own subpath so that the main entry stays free of Node imports.
 *
 * @module
 */
import { createPublicKey, type KeyObject, verify as nodeVerify } from 'node:crypto';
import { exportJwk, type PublicKey, type SignatureBackend } from '@campus-card/core';

/**
 * Creates a {@link SignatureBackend} on `node:crypto` (OpenSSL). Each {@link PublicKey} object is
 * turned into a `KeyObject` once (`createPublicKey` from its JWK) and cached in a `WeakMap`, so
 * keep reusing the same key objects (the verifier does: trust-list entries and cached credentials).
 *
 * ES256 uses `dsaEncoding: 'ieee-p1363'` (raw r ‖ s) and accepts high-S signatures (spec §2.3).
 * Verification is synchronous. A malformed key or signature gives `false`; it never throws.
 *
 * @example
 * ```ts
 * import { createVerifier } from '@campus-card/verifier';
 * import { nodeBackend } from '@campus-card/verifier/node';
 * const verifier = createVerifier({ rootKeys, backend: nodeBackend });
 * ```
 */
export function createNodeBackend(): SignatureBackend {
  const keys = new WeakMap<PublicKey, KeyObject | null>();
  function keyObject(key: PublicKey): KeyObject | null {
    let k = keys.get(key);
    if (k === undefined) {
      try {
        const { kty, crv, x, y } = exportJwk(key);
        k = createPublicKey({ key: y === undefined ? { kty, crv, x } : { kty, crv, x, y }, format: 'jwk' });
      } catch {
        k = null;
      }
      keys.set(key, k);
    }
    return k;
  }
  return {
    verify(key, data, signature) {
      if (signature.length !== 64) return false;
      const k = keyObject(key);
      if (k === null) return false;
      try {
        return key.alg === 'ES256'
          ? nodeVerify('sha256', data, { key: k, dsaEncoding: 'ieee-p1363' }, signature)
          : nodeVerify(null, data, k, signature);
      } catch {
        return false;
      }
    },
  };
}

/** A shared {@link createNodeBackend} instance. */
export const nodeBackend: SignatureBackend = createNodeBackend();
