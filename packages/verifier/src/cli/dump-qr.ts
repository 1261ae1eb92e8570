/**
 * The unverified dump of a QR text that `campus-card-verify` prints.
 *
 * @module
 */
import { decodeCredential, decodePresentation, decodeQr, isCampusCardError, toHex } from '@campus-card/core';

/**
 * The dump's `hint` when the text after `CC1:` is no Base45 or carries no bytes: what a shell does
 * to a code in double quotes, the likeliest cause at a command line.
 */
const SHELL_QUOTE_HINT =
  'a shell expands "$…" inside double quotes, and Base45 text has "$": a code given as "CC1:…" ' +
  "loses characters; quote it in single quotes, campus-card-verify 'CC1:…'";

/**
 * Builds the unverified dump of a QR text. A text that does not decode has an `error` (a core error
 * as `{ code, message }`); when its Base45 does not decode it also has a `hint`
 * ({@link SHELL_QUOTE_HINT}).
 */
export function dumpQr(text: string): Record<string, unknown> {
  const dump: Record<string, unknown> = { textChars: text.length };
  let bytes: Uint8Array;
  try {
    bytes = decodeQr(text);
  } catch (error) {
    dump.error = isCampusCardError(error) ? { code: error.code, message: error.message } : String(error);
    // the prefix, the type and the length are checked first: a Base45 error (or no bytes at all)
    // means the text after CC1: is not what the code showed
    if (isCampusCardError(error) && (error.code === 'ERR_QR_BASE45' || error.code === 'ERR_CBOR_MALFORMED')) {
      dump.hint = SHELL_QUOTE_HINT;
    }
    return dump;
  }
  try {
    dump.presentationBytes = bytes.length;
    const p = decodePresentation(bytes);
    dump.mode = p.mode;
    dump.header = { alg: p.sign1.alg };
    dump.t = p.t;
    dump.nonce = toHex(p.nonce);
    dump.scene = p.scene ?? null;
    if (p.mode === 'compact') {
      dump.cardId = p.cardId;
      dump.holderKid = toHex(p.holderKid as Uint8Array);
    } else {
      const c = decodeCredential(p.credential as Uint8Array);
      dump.credentialBytes = (p.credential as Uint8Array).length;
      dump.credentialHeader = { alg: c.sign1.alg, kid: c.sign1.kid ? toHex(c.sign1.kid) : null };
      const { holderKey, school, physicalCard, ...claims } = c.claims;
      dump.claimsUnverified = {
        school: school ?? null,
        ...(school === undefined
          ? { schoolNote: 'not in the credential: a reader takes it from the trust list (spec §4.1)' }
          : {}),
        ...claims,
        physicalCard: physicalCard ?? null,
        holderKey: { alg: holderKey.alg, kid: toHex(holderKey.kid) },
      };
    }
  } catch (error) {
    dump.error = isCampusCardError(error) ? { code: error.code, message: error.message } : String(error);
  }
  return dump;
}
