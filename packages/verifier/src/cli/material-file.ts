/**
 * Material files: the signed bytes of a trust list, status list or roster, raw, as hex text, or a
 * gate client's stored copy.
 *
 * @module
 */
import { fromBase64Url, fromHex } from '@campus-card/core';
import { MaterialFileError } from './errors.js';

/** A material file read: its label in messages (`--trust-list tl.bin`), path and signed bytes. */
export interface MaterialFile {
  readonly label: string;
  readonly path: string;
  readonly bytes: Uint8Array;
}

/**
 * The signed bytes of a material file: hex text (ASCII whitespace and line breaks ignored, as
 * `xxd -p` writes it), a gate client's stored copy (`material/*.json`: a JSON object whose `bytes`
 * is base64url), or raw bytes.
 *
 * @throws {@link MaterialFileError} for hex text with an odd number of digits, or a JSON object
 * whose `bytes` is not base64url.
 */
export function material(bytes: Uint8Array, what: string): Uint8Array {
  const stored = storedCopy(bytes);
  if (stored !== undefined) {
    const decoded = fromBase64Url(stored);
    if (decoded === undefined) throw new MaterialFileError(`${what}: its "bytes" is not base64url`);
    return decoded;
  }
  const text = new TextDecoder().decode(bytes).replace(/[ \t\r\n\f\v]+/g, '');
  if (!/^[0-9a-fA-F]+$/.test(text)) return bytes;
  const decoded = fromHex(text);
  if (decoded === undefined) {
    throw new MaterialFileError(`${what} is hex text with an odd number of digits (${text.length})`);
  }
  return decoded;
}

/** The `bytes` of a JSON object holding a stored copy (a gate client's `material/*.json`). */
function storedCopy(bytes: Uint8Array): string | undefined {
  if (bytes[0] !== 0x7b) return undefined; // '{'; a signed COSE_Sign1 starts with 0x84 or 0xd2
  try {
    const v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as unknown;
    const b = (v as { bytes?: unknown } | null)?.bytes;
    return typeof b === 'string' ? b : undefined;
  } catch {
    return undefined;
  }
}
