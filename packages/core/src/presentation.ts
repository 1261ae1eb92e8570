/**
 * Presentation (spec §5): the dynamic QR code. The phone signs the credential (full mode) or the
 * card id and its key id (compact mode) with a time and a fresh nonce, offline.
 *
 * @module
 */
import { randomBytes } from '@noble/hashes/utils.js';
import {
  bstrHead,
  decodeSign1,
  SIGN1_HEADROOM,
  type Sign1,
  sign1Length,
  signSign1,
  toBeSignedAt,
} from './cose-sign1.js';
import { CampusCardError } from './errors.js';
import { type Alg, type PrivateKey, type Signer, toSigner } from './keys.js';
import { allocSlab } from './lib/bytes.js';
import { type CborValue, decodeCbor, decodeCborOwned, encodeCbor, headEnd, readHead } from './lib/cbor.js';
import { arrayField, bytesField, structureError, textField, uintField } from './lib/fields.js';
import { CREDENTIAL_LIMITS, PRESENTATION_LIMITS } from './lib/limits.js';
import { assertBytes } from './trust-list.js';

const S = '5';
/** Nonce length, bytes (spec §5). */
export const NONCE_BYTES = 4;
/** Default refresh interval of the dynamic code, seconds. */
export const DEFAULT_REFRESH_SECONDS = 60;

/** The signed fields of a presentation, decoded. */
export interface PresentationFields {
  /** `full` carries the credential; `compact` carries the card id and phone key id. */
  readonly mode: 'full' | 'compact';
  /** The credential bytes (full mode), rebuilt from its parts on first access. */
  readonly credential: Uint8Array | undefined;
  /** The credential's signed parts as carried in the code (full mode). */
  readonly credentialParts: CredentialParts | undefined;
  /** The card id (compact mode). */
  readonly cardId: string | undefined;
  /** The phone key id (compact mode). */
  readonly holderKid: Uint8Array | undefined;
  /** The phone's time when the code was made, unix seconds. */
  readonly t: number;
  /** 4 random bytes. */
  readonly nonce: Uint8Array;
  /** Scene hint (spec §5), if any. */
  readonly scene: number | undefined;
}

/** The three signed parts of a credential, as a full-mode code carries them (spec §5.1). */
export interface CredentialParts {
  readonly protectedBytes: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

/** A presentation decoded without verification. */
export interface DecodedPresentation extends PresentationFields {
  /** The COSE_Sign1 envelope. */
  readonly sign1: Sign1;
}

/** Options of {@link createPresentation}. */
export interface CreatePresentationOptions {
  /** The credential bytes, as issued. */
  credential: Uint8Array;
  /** The phone's clock, unix seconds. */
  t: number;
  /**
   * Scene hint, optional: an integer 0 – 255 (spec §5: 0 other, 1 access, 2 payment, 3 check-in,
   * 4 library, 5 dorm).
   */
  scene?: number;
  /** 4 bytes of nonce; default fresh randomness (set it only for test vectors). */
  nonce?: Uint8Array;
}

/** Options of {@link createCompactPresentation}. */
export interface CreateCompactPresentationOptions {
  /** The card id. */
  cardId: string;
  /** The phone's clock, unix seconds. */
  t: number;
  /**
   * Scene hint, optional: an integer 0 – 255 (spec §5: 0 other, 1 access, 2 payment, 3 check-in,
   * 4 library, 5 dorm).
   */
  scene?: number;
  /** 4 bytes of nonce; default fresh randomness. */
  nonce?: Uint8Array;
}

/** The size limit {@link createPresentation} and {@link createCompactPresentation} write within. */
const PRESENTATION_WRITE_LIMIT = { maxBytes: PRESENTATION_LIMITS.maxBytes, what: 'presentation' };

function checkCommon(t: number, nonce: Uint8Array, scene: number | undefined): void {
  if (!Number.isSafeInteger(t) || t < 0) throw new RangeError('t must be unix seconds');
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES)
    throw new RangeError('nonce must be 4 bytes');
  if (scene !== undefined && (!Number.isInteger(scene) || scene < 0 || scene > 255))
    throw new RangeError('bad scene');
}

/**
 * Creates a full-mode presentation (holder side), offline, signed by the phone key whose public
 * half is in the credential.
 *
 * @example
 * ```ts
 * const bytes = await createPresentation({ credential, t: Math.floor(Date.now() / 1000) }, phone.privateKey);
 * const qr = encodeQr(bytes);
 * ```
 */
export async function createPresentation(
  options: CreatePresentationOptions,
  holderKey: PrivateKey | Signer,
): Promise<Uint8Array> {
  assertBytes(options.credential);
  const nonce = options.nonce ?? randomBytes(NONCE_BYTES);
  checkCommon(options.t, nonce, options.scene);
  // the credential travels as its protected header, payload and signature; its unprotected
  // header is always empty and is left out (spec §5.1)
  const credential = decodeSign1(options.credential, CREDENTIAL_LIMITS, 'credential', true);
  const fields: CborValue[] = [
    credential.protectedBytes,
    credential.payload,
    credential.signature,
    options.t,
    nonce,
  ];
  if (options.scene !== undefined) fields.push(options.scene);
  const payload = encodeCbor(fields);
  // a credential near its own 600-byte limit can make a code over 680 bytes (spec §2.1)
  return signSign1(payload, holderKey, { header: 'alg', limit: PRESENTATION_WRITE_LIMIT });
}

/** Creates a compact-mode presentation (spec §5.2), for readers that hold the roster. */
export async function createCompactPresentation(
  options: CreateCompactPresentationOptions,
  holderKey: PrivateKey | Signer,
): Promise<Uint8Array> {
  const signer = toSigner(holderKey);
  const nonce = options.nonce ?? randomBytes(NONCE_BYTES);
  checkCommon(options.t, nonce, options.scene);
  if (typeof options.cardId !== 'string' || options.cardId.length === 0)
    throw new TypeError('cardId required');
  const fields: CborValue[] = [encodeCardId(options.cardId), signer.kid, options.t, nonce];
  if (options.scene !== undefined) fields.push(options.scene);
  const payload = encodeCbor(fields);
  // the rules and limits a reader applies (a card id of at most 64 characters: spec §2.1, §5.2)
  parsePresentationPayload(payload);
  return signSign1(payload, signer, { header: 'alg', limit: PRESENTATION_WRITE_LIMIT });
}

/** Decimal digits, the first not 0, at most 16 of them (2^53 − 1 has 16). */
const DECIMAL_NO_LEADING_ZERO = /^[1-9][0-9]{0,15}$/;

/**
 * Encodes a compact-mode card id (spec §5.2). A card id of decimal digits whose first digit is not
 * 0 and whose value is at most 2^53 − 1 (`"1"` to `"9007199254740991"`) is sent as that unsigned
 * integer; any other card id (`"0"`, `"007"`, `"9007199254740992"`, `"T-0042"`) as text. So every
 * card id has exactly one encoding, and {@link decodeCardId} refuses the other one.
 */
export function encodeCardId(cardId: string): string | number {
  // a 16-digit string of 2^53 or more becomes a Number of 2^53 or more (never rounds below it)
  return DECIMAL_NO_LEADING_ZERO.test(cardId) && Number(cardId) <= Number.MAX_SAFE_INTEGER
    ? Number(cardId)
    : cardId;
}

/** Reads a compact-mode card id, refusing the encoding {@link encodeCardId} would not write. */
function decodeCardId(v: CborValue | undefined): string {
  if (typeof v === 'number') {
    // at most 2^53 − 1: the CBOR scan refuses any larger integer
    if (uintField(v, 'presentation card id', S) === 0)
      throw structureError('presentation', 'card id "0" must be sent as text, not as the integer 0', S);
    return String(v);
  }
  const id = textField(v, 'presentation card id', S);
  if (encodeCardId(id) !== id) {
    throw structureError(
      'presentation',
      'a card id of decimal digits without a leading zero, at most 2^53 − 1, must be sent as an integer',
      S,
    );
  }
  return id;
}

/** Rebuilds the credential bytes from its parts: `[protected, {}, payload, signature]`. */
function rebuildCredential(
  protectedBytes: Uint8Array,
  payload: Uint8Array,
  signature: Uint8Array,
): Uint8Array {
  const ph = bstrHead(protectedBytes.length);
  const pl = bstrHead(payload.length);
  const out = new Uint8Array(1 + ph.length + protectedBytes.length + 1 + pl.length + payload.length + 2 + 64);
  let o = 0;
  out[o++] = 0x84;
  out.set(ph, o);
  o += ph.length;
  out.set(protectedBytes, o);
  o += protectedBytes.length;
  out[o++] = 0xa0;
  out.set(pl, o);
  o += pl.length;
  out.set(payload, o);
  o += payload.length;
  out[o++] = 0x58;
  out[o++] = 0x40;
  out.set(signature, o);
  return out;
}

/** Parses the payload of a presentation (no signature check). */
export function parsePresentationPayload(payload: Uint8Array): PresentationFields {
  return presentationFields(decodeCbor(payload, PRESENTATION_LIMITS, 'presentation payload'), undefined);
}

/**
 * A full-mode presentation. A class, so that the lazy `credential` getter lives on the prototype
 * (no closure per scan); `sign1` is absent for {@link parsePresentationPayload}.
 */
class FullPresentation implements PresentationFields {
  declare readonly sign1: Sign1;
  readonly mode = 'full' as const;
  readonly cardId = undefined;
  readonly holderKid = undefined;
  #credential: Uint8Array | undefined;

  constructor(
    readonly credentialParts: CredentialParts,
    readonly t: number,
    readonly nonce: Uint8Array,
    readonly scene: number | undefined,
    sign1: Sign1 | undefined,
  ) {
    if (sign1 !== undefined) (this as { sign1: Sign1 }).sign1 = sign1;
  }

  /** The credential bytes, rebuilt from its parts on first access. */
  get credential(): Uint8Array {
    const { protectedBytes, payload, signature } = this.credentialParts;
    this.#credential ??= rebuildCredential(protectedBytes, payload, signature);
    return this.#credential;
  }
}

/**
 * The fields of a decoded presentation payload; with `sign1`, a {@link DecodedPresentation}
 * (`sign1` last, as before), built in one object literal.
 */
function presentationFields(decoded: CborValue, sign1: Sign1 | undefined): DecodedPresentation {
  const arr = arrayField(decoded, 'presentation', S, 4);
  const first = arr[0];
  if (first instanceof Uint8Array) {
    if (arr.length > 6 || arr.length < 5)
      throw structureError('presentation', 'full mode has 5 or 6 elements', S);
    const parts: CredentialParts = {
      protectedBytes: first,
      payload: bytesField(arr[1], 'presentation credential payload', S),
      signature: bytesField(arr[2], 'presentation credential signature', S, 64),
    };
    // the credential a reader rebuilds, [protected, {}, payload, signature], within its limit
    const length = sign1Length(first.length, parts.payload.length);
    if (length > CREDENTIAL_LIMITS.maxBytes) {
      throw new CampusCardError(
        'ERR_INPUT_TOO_LARGE',
        `credential is ${length} bytes; the limit is ${CREDENTIAL_LIMITS.maxBytes}`,
        { section: '2.1' },
      );
    }
    const t = uintField(arr[3], 'presentation t', S);
    const nonce = bytesField(arr[4], 'presentation nonce', S, NONCE_BYTES);
    const scene = arr.length === 6 ? uintField(arr[5], 'presentation scene', S, 255) : undefined;
    return new FullPresentation(parts, t, nonce, scene, sign1);
  }
  if (typeof first === 'string' || typeof first === 'number') {
    if (arr.length > 5) throw structureError('presentation', 'compact mode has 4 or 5 elements', S);
    const fields: PresentationFields = {
      mode: 'compact',
      credential: undefined,
      credentialParts: undefined,
      cardId: decodeCardId(first),
      holderKid: bytesField(arr[1], 'presentation kid', S, 8),
      t: uintField(arr[2], 'presentation t', S),
      nonce: bytesField(arr[3], 'presentation nonce', S, NONCE_BYTES),
      scene: arr.length === 5 ? uintField(arr[4], 'presentation scene', S, 255) : undefined,
    };
    return (sign1 === undefined ? fields : Object.assign(fields, { sign1 })) as DecodedPresentation;
  }
  throw structureError('presentation', 'first element must be a credential header or a card id', S);
}

/**
 * Decodes a presentation without verifying it (diagnostics, and step 1 of verification).
 *
 * The byte strings it returns (`nonce`, the credential's parts, …) are views into one copy of
 * `bytes`, which may share its `ArrayBuffer` with other small buffers of this library (as Node's
 * `Buffer` pool does): read them through their `byteOffset` and `length`, and `slice()` one before
 * transferring its buffer to a worker.
 */
export function decodePresentation(bytes: Uint8Array): DecodedPresentation {
  assertBytes(bytes);
  // one copy of the caller's bytes (after the size check: too large is refused uncopied);
  // everything decoded is a view into it
  if (bytes.length > PRESENTATION_LIMITS.maxBytes) return decodePresentationOwned(bytes); // throws
  const copy = allocSlab(bytes.length);
  copy.set(bytes);
  return decodePresentationOwned(copy);
}

/**
 * {@link decodePresentation} of bytes the caller owns (no copy: every byte string decoded is a
 * view into `bytes`). Internal: the verification fast path.
 */
export function decodePresentationOwned(bytes: Uint8Array): DecodedPresentation {
  return readPresentation(bytes) ?? decodePresentationGeneric(bytes);
}

/**
 * The general decoder behind {@link decodePresentationOwned}: a full deterministic-CBOR scan, then
 * the structure checks, each failure with its precise error. Internal; exported for the tests
 * that hold {@link readPresentation} to it.
 */
export function decodePresentationGeneric(bytes: Uint8Array): DecodedPresentation {
  const sign1 = decodeSign1(
    decodeCborOwned(bytes, PRESENTATION_LIMITS, 'presentation'),
    PRESENTATION_LIMITS,
    'presentation',
    false,
  );
  // the payload is a view into `bytes`, already owned: decode it without another copy
  return presentationFields(
    decodeCborOwned(sign1.payload, PRESENTATION_LIMITS, 'presentation payload'),
    sign1,
  );
}

/**
 * The scan-time fast path of {@link decodePresentationOwned}: reads the fields of a presentation
 * laid out exactly as `createPresentation` / `createCompactPresentation` write them (every head in
 * shortest form, protected header `{1: -7}` or `{1: -8}`, empty unprotected header, integer card
 * id from 1 to 2^32 − 1 in compact mode), straight from the bytes, without building generic CBOR
 * values.
 *
 * It accepts a subset of what {@link decodePresentationGeneric} accepts and returns the same
 * result for it; on anything else, well-formed or not, it returns `undefined` and the general
 * decoder runs, so every error keeps its code and its order.
 */
export function readPresentation(b: Uint8Array): DecodedPresentation | undefined {
  const n = b.length;
  // COSE_Sign1 [h'A10126' or h'A10127', {}, payload, 64-byte signature]
  if (n > PRESENTATION_LIMITS.maxBytes || n < 80) return undefined;
  if (b[0] !== 0x84 || b[1] !== 0x43 || b[2] !== 0xa1 || b[3] !== 0x01 || b[5] !== 0xa0) return undefined;
  const algByte = b[4];
  const alg = algByte === 0x26 ? 'ES256' : algByte === 0x27 ? 'EdDSA' : undefined;
  if (alg === undefined) return undefined;
  const payloadLength = readHead(b, 6, n, 2);
  if (payloadLength < 0) return undefined;
  const ps = headEnd;
  const pe = ps + payloadLength;
  if (pe + 66 !== n || b[pe] !== 0x58 || b[pe + 1] !== 0x40) return undefined;

  // the payload: [cred protected, cred payload, cred signature, t, nonce, ?scene] or
  // [card id, phone kid, t, nonce, ?scene]
  const count = b[ps] as number;
  let p = ps + 1;
  let credentialAt: [number, number, number, number, number] | undefined;
  let cardId: string | undefined;
  let kidAt = -1;
  let optional: boolean;
  const firstMajor = (b[p] as number) >> 5;
  if ((count === 0x85 || count === 0x86) && firstMajor === 2) {
    const ph = readHead(b, p, pe, 2);
    if (ph < 0) return undefined;
    const phStart = headEnd;
    const pl = readHead(b, phStart + ph, pe, 2);
    if (pl < 0) return undefined;
    const plStart = headEnd;
    p = plStart + pl;
    if (p + 66 > pe || b[p] !== 0x58 || b[p + 1] !== 0x40) return undefined;
    // a credential too large to be one is the general decoder's error to report
    if (sign1Length(ph, pl) > CREDENTIAL_LIMITS.maxBytes) return undefined;
    credentialAt = [phStart, phStart + ph, plStart, plStart + pl, p + 2];
    p += 66;
    optional = count === 0x86;
  } else if ((count === 0x84 || count === 0x85) && firstMajor === 0) {
    const id = readHead(b, p, pe, 0);
    // -1: not a short unsigned integer; 0: refused (card id "0" is text), by the general decoder
    if (id < 1 || headEnd + 9 > pe || b[headEnd] !== 0x48) return undefined;
    cardId = String(id);
    kidAt = headEnd + 1;
    p = headEnd + 9;
    optional = count === 0x85;
  } else {
    return undefined;
  }
  const t = readHead(b, p, pe, 0);
  if (t < 0) return undefined;
  p = headEnd;
  if (p + 5 > pe || b[p] !== 0x44) return undefined;
  const nonceAt = p + 1;
  p += 5;
  let scene: number | undefined;
  if (optional) {
    scene = readHead(b, p, pe, 0);
    if (scene < 0 || scene > 255) return undefined;
    p = headEnd;
  }
  if (p !== pe) return undefined;

  return new ReadPresentation(b, alg, ps, pe, t, nonceAt, scene, cardId, kidAt, credentialAt);
}

/**
 * A presentation read by {@link readPresentation}: numbers and offsets read from its bytes, and
 * byte-string fields made into views only when first asked for. A scan needs the nonce and the
 * holder signature as views; the credential's header and payload it hashes and compares in place
 * (see the methods below), which spares the six other views a scan would otherwise allocate.
 * Internal: it is handed out as a {@link DecodedPresentation}.
 */
export class ReadPresentation implements DecodedPresentation {
  readonly mode: 'full' | 'compact';
  readonly holderKid: Uint8Array | undefined;
  #nonce: Uint8Array | undefined;
  #sign1: Sign1 | undefined;
  #parts: CredentialParts | undefined;
  #credential: Uint8Array | undefined;

  /**
   * @param bytes - the COSE_Sign1 bytes (owned).
   * @param credentialAt - full mode: offsets `[header start, header end, payload start, payload
   *   end, signature start]` of the credential's parts; compact mode: undefined.
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly alg: Alg,
    readonly payloadStart: number,
    readonly payloadEnd: number,
    readonly t: number,
    readonly nonceAt: number,
    readonly scene: number | undefined,
    readonly cardId: string | undefined,
    kidAt: number,
    readonly credentialAt: readonly [number, number, number, number, number] | undefined,
  ) {
    this.mode = credentialAt === undefined ? 'compact' : 'full';
    this.holderKid = credentialAt === undefined ? bytes.subarray(kidAt, kidAt + 8) : undefined;
  }

  get nonce(): Uint8Array {
    this.#nonce ??= this.bytes.subarray(this.nonceAt, this.nonceAt + NONCE_BYTES);
    return this.#nonce;
  }

  /** The holder's 64-byte signature (the last 64 bytes). */
  get signature(): Uint8Array {
    return this.#sign1?.signature ?? this.bytes.subarray(this.bytes.length - 64);
  }

  get sign1(): Sign1 {
    const b = this.bytes;
    this.#sign1 ??= {
      protectedBytes: b.subarray(2, 5),
      alg: this.alg,
      kid: undefined,
      payload: b.subarray(this.payloadStart, this.payloadEnd),
      signature: b.subarray(b.length - 64),
    };
    return this.#sign1;
  }

  get credentialParts(): CredentialParts | undefined {
    const at = this.credentialAt;
    if (at === undefined) return undefined;
    const b = this.bytes;
    this.#parts ??= {
      protectedBytes: b.subarray(at[0], at[1]),
      payload: b.subarray(at[2], at[3]),
      signature: b.subarray(at[4], at[4] + 64),
    };
    return this.#parts;
  }

  get credential(): Uint8Array | undefined {
    const parts = this.credentialParts;
    if (parts === undefined) return undefined;
    this.#credential ??= rebuildCredential(parts.protectedBytes, parts.payload, parts.signature);
    return this.#credential;
  }

  /**
   * The holder signature's to-be-signed bytes, built in the {@link SIGN1_HEADROOM} spare bytes in
   * front of these bytes in `buf` (see `sign1ToBeSignedInPlace`); `undefined` when `buf` is not
   * that buffer.
   */
  toBeSignedIn(buf: Uint8Array): Uint8Array | undefined {
    const b = this.bytes;
    if (buf.buffer !== b.buffer || b.byteOffset - buf.byteOffset !== SIGN1_HEADROOM) return undefined;
    // the empty unprotected map is byte 5 (after 84 43 a1 01 2x)
    return toBeSignedAt(buf, SIGN1_HEADROOM + 5, SIGN1_HEADROOM + this.payloadEnd);
  }
}
