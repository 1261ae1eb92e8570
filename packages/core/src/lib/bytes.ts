/**
 * Byte helpers: base64 (standard and url), hex, equality, concatenation, scan slabs. Internal.
 *
 * @module
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
// Standard base64 (RFC 4648 §4), for HTTP structured fields (RFC 8941 byte sequences).
const B64_STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Character code → 6-bit value (or -1) of an alphabet's 64 characters (ASCII only). */
function codesOf(alphabet: string): Int8Array {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}
const B64_CODES = codesOf(B64);
const B64_STD_CODES = codesOf(B64_STD);

/** Base64 of `bytes` in `alphabet`, with `=` padding when `pad`. */
function encode64(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      (alphabet[n >> 18] as string) +
      (alphabet[(n >> 12) & 63] as string) +
      (alphabet[(n >> 6) & 63] as string) +
      (alphabet[n & 63] as string);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] as number) << 16;
    out += (alphabet[n >> 18] as string) + (alphabet[(n >> 12) & 63] as string) + (pad ? '==' : '');
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out +=
      (alphabet[n >> 18] as string) +
      (alphabet[(n >> 12) & 63] as string) +
      (alphabet[(n >> 6) & 63] as string) +
      (pad ? '=' : '');
  }
  return out;
}

/**
 * Decodes unpadded base64 text with an alphabet's `codes`; `undefined` on any invalid character or
 * length. Non-zero pad bits (the unused low bits of the last character) are refused unless
 * `ignorePadBits`.
 */
function decode64(text: string, codes: Int8Array, ignorePadBits = false): Uint8Array | undefined {
  if (text.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? (codes[c] as number) : -1;
    if (v < 0) return undefined;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // non-canonical trailing bits are refused, unless asked to ignore them
  if (!ignorePadBits && (acc & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

/** Encodes bytes as unpadded base64url (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  return encode64(bytes, B64, false);
}

/** Decodes unpadded base64url; returns `undefined` on any invalid character or length. */
export function fromBase64Url(text: string): Uint8Array | undefined {
  if (typeof text !== 'string') return undefined;
  return decode64(text, B64_CODES);
}

/** Encodes bytes as standard base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Uint8Array): string {
  return encode64(bytes, B64_STD, true);
}

/** Strictly decodes padded standard base64; returns `undefined` on any deviation. */
export function fromBase64(input: string): Uint8Array | undefined {
  if (typeof input !== 'string' || input.length % 4 !== 0) return undefined;
  return decode64(stripPadding(input), B64_STD_CODES);
}

/**
 * Decodes standard base64 as RFC 8941 §4.2.7 asks of byte sequences: `=` padding may be absent,
 * and non-zero pad bits are ignored (`iZ==` is the byte `0x89`, like `iQ==`). This is WHATWG
 * forgiving-base64 (`atob`) without its whitespace removal: padding is either complete or absent.
 * Still `undefined` for a character outside `A–Z a–z 0–9 + /`, an `=` anywhere but as the complete
 * padding (`YQ=`, `YQ===`, `Y=Q=`), or a length no base64 has (4n + 1 characters once unpadded).
 */
export function fromBase64Lenient(input: string): Uint8Array | undefined {
  if (typeof input !== 'string') return undefined;
  return decode64(input.length % 4 === 0 ? stripPadding(input) : input, B64_STD_CODES, true);
}

/** `input` without its trailing `==` or `=`; any other `=` is left for the decoder to refuse. */
function stripPadding(input: string): string {
  return input.endsWith('==') ? input.slice(0, -2) : input.endsWith('=') ? input.slice(0, -1) : input;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] as number];
  return s;
}

/** Parses hex (even length, 0-9a-fA-F); returns `undefined` when invalid. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (typeof hex !== 'string' || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Constant-length equality of two byte arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number);
  return d === 0;
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Size of the slabs {@link allocSlab} carves small buffers from. */
const SLAB_BYTES = 8192;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/**
 * A new zero-filled `Uint8Array` of `n` bytes. Small ones are carved out of a shared 8 KiB slab
 * (like Node's Buffer pool) instead of each getting its own backing store, which costs a malloc and
 * GC work per scan. Each region is handed out once and never reused, so buffers never alias; a
 * slab lives as long as any view into it (so `.buffer` is the whole slab: use `byteOffset`). A slab
 * a caller detached (by transferring its buffer) is replaced, never written through.
 */
export function allocSlab(n: number): Uint8Array {
  if (n > SLAB_BYTES >> 3) return new Uint8Array(n);
  // (a slab whose buffer a caller transferred, to a worker say, is detached: length 0)
  if (slabUsed + n > SLAB_BYTES || slab.byteLength === 0) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = new Uint8Array(slab, slabUsed, n);
  slabUsed += (n + 7) & ~7;
  return out;
}
