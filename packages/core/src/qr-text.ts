/**
 * QR text (spec §8): `CC1:` + Base45 of the presentation bytes, so a QR encoder uses
 * alphanumeric mode.
 *
 * @module
 */
import { decodeBase45At, encodeBase45 } from './base45.js';
import { CampusCardError } from './errors.js';
import { MAX_QR_CHARS, PRESENTATION_LIMITS } from './lib/limits.js';

/** The version prefix of QR texts of this format. */
export const QR_PREFIX = 'CC1:';

/**
 * Encodes presentation bytes as QR text.
 *
 * @example
 * ```ts
 * const text = encodeQr(presentation); // "CC1:…", feed it to any QR generator
 * ```
 */
export function encodeQr(presentation: Uint8Array): string {
  if (!(presentation instanceof Uint8Array)) throw new TypeError('encodeQr: expected a Uint8Array');
  if (presentation.length > PRESENTATION_LIMITS.maxBytes)
    throw new RangeError('presentation too large for a QR code');
  return QR_PREFIX + encodeBase45(presentation);
}

/**
 * Decodes QR text into presentation bytes. Strict: the prefix must be exactly `CC1:`, the rest
 * valid Base45, and the text at most 1 024 characters (checked first).
 *
 * @throws {@link CampusCardError} `ERR_INPUT_TYPE`, `ERR_INPUT_TOO_LARGE`, `ERR_QR_PREFIX`, `ERR_QR_BASE45`.
 */
export function decodeQr(text: string): Uint8Array {
  return decodeQrAt(text, 0);
}

/**
 * {@link decodeQr} into a new buffer with `headroom` spare bytes in front: the presentation
 * bytes start at `headroom`. Internal (the verification fast path).
 */
export function decodeQrAt(text: string, headroom: number): Uint8Array {
  if (typeof text !== 'string')
    throw new CampusCardError('ERR_INPUT_TYPE', 'QR text must be a string', { section: '8' });
  if (text.length > MAX_QR_CHARS) {
    throw new CampusCardError(
      'ERR_INPUT_TOO_LARGE',
      `QR text of ${text.length} characters; the limit is ${MAX_QR_CHARS}`,
      { section: '2.1' },
    );
  }
  if (!text.startsWith(QR_PREFIX))
    throw new CampusCardError('ERR_QR_PREFIX', 'QR text does not start with CC1:', { section: '8' });
  const bytes = decodeBase45At(text, QR_PREFIX.length, headroom);
  if (bytes.length === headroom)
    throw new CampusCardError('ERR_CBOR_MALFORMED', 'QR text carries no bytes', { section: '8' });
  return bytes;
}
