/**
 * Base45 (RFC 9285): the QR alphanumeric-friendly text encoding of bytes.
 *
 * @module
 */
import { CampusCardError } from './errors.js';
import { allocSlab } from './lib/bytes.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:';
// one entry per UTF-16 code unit, so a lookup never goes out of bounds (only the first 128 are hot)
const CODES = new Int8Array(65_536).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) CODES[ALPHABET.charCodeAt(i)] = i;
const CHAR_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));
// every Base45 character is ASCII, so a byte-per-character decode builds the string in one go
const latin1 = new TextDecoder('latin1');
/**
 * Where {@link encodeBase45} writes the characters before they become a string: one buffer for the
 * module, since the string is made before the function returns (nothing else can run in between).
 * A typed array of its own each call cost a backing-store allocation, a third of a QR encode.
 * Fixed: 1 536 characters cover any QR code (inputs up to 1 024 bytes); a longer input gets a
 * buffer of its own, so one large encode does not keep its size in memory for good.
 */
const scratch = new Uint8Array(1536);

/**
 * Encodes bytes as Base45 (RFC 9285 §4).
 *
 * @param bytes - The bytes to encode.
 * @returns Base45 text, `ceil(3 * length / 2)` characters long.
 * @example
 * ```ts
 * encodeBase45(new TextEncoder().encode('AB')); // "BB8"
 * ```
 */
export function encodeBase45(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('encodeBase45: expected a Uint8Array');
  const n = bytes.length;
  const length = Math.floor(n / 2) * 3 + (n % 2 === 1 ? 2 : 0);
  const out = length <= scratch.length ? scratch : new Uint8Array(length);
  let o = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    let x = (bytes[i] as number) * 256 + (bytes[i + 1] as number);
    const c = x % 45;
    x = (x - c) / 45;
    const d = x % 45;
    out[o++] = CHAR_CODES[c] as number;
    out[o++] = CHAR_CODES[d] as number;
    out[o++] = CHAR_CODES[(x - d) / 45] as number;
  }
  if (i < n) {
    const x = bytes[i] as number;
    const c = x % 45;
    out[o++] = CHAR_CODES[c] as number;
    out[o++] = CHAR_CODES[(x - c) / 45] as number;
  }
  return latin1.decode(out.subarray(0, length));
}

/**
 * Decodes Base45 text (RFC 9285 §4). Strict: only the 45 characters of the alphabet, no
 * dangling single character, no triplet above 65 535 and no pair above 255.
 *
 * @throws {@link CampusCardError} `ERR_QR_BASE45` on any invalid input.
 */
export function decodeBase45(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('decodeBase45: expected a string');
  return decodeBase45At(text, 0, 0);
}

/**
 * Decodes the Base45 text `text.slice(from)` into a new buffer with `headroom` spare bytes in
 * front (the decoded bytes start at `headroom`; with headroom, carved from a slab, see allocSlab). Errors
 * report offsets relative to `from`. Internal: `text` must be a string.
 */
export function decodeBase45At(text: string, from: number, headroom: number): Uint8Array {
  const n = text.length - from;
  if (n % 3 === 1)
    throw new CampusCardError('ERR_QR_BASE45', 'Base45 text has a dangling character', { section: '8' });
  const size = headroom + Math.floor(n / 3) * 2 + (n % 3 === 2 ? 1 : 0);
  // what decodeBase45 / decodeQr hand out owns its buffer; the verifier's internal buffers share slabs
  const out = headroom === 0 ? new Uint8Array(size) : allocSlab(size);
  let o = headroom;
  let i = from;
  const last = text.length;
  for (; i + 2 < last; i += 3) {
    const c = CODES[text.charCodeAt(i)] as number;
    const d = CODES[text.charCodeAt(i + 1)] as number;
    const e = CODES[text.charCodeAt(i + 2)] as number;
    if ((c | d | e) < 0) throw invalidAt(text, i, from);
    const x = c + d * 45 + e * 2025;
    if (x > 0xffff)
      throw new CampusCardError('ERR_QR_BASE45', `Base45 triplet at ${i - from} exceeds 65535`, {
        section: '8',
      });
    out[o++] = x >> 8;
    out[o++] = x & 0xff;
  }
  if (i < last) {
    const c = CODES[text.charCodeAt(i)] as number;
    const d = CODES[text.charCodeAt(i + 1)] as number;
    if ((c | d) < 0) throw invalidAt(text, i, from);
    const x = c + d * 45;
    if (x > 0xff)
      throw new CampusCardError('ERR_QR_BASE45', `Base45 pair at ${i - from} exceeds 255`, { section: '8' });
    out[o] = x;
  }
  return out;
}

function invalidAt(text: string, pos: number, from: number): CampusCardError {
  let at = pos;
  while (at < text.length && (CODES[text.charCodeAt(at)] as number) >= 0) at++;
  return new CampusCardError('ERR_QR_BASE45', `invalid Base45 character at ${at - from}`, { section: '8' });
}
