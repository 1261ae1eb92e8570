/**
 * node:crypto (OpenSSL) signature checks for the request path, off the event loop (batched in
 * a worker thread, see lib/verify-worker.ts):
 *
 * - RFC 9421 request signatures, through core/http's `verifyRequest({ verifier })` hook (and
 *   the `Content-Digest` hashes through its `digest` hook, on the event loop);
 * - presentations (issuer and holder COSE signatures), as a core `SignatureBackend` for
 *   `verifyPresentation({ backend })`.
 *
 * core's pure-JS default takes about 4 ms per P-256 verification here, and OpenSSL about 0.1 ms.
 *
 * @module
 */
import { hash, type JsonWebKey } from 'node:crypto';
import { exportJwk, type PublicKey, type SignatureBackend } from '@campus-card/core';
import { type DigestFunction, exportPublicJwk, type VerifyKey } from '@campus-card/core/http';
import { verifyPool } from './verify-worker.js';

/**
 * `Content-Digest` hashes on node:crypto, for `verifyRequest({ digest })`: a request body's
 * SHA-256 in about a fifth of the time of core's pure-JS default.
 */
export const nodeDigest: DigestFunction = (alg, body) =>
  hash(alg === 'sha-256' ? 'sha256' : 'sha512', body, 'buffer');

/** A request-signature verifier for `verifyRequest({ verifier })`. */
export type RequestSignatureVerifier = (
  key: VerifyKey,
  base: Uint8Array,
  signature: Uint8Array,
) => Promise<boolean>;

function publicJwk(jwk: { kty: string; crv: string; x: string; y?: string | undefined }): JsonWebKey {
  const { kty, crv, x, y } = jwk;
  return y === undefined ? { kty, crv, x } : { kty, crv, x, y };
}

/**
 * Creates a request-signature verifier on node:crypto. ECDSA P-256 takes raw r ‖ s
 * (`ieee-p1363`) and accepts high-S signatures, as core's `verifyBytes` does; Ed25519 is
 * OpenSSL's RFC 8032 check. Never rejects: a malformed key or signature gives `false`.
 */
export function createNodeRequestVerifier(): RequestSignatureVerifier {
  const pool = verifyPool();
  return (key, base, signature) =>
    pool.verify(key, () => publicJwk(exportPublicJwk(key)), key.alg !== 'ed25519', base, signature);
}

/**
 * Creates a core `SignatureBackend` on node:crypto for presentations: ES256 as raw r ‖ s with
 * high-S accepted (spec §2.3), EdDSA as OpenSSL's RFC 8032 check. Never rejects.
 */
export function createNodeSignatureBackend(): SignatureBackend {
  const pool = verifyPool();
  return {
    verify: (key: PublicKey, data, signature) =>
      pool.verify(
        key,
        () => publicJwk(exportJwk(key) as { kty: string; crv: string; x: string; y?: string }),
        key.alg === 'ES256',
        data,
        signature,
      ),
  };
}
