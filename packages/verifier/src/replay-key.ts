/**
 * The replay key of a code (spec §7.3): a 16-byte digest of its signed fields.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';

const DOMAIN = new TextEncoder().encode('cc/replay/v1');
const encoder = new TextEncoder();

/**
 * Computes the 16-byte replay digest of a code: the first 16 bytes of SHA-256 over
 * `"cc/replay/v1" ‖ len(kid) ‖ kid ‖ len(cardId) ‖ cardId(UTF-8) ‖ t (8 bytes BE) ‖ len(nonce) ‖ nonce`,
 * lengths as 2-byte big-endian (for a 10-character card id it fits one SHA-256 block). Every field is signed by the phone; signature bytes are never
 * part of it (ECDSA malleability: a high-S twin of a used code has the same digest).
 *
 * @param holderKid - The phone key id (8 bytes).
 * @param cardId - The card id.
 * @param t - The code's time, unix seconds (a safe non-negative integer).
 * @param nonce - The code's nonce.
 */
export function replayDigest(
  holderKid: Uint8Array,
  cardId: string,
  t: number,
  nonce: Uint8Array,
): Uint8Array {
  const id = encoder.encode(cardId);
  const buf = new Uint8Array(DOMAIN.length + 2 + holderKid.length + 2 + id.length + 8 + 2 + nonce.length);
  const view = new DataView(buf.buffer);
  let o = 0;
  buf.set(DOMAIN, o);
  o += DOMAIN.length;
  view.setUint16(o, holderKid.length);
  buf.set(holderKid, o + 2);
  o += 2 + holderKid.length;
  view.setUint16(o, id.length);
  buf.set(id, o + 2);
  o += 2 + id.length;
  view.setUint32(o, Math.floor(t / 0x1_0000_0000));
  view.setUint32(o + 4, t >>> 0);
  o += 8;
  view.setUint16(o, nonce.length);
  buf.set(nonce, o + 2);
  return sha256(buf).subarray(0, 16);
}
