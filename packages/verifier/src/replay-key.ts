/**
 * The replay key of a code (spec §7.3): a 16-byte digest of its signed fields.
 *
 * @module
 */
/**
 * The 16-byte replay key of a code (spec §7.3), from its signed fields only, never from
 * signature bytes: `(phone kid ⊕ h64(card id)) ‖ t mod 2^32 ‖ nonce`.
 *
 * Cheap by design (it runs on every scan) and still collision-free where it matters: `t` and the
 * nonce are kept exactly, and the kid is a truncated SHA-256 of the phone's key that nobody can
 * steer. Two codes share a key only if they share the phone key, the time and the nonce, and
 * their card ids hash alike — codes only that phone could sign.
 *
 * @param holderKid - The 8-byte phone key id.
 * @param cardId - The card id.
 * @param t - The code's time, unix seconds.
 * @param nonce - The code's 4-byte nonce.
 * @param out - Where to write the 16 bytes. Default: a new array.
 */
export function replayDigest(
  holderKid: Uint8Array,
  cardId: string,
  t: number,
  nonce: Uint8Array,
  out: Uint8Array = new Uint8Array(16),
): Uint8Array {
  // two 32-bit FNV-1a hashes of the card id's UTF-16 code units (seeds 0x811c9dc5 and 0x9e3779b9),
  // in one pass
  let h1 = 0x811c9dc5;
  let h2 = 0x9e3779b9;
  for (let i = 0; i < cardId.length; i++) {
    const c = cardId.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x01000193);
  }
  for (let i = 0; i < 4; i++) {
    out[i] = (holderKid[i] ?? 0) ^ ((h1 >>> (i * 8)) & 0xff);
    out[i + 4] = (holderKid[i + 4] ?? 0) ^ ((h2 >>> (i * 8)) & 0xff);
  }
  const tt = t >>> 0;
  out[8] = tt >>> 24;
  out[9] = (tt >>> 16) & 0xff;
  out[10] = (tt >>> 8) & 0xff;
  out[11] = tt & 0xff;
  for (let i = 0; i < 4; i++) out[12 + i] = nonce[i] ?? 0;
  return out;
}
