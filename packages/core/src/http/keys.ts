/**
 * Import of JWK keys for HTTP message signatures: EC P-256 (`ecdsa-p256-sha256`) and OKP
 * Ed25519 (`ed25519`). Keys become small frozen objects holding raw bytes.
 *
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { equalBytes, fromBase64Url, toBase64Url } from './bytes.js';

/** RFC 9421 §6.2 algorithm names supported by this package. */
export type SignatureAlgorithm = 'ecdsa-p256-sha256' | 'ed25519';

/** A JSON Web Key (RFC 7517) of the shapes this package accepts. */
export interface Jwk {
  /** Key type: `'EC'` for P-256 or `'OKP'` for Ed25519. */
  readonly kty: string;
  /** Curve: `'P-256'` or `'Ed25519'`. */
  readonly crv: string;
  /** Public x coordinate (EC) or public key (OKP), base64url. */
  readonly x: string;
  /** Public y coordinate (EC only), base64url. */
  readonly y?: string;
  /** Private scalar (EC) or seed (OKP), base64url; present only in private keys. */
  readonly d?: string;
  /** Optional key id. */
  readonly kid?: string;
  /** Optional JOSE algorithm hint (`'ES256'` or `'EdDSA'`); checked when present. */
  readonly alg?: string;
}

/** A public key ready for signature verification. */
export interface VerifyKey {
  /** The RFC 9421 algorithm this key is bound to. */
  readonly alg: SignatureAlgorithm;
  /** Raw public key: 65-byte uncompressed SEC1 point (P-256) or 32 bytes (Ed25519). */
  readonly publicKey: Uint8Array;
  /** The JWK `kid`, when present. */
  readonly kid?: string;
}

/** A private key ready for signing; it also carries its public half. */
export interface SigningKey extends VerifyKey {
  /** Raw private key: 32-byte scalar (P-256) or 32-byte seed (Ed25519). */
  readonly secretKey: Uint8Array;
}

function b64field(jwk: Jwk, name: 'x' | 'y' | 'd', len: number): Uint8Array {
  const v = jwk[name];
  if (typeof v !== 'string') throw new TypeError(`JWK "${name}" must be a base64url string`);
  const bytes = fromBase64Url(v);
  if (bytes === undefined) throw new TypeError(`JWK "${name}" is not valid base64url`);
  if (bytes.length !== len) throw new RangeError(`JWK "${name}" must decode to ${len} bytes`);
  return bytes;
}

function algOf(jwk: Jwk): SignatureAlgorithm {
  if (typeof jwk !== 'object' || jwk === null) throw new TypeError('JWK must be an object');
  if (jwk.kty === 'EC' && jwk.crv === 'P-256') {
    if (jwk.alg !== undefined && jwk.alg !== 'ES256') throw new TypeError('EC P-256 JWK "alg" must be ES256');
    return 'ecdsa-p256-sha256';
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    if (jwk.alg !== undefined && jwk.alg !== 'EdDSA' && jwk.alg !== 'Ed25519') {
      throw new TypeError('OKP Ed25519 JWK "alg" must be EdDSA or Ed25519');
    }
    return 'ed25519';
  }
  throw new TypeError('unsupported JWK: expected kty EC / crv P-256 or kty OKP / crv Ed25519');
}

function publicKeyOf(jwk: Jwk, alg: SignatureAlgorithm): Uint8Array {
  if (alg === 'ed25519') {
    const pub = b64field(jwk, 'x', 32);
    let smallOrder: boolean;
    try {
      smallOrder = ed25519.Point.fromBytes(pub, false).isSmallOrder();
    } catch {
      throw new RangeError('JWK "x" is not a valid Ed25519 point');
    }
    // `verifyBytes` accepts no signature under a point of small order (the identity, 32 zero
    // bytes, …), but a cofactorless verifier such as OpenSSL, which a `verifier` hook may use,
    // accepts a forged one for any message: such a key would let anyone sign as its holder.
    if (smallOrder) throw new RangeError('JWK "x" is an Ed25519 point of small order, not a key');
    return pub;
  }
  const pub = new Uint8Array(65);
  pub[0] = 0x04;
  pub.set(b64field(jwk, 'x', 32), 1);
  pub.set(b64field(jwk, 'y', 32), 33);
  try {
    p256.Point.fromBytes(pub).assertValidity();
  } catch {
    throw new RangeError('JWK "x"/"y" is not a valid P-256 point');
  }
  return pub;
}

function withKid<T extends object>(obj: T, jwk: Jwk): T & { kid?: string } {
  return typeof jwk.kid === 'string' ? { ...obj, kid: jwk.kid } : obj;
}

/**
 * Imports a public JWK (or the public half of a private JWK) for verification.
 *
 * @param jwk - an EC P-256 or OKP Ed25519 JWK.
 * @returns a frozen {@link VerifyKey}.
 * @throws TypeError for unsupported or malformed keys, RangeError for wrong lengths, invalid points
 *   or an Ed25519 point of small order.
 *
 * @example
 * ```ts
 * const key = importVerifyKey({ kty: 'OKP', crv: 'Ed25519', x: 'JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs' });
 * ```
 */
export function importVerifyKey(jwk: Jwk): VerifyKey {
  const alg = algOf(jwk);
  return Object.freeze(withKid({ alg, publicKey: publicKeyOf(jwk, alg) }, jwk));
}

/**
 * Imports a private JWK for signing. The private part must match the public part in the JWK.
 *
 * @param jwk - an EC P-256 or OKP Ed25519 JWK with `d`.
 * @returns a frozen {@link SigningKey}.
 * @throws TypeError for unsupported, malformed or inconsistent keys, RangeError for wrong lengths.
 *
 * @example
 * ```ts
 * const key = importSigningKey(deviceJwk); // { alg: 'ecdsa-p256-sha256', secretKey, publicKey }
 * ```
 */
export function importSigningKey(jwk: Jwk): SigningKey {
  const alg = algOf(jwk);
  const publicKey = publicKeyOf(jwk, alg);
  const secretKey = b64field(jwk, 'd', 32);
  let derived: Uint8Array;
  try {
    derived = alg === 'ed25519' ? ed25519.getPublicKey(secretKey) : p256.getPublicKey(secretKey, false);
  } catch {
    throw new RangeError('JWK "d" is not a valid private key');
  }
  if (!equalBytes(derived, publicKey)) throw new TypeError('JWK "d" does not match its public key');
  return Object.freeze(withKid({ alg, publicKey, secretKey }, jwk));
}

/**
 * Exports the public half of a key as a JWK (no `d`), e.g. to publish a device key.
 *
 * @param key - a {@link VerifyKey} or {@link SigningKey}.
 * @returns a public JWK.
 */
export function exportPublicJwk(key: VerifyKey): Jwk {
  const kid = key.kid === undefined ? {} : { kid: key.kid };
  if (key.alg === 'ed25519') return { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(key.publicKey), ...kid };
  return {
    kty: 'EC',
    crv: 'P-256',
    x: toBase64Url(key.publicKey.subarray(1, 33)),
    y: toBase64Url(key.publicKey.subarray(33, 65)),
    ...kid,
  };
}

/**
 * Creates a raw signature over a signature base: Ed25519 (64 bytes) or ECDSA P-256 with SHA-256
 * of the base and raw r‖s output (64 bytes, low-S), per RFC 9421 §3.3.
 *
 * @param key - the signing key.
 * @param base - the UTF-8 signature base bytes.
 */
export function signBytes(key: SigningKey, base: Uint8Array): Uint8Array {
  if (key.alg === 'ed25519') return ed25519.sign(base, key.secretKey);
  return p256.sign(base, key.secretKey, { prehash: true, format: 'compact' });
}

/**
 * Verifies a raw signature over a signature base. Ed25519 is strict RFC 8032 (`zip215: false`);
 * ECDSA accepts high-S signatures (`lowS: false`) as RFC 9421 §3.3.4 does not forbid them.
 * Never throws: malformed signatures return `false`.
 *
 * @param key - the verification key.
 * @param base - the UTF-8 signature base bytes.
 * @param signature - 64 raw bytes.
 */
export function verifyBytes(key: VerifyKey, base: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    if (key.alg === 'ed25519') return ed25519.verify(signature, base, key.publicKey, { zip215: false });
    return p256.verify(signature, base, key.publicKey, { prehash: true, lowS: false, format: 'compact' });
  } catch {
    return false;
  }
}
