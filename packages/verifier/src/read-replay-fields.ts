/**
 * The signed fields a code is recorded under in the replay window, read without verification.
 *
 * @module
 */
import { CampusCardError, decodePresentation, decodeQr, parseCredentialClaims } from '@campus-card/core';

/** The fields of a code that key its replay entry (see `replayDigest`). */
export interface ReplayFields {
  /** The phone key id: the credential's holder key (full mode) or the code's (compact mode). */
  readonly holderKid: Uint8Array;
  readonly cardId: string;
  /** The phone's time when the code was made, unix seconds. */
  readonly t: number;
  readonly nonce: Uint8Array;
}

/**
 * Reads the replay fields of a QR text or presentation bytes, checking no signature: for a code
 * another authority has verified (the platform, online). Nothing read here may be trusted for a
 * decision; it only names the code.
 *
 * @throws `CampusCardError` for a code that does not decode (its `code` maps to `BAD_FORMAT`).
 */
export function readReplayFields(input: string | Uint8Array): ReplayFields {
  const p = decodePresentation(typeof input === 'string' ? decodeQr(input) : input);
  if (p.mode === 'compact') {
    if (p.cardId === undefined || p.holderKid === undefined) {
      throw new CampusCardError('ERR_STRUCTURE', 'compact code without card id or phone key id');
    }
    return { holderKid: p.holderKid, cardId: p.cardId, t: p.t, nonce: p.nonce };
  }
  if (p.credentialParts === undefined)
    throw new CampusCardError('ERR_STRUCTURE', 'full code without credential');
  const claims = parseCredentialClaims(p.credentialParts.payload);
  return { holderKid: claims.holderKey.kid, cardId: claims.cardId, t: p.t, nonce: p.nonce };
}
