/**
 * Keys: generation, COSE_Key and JWK import/export, RFC 9679 key ids, and signing.
 *
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { p256 } from '@noble/curves/nist.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { CampusCardError } from './errors.js';
import { bytesEqual, fromBase64Url, toBase64Url } from './lib/bytes.js';
import { type CborMap, type CborValue, cmap, encodeCbor } from './lib/cbor.js';

/** Signature algorithms of the format (spec §2.3). ES256 is the default. */
export type Alg = 'ES256' | 'EdDSA';

/** COSE algorithm identifiers (RFC 9053). */
export const COSE_ALG: Readonly<Record<Alg, number>> = { ES256: -7, EdDSA: -8 };

/** Maps a COSE algorithm identifier to an {@link Alg}, or `undefined` for anything else. */
export function algFromCose(id: unknown): Alg | undefined {
  return id === -7 ? 'ES256' : id === -8 ? 'EdDSA' : undefined;
}

/**
 * A public key. `raw` is the uncompressed SEC1 point (65 bytes) for ES256, or the 32-byte
 * Ed25519 public key for EdDSA. `kid` is the 8-byte key id (spec §2.4).
 */
export interface PublicKey {
  readonly type: 'public';
  readonly alg: Alg;
  readonly kid: Uint8Array;
  readonly raw: Uint8Array;
}

/**
 * A private key held in memory. `d` is the 32-byte secret scalar (ES256) or seed (EdDSA).
 * It serialises to JSON without its secret, so logging it leaks nothing.
 */
export interface PrivateKey {
  readonly type: 'private';
  readonly alg: Alg;
  readonly kid: Uint8Array;
  readonly publicKey: PublicKey;
  readonly d: Uint8Array;
}

/**
 * Anything that can sign: a {@link PrivateKey}, or a custom signer backed by secure hardware
 * (Secure Enclave, StrongBox, an HSM). `sign` returns a raw 64-byte signature (r ‖ s for ES256).
 * A custom signer's `kid` is its `publicKey`'s key id ({@link computeKeyId}) and its `alg` that
 * key's algorithm: signing refuses one that says otherwise ({@link toSigner}).
 */
export interface Signer {
  readonly alg: Alg;
  readonly kid: Uint8Array;
  readonly publicKey: PublicKey;
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A JSON Web Key (RFC 7517) of one of the two supported kinds. */
export interface Jwk {
  kty: 'EC' | 'OKP';
  crv: 'P-256' | 'Ed25519';
  x: string;
  y?: string;
  d?: string;
  alg?: 'ES256' | 'EdDSA';
  kid?: string;
  [extra: string]: unknown;
}

function keyInvalid(message: string): CampusCardError {
  return new CampusCardError('ERR_KEY_INVALID', message, { section: '2.4' });
}

function assertAlg(alg: unknown): asserts alg is Alg {
  if (alg !== 'ES256' && alg !== 'EdDSA') throw new TypeError(`unsupported algorithm ${String(alg)}`);
}

/**
 * Computes the key id of a public key: the first 8 bytes of its RFC 9679 COSE Key Thumbprint
 * (SHA-256 over the deterministic encoding of the required COSE_Key members).
 *
 * @param alg - The key's algorithm.
 * @param raw - The key as {@link PublicKey.raw} holds it: the 65-byte uncompressed SEC1 point
 *   (`04 ‖ x ‖ y`) for ES256, the 32-byte public key for EdDSA. (For a compressed point, take the
 *   `kid` of {@link importRawPublicKey}.)
 * @throws `RangeError` for `raw` of another form: a thumbprint of it would name no key.
 */
export function computeKeyId(alg: Alg, raw: Uint8Array): Uint8Array {
  assertAlg(alg);
  if (
    !(raw instanceof Uint8Array) ||
    (alg === 'ES256' ? raw.length !== 65 || raw[0] !== 4 : raw.length !== 32)
  ) {
    throw new RangeError(
      alg === 'ES256'
        ? 'computeKeyId: an ES256 key is the 65-byte uncompressed point 04 ‖ x ‖ y'
        : 'computeKeyId: an EdDSA key is 32 bytes',
    );
  }
  const members: CborMap =
    alg === 'ES256'
      ? cmap([
          [1, 2],
          [-1, 1],
          [-2, raw.subarray(1, 33)],
          [-3, raw.subarray(33, 65)],
        ])
      : cmap([
          [1, 1],
          [-1, 6],
          [-2, raw],
        ]);
  return sha256(encodeCbor(members)).subarray(0, 8);
}

function makePublic(alg: Alg, raw: Uint8Array): PublicKey {
  return Object.freeze({ type: 'public' as const, alg, kid: computeKeyId(alg, raw), raw });
}

function makePrivate(alg: Alg, d: Uint8Array, pub: PublicKey): PrivateKey {
  const key = { type: 'private' as const, alg, kid: pub.kid, publicKey: pub, d };
  Object.defineProperty(key, 'toJSON', {
    value: () => ({ type: 'private', alg, kid: toBase64Url(pub.kid), d: '[redacted]' }),
    enumerable: false,
  });
  return Object.freeze(key);
}

/** Options of {@link generateKeyPair}. */
export interface GenerateKeyPairOptions {
  /** Seed for a deterministic key (test vectors only): 48 bytes for ES256, 32 for EdDSA. Default: fresh randomness. */
  seed?: Uint8Array;
}

/**
 * Generates a key pair. ES256 (P-256) is the default.
 *
 * @example
 * ```ts
 * const { privateKey, publicKey } = generateKeyPair('ES256');
 * ```
 */
export function generateKeyPair(
  alg: Alg = 'ES256',
  options: GenerateKeyPairOptions = {},
): { privateKey: PrivateKey; publicKey: PublicKey } {
  assertAlg(alg);
  if (alg === 'ES256') {
    const d = p256.utils.randomSecretKey(options.seed);
    const pub = makePublic(alg, p256.getPublicKey(d, false));
    return { privateKey: makePrivate(alg, d, pub), publicKey: pub };
  }
  const d = options.seed ? Uint8Array.from(options.seed) : ed25519.utils.randomSecretKey();
  if (d.length !== 32) throw new RangeError('EdDSA seed must be 32 bytes');
  const pub = makePublic(alg, ed25519.getPublicKey(d));
  return { privateKey: makePrivate(alg, d, pub), publicKey: pub };
}

/**
 * Builds a {@link PublicKey} from raw bytes: SEC1 (33 or 65 bytes) for ES256, 32 bytes for EdDSA.
 *
 * @throws {@link CampusCardError} `ERR_KEY_INVALID` for a point not on the curve, or an Ed25519
 *   point of small order (which signs nothing a strict verifier accepts, and anything a lax one does).
 */
export function importRawPublicKey(alg: Alg, raw: Uint8Array): PublicKey {
  assertAlg(alg);
  if (alg === 'ES256') {
    let point: Uint8Array;
    try {
      point = p256.Point.fromBytes(raw).toBytes(false);
    } catch (cause) {
      throw new CampusCardError('ERR_KEY_INVALID', 'not a valid P-256 point', { cause, section: '2.4' });
    }
    return makePublic(alg, point);
  }
  if (raw.length !== 32) throw keyInvalid('an Ed25519 public key is 32 bytes');
  let smallOrder: boolean;
  try {
    smallOrder = ed25519.Point.fromBytes(raw).isSmallOrder();
  } catch (cause) {
    throw new CampusCardError('ERR_KEY_INVALID', 'not a valid Ed25519 point', { cause, section: '2.4' });
  }
  // strict verification (spec §2.3) accepts no signature under a point of small order (the identity,
  // 32 zero bytes, …), but a cofactorless backend (OpenSSL, so node:crypto) accepts a forged one for
  // any message: such a key would let anyone make codes for its card, so it is never a key
  if (smallOrder) throw keyInvalid('an Ed25519 public key of small order is not a key');
  return makePublic(alg, Uint8Array.from(raw));
}

/**
 * Exports a public key as a COSE_Key map (RFC 9052 §7).
 *
 * @param options.compressed - For EC2 keys, emit the y sign bit instead of the coordinate (spec §2.4). Default false.
 * @param options.alg - Include `3` (alg). Default true. Without it the algorithm is implied by the key type.
 */
export function exportCoseKey(
  key: PublicKey | PrivateKey,
  options: { compressed?: boolean; alg?: boolean } = {},
): CborMap {
  const pub = key.type === 'private' ? key.publicKey : key;
  const withAlg = options.alg ?? true;
  if (pub.alg === 'ES256') {
    const x = pub.raw.subarray(1, 33);
    const y: CborValue = options.compressed ? ((pub.raw[64] as number) & 1) === 1 : pub.raw.subarray(33, 65);
    return cmap([
      [1, 2],
      [3, withAlg ? -7 : undefined],
      [-1, 1],
      [-2, x],
      [-3, y],
    ]);
  }
  return cmap([
    [1, 1],
    [3, withAlg ? -8 : undefined],
    [-1, 6],
    [-2, pub.raw],
  ]);
}

/** Encodes a public key as COSE_Key bytes (uncompressed form). */
export function encodeCoseKey(key: PublicKey | PrivateKey): Uint8Array {
  return encodeCbor(exportCoseKey(key));
}

/**
 * The labels a COSE_Key may hold (spec §2.4): kty (1), alg (3), crv (-1), x (-2), y (-3). Not kid
 * (2): a key id is computed from the key, never carried with it.
 */
const COSE_KEY_LABELS: ReadonlySet<unknown> = new Set([1, 3, -1, -2, -3]);

/** Options of {@link importCoseKey}. */
export interface ImportCoseKeyOptions {
  /**
   * Whether the key must carry `3` (alg): `'required'` in a trust list or a roster, `'forbidden'`
   * for the phone key of a credential (spec §2.4), so that each key has one encoding where it
   * appears. Default `'optional'`: either, as long as it agrees with the key type.
   */
  readonly algLabel?: 'required' | 'forbidden' | 'optional';
}

/**
 * Imports a public key from a decoded COSE_Key map. Keys pin their algorithm (spec §2.2): EC2
 * P-256 is ES256 and OKP Ed25519 is EdDSA; a `3` (alg) that says otherwise is refused. A COSE_Key
 * holds kty, alg, crv, x and y only (spec §2.4): any other label is refused, a `2` (kid) too, even
 * one equal to the key's own id, which is always computed ({@link computeKeyId}). With
 * `options.algLabel`, `3` (alg) must be present or absent.
 *
 * @throws {@link CampusCardError} `ERR_KEY_INVALID` or `ERR_ALG_NOT_ALLOWED`.
 */
export function importCoseKey(value: unknown, options: ImportCoseKeyOptions = {}): PublicKey {
  if (!(value instanceof Map)) throw keyInvalid('a COSE_Key must be a map');
  const algLabel = options.algLabel ?? 'optional';
  if (algLabel === 'required' && !value.has(3)) {
    throw keyInvalid('this COSE_Key must carry 3 (alg): trust lists and rosters name the algorithm');
  }
  if (algLabel === 'forbidden' && value.has(3)) {
    throw keyInvalid("this COSE_Key carries no 3 (alg): a credential's phone key leaves it out");
  }
  for (const label of value.keys()) {
    if (label === 2) throw keyInvalid('a COSE_Key carries no kid (2): the key id is computed from the key');
    if (!COSE_KEY_LABELS.has(label)) throw keyInvalid(`unexpected COSE_Key label ${String(label)}`);
  }
  const kty = value.get(1);
  const implied: Alg | undefined = kty === 2 ? 'ES256' : kty === 1 ? 'EdDSA' : undefined;
  if (implied === undefined) throw keyInvalid('COSE_Key kty must be EC2 (2) or OKP (1)');
  const alg = value.has(3) ? algFromCose(value.get(3)) : implied;
  if (alg !== implied) {
    throw new CampusCardError('ERR_ALG_NOT_ALLOWED', 'COSE_Key alg (3) is not allowed for its key type', {
      section: '2.2',
    });
  }
  const crv = value.get(-1);
  const x = value.get(-2);
  if (!(x instanceof Uint8Array) || x.length !== 32) throw keyInvalid('COSE_Key x must be 32 bytes');
  if (alg === 'ES256') {
    if (kty !== 2 || crv !== 1) throw keyInvalid('an ES256 key must be EC2 on P-256');
    const y = value.get(-3);
    let raw: Uint8Array;
    if (typeof y === 'boolean') {
      raw = new Uint8Array(33);
      raw[0] = y ? 3 : 2;
      raw.set(x, 1);
    } else if (y instanceof Uint8Array && y.length === 32) {
      raw = new Uint8Array(65);
      raw[0] = 4;
      raw.set(x, 1);
      raw.set(y, 33);
    } else {
      throw keyInvalid('COSE_Key y must be 32 bytes or a boolean');
    }
    return importRawPublicKey(alg, raw);
  }
  if (kty !== 1 || crv !== 6 || value.has(-3)) throw keyInvalid('an EdDSA key must be OKP on Ed25519');
  return importRawPublicKey(alg, x);
}

/**
 * Exports a key as a JWK, with `alg` and `kid` (base64url of the 8-byte key id). A private key
 * is exported with its secret `d` only when `includePrivate` is true.
 */
export function exportJwk(key: PublicKey | PrivateKey, options: { includePrivate?: boolean } = {}): Jwk {
  const pub = key.type === 'private' ? key.publicKey : key;
  const jwk: Jwk =
    pub.alg === 'ES256'
      ? {
          kty: 'EC',
          crv: 'P-256',
          x: toBase64Url(pub.raw.subarray(1, 33)),
          y: toBase64Url(pub.raw.subarray(33, 65)),
        }
      : { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(pub.raw) };
  if (key.type === 'private' && options.includePrivate) jwk.d = toBase64Url(key.d);
  jwk.alg = pub.alg;
  jwk.kid = toBase64Url(pub.kid);
  return jwk;
}

/**
 * Imports a JWK (EC P-256 or OKP Ed25519). With `d` present it returns a {@link PrivateKey}
 * (and checks that `d` matches `x`/`y`), otherwise a {@link PublicKey}. An `alg` must agree with
 * the key type. A `kid` is not read: a key id is always computed from the key
 * ({@link computeKeyId}), so a JWK that another system named with its own kid imports as the same
 * key, and {@link exportJwk} gives it the computed kid.
 *
 * @throws {@link CampusCardError} `ERR_KEY_INVALID`.
 */
export function importJwk(jwk: unknown): PublicKey | PrivateKey {
  if (typeof jwk !== 'object' || jwk === null) throw keyInvalid('a JWK must be an object');
  const j = jwk as Record<string, unknown>;
  let alg: Alg;
  let raw: Uint8Array;
  const x = typeof j.x === 'string' ? fromBase64Url(j.x) : undefined;
  if (j.kty === 'EC' && j.crv === 'P-256') {
    alg = 'ES256';
    const y = typeof j.y === 'string' ? fromBase64Url(j.y) : undefined;
    if (!x || !y || x.length !== 32 || y.length !== 32) throw keyInvalid('JWK x and y must be 32 bytes');
    raw = new Uint8Array(65);
    raw[0] = 4;
    raw.set(x, 1);
    raw.set(y, 33);
  } else if (j.kty === 'OKP' && j.crv === 'Ed25519') {
    alg = 'EdDSA';
    if (x?.length !== 32) throw keyInvalid('JWK x must be 32 bytes');
    raw = x;
  } else {
    throw keyInvalid('only EC P-256 and OKP Ed25519 JWKs are supported');
  }
  if (j.alg !== undefined && j.alg !== alg) {
    throw new CampusCardError('ERR_ALG_NOT_ALLOWED', `JWK alg ${String(j.alg)} does not match its key type`);
  }
  const pub = importRawPublicKey(alg, raw);
  if (j.d === undefined) return pub;
  const d = typeof j.d === 'string' ? fromBase64Url(j.d) : undefined;
  if (d?.length !== 32) throw keyInvalid('JWK d must be 32 bytes');
  let derived: Uint8Array;
  try {
    derived = alg === 'ES256' ? p256.getPublicKey(d, false) : ed25519.getPublicKey(d);
  } catch (cause) {
    throw new CampusCardError('ERR_KEY_INVALID', 'JWK d is not a valid secret', { cause });
  }
  if (!bytesEqual(derived, pub.raw)) throw keyInvalid('JWK d does not match its public key');
  return makePrivate(alg, d, pub);
}

/** Imports a JWK that must hold a private key. */
export function importPrivateJwk(jwk: unknown): PrivateKey {
  const key = importJwk(jwk);
  if (key.type !== 'private') throw keyInvalid('expected a private JWK (with d)');
  return key;
}

/** Imports a JWK as a public key (dropping `d` if present). */
export function importPublicJwk(jwk: unknown): PublicKey {
  const key = importJwk(jwk);
  return key.type === 'private' ? key.publicKey : key;
}

/** Signs `data` with a private key: raw r ‖ s (RFC 6979, low-S) for ES256, RFC 8032 for EdDSA. */
export function signBytes(key: PrivateKey, data: Uint8Array): Uint8Array {
  return key.alg === 'ES256'
    ? p256.sign(data, key.d, { prehash: true, lowS: true })
    : ed25519.sign(data, key.d);
}

/**
 * Verifies a raw signature with the pure-JS backend (@noble/curves). ES256 accepts high-S
 * signatures (spec §2.3); EdDSA is strict RFC 8032. Never throws: malformed input is `false`.
 */
export function verifyBytes(key: PublicKey, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return key.alg === 'ES256'
      ? p256.verify(signature, data, key.raw, { prehash: true, lowS: false })
      : ed25519.verify(signature, data, key.raw, { zip215: false });
  } catch {
    return false;
  }
}

/** `signer`, once its `alg`, `publicKey` and `kid` agree (see {@link toSigner}). */
function checkSigner(signer: Signer): Signer {
  const { alg, kid, publicKey } = signer;
  assertAlg(alg);
  if (typeof publicKey !== 'object' || publicKey === null || publicKey.alg !== alg) {
    throw new TypeError(`a signer's publicKey must be a public key of its alg ${alg}`);
  }
  const expected = computeKeyId(alg, publicKey.raw);
  if (!(kid instanceof Uint8Array) || !bytesEqual(kid, expected)) {
    throw new TypeError("a signer's kid must be its public key's key id (computeKeyId)");
  }
  return signer;
}

/** Whether `value` is a {@link PrivateKey} or a {@link Signer}. */
function isSigner(value: unknown): value is Signer {
  return typeof value === 'object' && value !== null && typeof (value as Signer).sign === 'function';
}

/**
 * Turns a private key or signer into a {@link Signer}. A custom signer (secure hardware, an HSM) is
 * checked first, since what it names goes into the protected header unverified: its `alg` must be
 * a supported one, its `publicKey` a key of that algorithm, and its `kid` that key's id
 * ({@link computeKeyId}). Otherwise it would sign a header without an alg, with a kid that is not
 * 8 bytes, or with a kid no trust list or roster has, all of which every reader refuses.
 *
 * @throws `TypeError` for anything else, or for a signer that breaks these rules (`RangeError` for
 *   a `publicKey.raw` of the wrong form, as {@link computeKeyId}).
 */
export function toSigner(key: PrivateKey | Signer): Signer {
  if (isSigner(key)) return checkSigner(key);
  if (typeof key !== 'object' || key === null || key.type !== 'private') {
    throw new TypeError('expected a PrivateKey or a Signer');
  }
  return { alg: key.alg, kid: key.kid, publicKey: key.publicKey, sign: (data) => signBytes(key, data) };
}
