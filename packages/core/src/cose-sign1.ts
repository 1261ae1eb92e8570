/**
 * COSE_Sign1 (RFC 9052 §4.2) as this format profiles it (spec §2.2): untagged, protected
 * header `{1: alg, ? 4: kid}`, empty unprotected header, 64-byte signature.
 *
 * @module
 */
import { CampusCardError } from './errors.js';
import type { PrivateKey } from './keys.js';
import {
  type Alg,
  algFromCose,
  COSE_ALG,
  type PublicKey,
  type Signer,
  toSigner,
  verifyBytes,
} from './keys.js';
import { type CborLimits, type CborValue, cmap, decodeCbor, encodeCbor } from './lib/cbor.js';
import { PROTECTED_HEADER_LIMITS } from './lib/limits.js';

/** A decoded, not yet verified COSE_Sign1. */
export interface Sign1 {
  /** The protected header bytes, exactly as signed. */
  readonly protectedBytes: Uint8Array;
  /** The algorithm named by the protected header. */
  readonly alg: Alg;
  /** The key id in the protected header, if any. */
  readonly kid: Uint8Array | undefined;
  /** The payload bytes, exactly as signed. */
  readonly payload: Uint8Array;
  /** The 64-byte signature. */
  readonly signature: Uint8Array;
}

function structure(what: string, detail: string, section = '2.2'): CampusCardError {
  return new CampusCardError('ERR_STRUCTURE', `${what}: ${detail}`, { section });
}

/** Decodes the protected header of a COSE_Sign1. */
function decodeProtected(
  bytes: Uint8Array,
  what: string,
  wantKid: boolean,
): { alg: Alg; kid: Uint8Array | undefined } {
  // fast path for the two headers every presentation carries: {1: -7} and {1: -8}
  if (!wantKid && bytes.length === 3 && bytes[0] === 0xa1 && bytes[1] === 0x01) {
    if (bytes[2] === 0x26) return { alg: 'ES256', kid: undefined };
    if (bytes[2] === 0x27) return { alg: 'EdDSA', kid: undefined };
  }
  // a zero-length protected header is the empty header map (RFC 9052 §3): its alg is absent, as in
  // `a0`, so it is ERR_ALG_NOT_ALLOWED like that one, not a malformed (empty) CBOR item
  const header =
    bytes.length === 0
      ? new Map<number | string, CborValue>()
      : decodeCbor(bytes, PROTECTED_HEADER_LIMITS, `${what} protected header`);
  if (!(header instanceof Map)) throw structure(what, 'protected header is not a map');
  for (const label of header.keys()) {
    if (label !== 1 && label !== 4)
      throw structure(what, `unexpected protected header label ${String(label)}`);
  }
  const algId = header.get(1);
  const alg = algFromCose(algId);
  if (alg === undefined) {
    throw new CampusCardError('ERR_ALG_NOT_ALLOWED', `${what}: alg ${String(algId)} is not allowed`, {
      section: '2.2',
    });
  }
  const kid = header.get(4);
  if (kid !== undefined && !(kid instanceof Uint8Array && kid.length === 8))
    throw structure(what, 'kid must be 8 bytes');
  if (wantKid && kid === undefined) throw structure(what, 'protected header has no kid');
  if (!wantKid && kid !== undefined) throw structure(what, 'protected header must not have a kid');
  return { alg, kid };
}

/**
 * Decodes a COSE_Sign1 (already CBOR-decoded into `value`, or as bytes) without verifying it.
 *
 * @param wantKid - Whether the protected header must (true) or must not (false) carry a kid.
 */
export function decodeSign1(
  input: Uint8Array | CborValue,
  limits: CborLimits,
  what: string,
  wantKid: boolean,
): Sign1 {
  const value = input instanceof Uint8Array ? decodeCbor(input, limits, what) : input;
  if (!Array.isArray(value) || value.length !== 4) throw structure(what, 'a COSE_Sign1 is an array of 4');
  const [protectedBytes, unprotected, payload, signature] = value;
  if (!(protectedBytes instanceof Uint8Array))
    throw structure(what, 'protected header must be a byte string');
  if (!(unprotected instanceof Map) || unprotected.size !== 0)
    throw structure(what, 'unprotected header must be empty');
  if (!(payload instanceof Uint8Array)) throw structure(what, 'payload must be a byte string');
  if (!(signature instanceof Uint8Array) || signature.length !== 64)
    throw structure(what, 'signature must be 64 bytes');
  const { alg, kid } = decodeProtected(protectedBytes, what, wantKid);
  return { protectedBytes, alg, kid, payload, signature };
}

const SIGNATURE1 = new Uint8Array([0x84, 0x6a, 0x53, 0x69, 0x67, 0x6e, 0x61, 0x74, 0x75, 0x72, 0x65, 0x31]);

/** The CBOR head of a byte string of `len` bytes. */
export function bstrHead(len: number): Uint8Array {
  if (len < 24) return new Uint8Array([0x40 | len]);
  if (len < 256) return new Uint8Array([0x58, len]);
  if (len < 65_536) return new Uint8Array([0x59, len >> 8, len & 0xff]);
  return new Uint8Array([0x5a, (len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff]);
}

function bstrHeadLength(len: number): number {
  return len < 24 ? 1 : len < 256 ? 2 : len < 65_536 ? 3 : 5;
}

/** The RFC 9052 `Sig_structure` for COSE_Sign1 with empty external_aad: the bytes that are signed. */
export function sign1ToBeSigned(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  const ph = bstrHead(protectedBytes.length);
  const pl = bstrHead(payload.length);
  const out = new Uint8Array(
    SIGNATURE1.length + ph.length + protectedBytes.length + 1 + pl.length + payload.length,
  );
  let o = 0;
  out.set(SIGNATURE1, o);
  o += SIGNATURE1.length;
  out.set(ph, o);
  o += ph.length;
  out.set(protectedBytes, o);
  o += protectedBytes.length;
  out[o++] = 0x40;
  out.set(pl, o);
  o += pl.length;
  out.set(payload, o);
  return out;
}

/** Spare bytes to keep in front of COSE_Sign1 bytes for {@link sign1ToBeSignedInPlace}. */
export const SIGN1_HEADROOM = SIGNATURE1.length - 1;

/**
 * {@link sign1ToBeSigned} without a copy, for a COSE_Sign1 decoded (as views, no copy) from
 * `buf.subarray(SIGN1_HEADROOM)`, a buffer the caller owns. The COSE_Sign1 bytes are
 * `84 ‖ protected bstr ‖ a0 ‖ payload bstr ‖ signature`, so writing the `Sig_structure` prefix into
 * the headroom (its last byte replaces the array head `84`) and `40` (empty external_aad) over the
 * empty unprotected map `a0` leaves the exact to-be-signed bytes in place. Only those two bytes,
 * which no decoded view covers, change. Falls back to {@link sign1ToBeSigned} if the layout is not
 * the expected one.
 */
export function sign1ToBeSignedInPlace(buf: Uint8Array, sign1: Sign1): Uint8Array {
  const { protectedBytes, payload } = sign1;
  const base = buf.byteOffset;
  const unprotectedAt = protectedBytes.byteOffset - base + protectedBytes.length;
  const end = payload.byteOffset - base + payload.length;
  if (
    protectedBytes.buffer !== buf.buffer ||
    payload.buffer !== buf.buffer ||
    buf[SIGN1_HEADROOM] !== 0x84 ||
    protectedBytes.byteOffset - base !== SIGN1_HEADROOM + 1 + bstrHeadLength(protectedBytes.length) ||
    buf[unprotectedAt] !== 0xa0 ||
    payload.byteOffset - base !== unprotectedAt + 1 + bstrHeadLength(payload.length) ||
    end > buf.length
  ) {
    return sign1ToBeSigned(protectedBytes, payload);
  }
  return toBeSignedAt(buf, unprotectedAt, end);
}

/**
 * The in-place step of {@link sign1ToBeSignedInPlace}, for a caller that already knows the layout
 * (offsets in `buf`): the `Sig_structure` prefix into the headroom, `40` over the empty unprotected
 * map at `unprotectedAt`; the to-be-signed bytes are then `buf[0, end)`. Internal.
 */
export function toBeSignedAt(buf: Uint8Array, unprotectedAt: number, end: number): Uint8Array {
  buf.set(SIGNATURE1, 0);
  buf[unprotectedAt] = 0x40;
  return buf.subarray(0, end);
}

/** Encodes the protected header `{1: alg, ? 4: kid}`. */
export function encodeProtected(alg: Alg, kid?: Uint8Array): Uint8Array {
  return encodeCbor(
    cmap([
      [1, COSE_ALG[alg]],
      [4, kid],
    ]),
  );
}

/** Options of {@link signSign1}. */
export interface SignSign1Options {
  /** The protected header: `{1: alg, 4: kid}` or `{1: alg}`. */
  header: 'alg+kid' | 'alg';
  /**
   * The size limit of the structure (spec §2.1) and its name: bytes a reader would refuse
   * (`ERR_INPUT_TOO_LARGE`) are refused here, before signing, with the same code.
   */
  limit?: { maxBytes: number; what: string };
}

/** The length of a COSE_Sign1 with these parts and a 64-byte signature. */
export function sign1Length(protectedLength: number, payloadLength: number): number {
  return (
    1 +
    bstrHeadLength(protectedLength) +
    protectedLength +
    1 +
    bstrHeadLength(payloadLength) +
    payloadLength +
    2 +
    64
  );
}

/** Signs `payload` into COSE_Sign1 bytes. */
export async function signSign1(
  payload: Uint8Array,
  key: PrivateKey | Signer,
  options: SignSign1Options,
): Promise<Uint8Array> {
  const signer = toSigner(key);
  const protectedBytes = encodeProtected(signer.alg, options.header === 'alg+kid' ? signer.kid : undefined);
  const limit = options.limit;
  if (limit !== undefined) {
    const length = sign1Length(protectedBytes.length, payload.length);
    if (length > limit.maxBytes) {
      throw new CampusCardError(
        'ERR_INPUT_TOO_LARGE',
        `${limit.what} would be ${length} bytes; the limit is ${limit.maxBytes}`,
        { section: '2.1' },
      );
    }
  }
  const signature = await signer.sign(sign1ToBeSigned(protectedBytes, payload));
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new TypeError('a signer must return a 64-byte raw signature');
  }
  return encodeCbor([protectedBytes, new Map(), payload, signature]);
}

/**
 * Verifies a decoded COSE_Sign1 against candidate keys (all keys sharing the kid; ids can
 * collide, spec §2.4). Returns the key that verified, or throws.
 *
 * @throws {@link CampusCardError} `ERR_ALG_NOT_ALLOWED` when no candidate has the header's alg,
 *   `ERR_SIGNATURE_INVALID` when none verifies.
 */
export function verifySign1(sign1: Sign1, candidates: readonly PublicKey[], what: string): PublicKey {
  const tbs = sign1ToBeSigned(sign1.protectedBytes, sign1.payload);
  let algMatched = false;
  for (const key of candidates) {
    if (key.alg !== sign1.alg) continue;
    algMatched = true;
    if (verifyBytes(key, tbs, sign1.signature)) return key;
  }
  if (!algMatched && candidates.length > 0) {
    throw new CampusCardError('ERR_ALG_NOT_ALLOWED', `${what}: alg ${sign1.alg} is not the key's algorithm`, {
      section: '2.2',
    });
  }
  throw new CampusCardError('ERR_SIGNATURE_INVALID', `${what}: signature does not verify`, {
    section: '2.2',
  });
}
