/**
 * Internal byte helpers of the HTTP layer: the shared ones of `lib/bytes`, plus UTF-8. Not
 * exported from `@campus-card/core/http`.
 *
 * @internal
 * @module
 */
export {
  bytesEqual as equalBytes,
  fromBase64,
  fromBase64Lenient,
  fromBase64Url,
  toBase64,
  toBase64Url,
} from '../lib/bytes.js';

const encoder = new TextEncoder();

/** UTF-8 encodes a string. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}
