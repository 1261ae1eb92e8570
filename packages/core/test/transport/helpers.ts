import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { exportPublicJwk, importSigningKey, type Jwk } from '../../src/http.js';

function b64url(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** Makes a fresh private JWK for tests. */
export function makeJwk(alg: 'ecdsa-p256-sha256' | 'ed25519'): Jwk {
  if (alg === 'ed25519') {
    const d = ed25519.utils.randomSecretKey();
    return { kty: 'OKP', crv: 'Ed25519', x: b64url(ed25519.getPublicKey(d)), d: b64url(d) };
  }
  const d = p256.utils.randomSecretKey();
  const pub = p256.getPublicKey(d, false);
  return {
    kty: 'EC',
    crv: 'P-256',
    x: b64url(pub.subarray(1, 33)),
    y: b64url(pub.subarray(33)),
    d: b64url(d),
  };
}

/** The public half of a private JWK. */
export function publicOf(jwk: Jwk): Jwk {
  return exportPublicJwk(importSigningKey(jwk));
}
