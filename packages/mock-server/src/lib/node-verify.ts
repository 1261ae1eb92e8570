/**
 * node:crypto (OpenSSL) signature checks for the request path, run in libuv's thread pool.
 *
 * - RFC 9421 request signatures, through core/http's `verifyRequest({ verifier })` hook.
 * - Presentations (the issuer's and the holder's COSE signatures), as a core
 *   `SignatureBackend` for `verifyPresentation({ backend })`.
 *
 * core's pure-JS default takes about 4 ms for one P-256 verification here, and OpenSSL about
 * 0.1 ms. Even 0.1 ms, twice per payment, is a quarter of the event loop's budget at 2 000
 * payments/s. So the checks use the callback form of `crypto.verify`, which runs in the thread
 * pool and leaves the event loop free. Each key's `KeyObject` is built once and cached per key
 * object.
 *
 * @module
 */
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';
import { exportJwk, type PublicKey, type SignatureBackend } from '@campus-card/core';
import { exportPublicJwk, type VerifyKey } from '@campus-card/core/http';

/** A request-signature verifier for `verifyRequest({ verifier })`. */
export type RequestSignatureVerifier = (
  key: VerifyKey,
  base: Uint8Array,
  signature: Uint8Array,
) => Promise<boolean>;

function publicKeyObject(jwk: {
  kty: string;
  crv: string;
  x: string;
  y?: string | undefined;
}): KeyObject | null {
  try {
    const { kty, crv, x, y } = jwk;
    const key: JsonWebKey = y === undefined ? { kty, crv, x } : { kty, crv, x, y };
    return createPublicKey({ key, format: 'jwk' });
  } catch {
    return null;
  }
}

/** Verifies in the thread pool; `false` (never a rejection) for anything malformed. */
function verifyAsync(
  ecdsa: boolean,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (err: Error | null, ok: boolean) => resolve(err === null && ok);
    try {
      if (ecdsa) verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature, done);
      else verify(null, data, key, signature, done);
    } catch {
      resolve(false);
    }
  });
}

/**
 * Creates a request-signature verifier on node:crypto. ECDSA P-256 takes raw r ‖ s
 * (`ieee-p1363`) and accepts high-S signatures, as core's `verifyBytes` does; Ed25519 is
 * OpenSSL's RFC 8032 check. Never rejects: a malformed key or signature gives `false`.
 */
export function createNodeRequestVerifier(): RequestSignatureVerifier {
  const keys = new WeakMap<VerifyKey, KeyObject | null>();
  return async (key, base, signature) => {
    if (signature.length !== 64) return false;
    let k = keys.get(key);
    if (k === undefined) {
      k = publicKeyObject(exportPublicJwk(key));
      keys.set(key, k);
    }
    if (k === null) return false;
    return verifyAsync(key.alg !== 'ed25519', k, base, signature);
  };
}

/**
 * Creates a core `SignatureBackend` on node:crypto for presentations: ES256 as raw r ‖ s with
 * high-S accepted (spec §2.3), EdDSA as OpenSSL's RFC 8032 check. Never rejects.
 */
export function createNodeSignatureBackend(): SignatureBackend {
  const keys = new WeakMap<PublicKey, KeyObject | null>();
  return {
    verify(key, data, signature) {
      if (signature.length !== 64) return false;
      let k = keys.get(key);
      if (k === undefined) {
        k = publicKeyObject(exportJwk(key) as { kty: string; crv: string; x: string; y?: string });
        keys.set(key, k);
      }
      if (k === null) return false;
      return verifyAsync(key.alg === 'ES256', k, data, signature);
    },
  };
}
