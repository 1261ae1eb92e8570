/**
 * Field readers for decoded CBOR maps: each throws `ERR_STRUCTURE` naming the field. Internal.
 *
 * @module
 */
import { CampusCardError } from '../errors.js';
import type { CborMap, CborValue } from './cbor.js';
import { MAX_TEXT_CHARS } from './limits.js';

/** Throws `ERR_STRUCTURE`. */
export function structureError(what: string, detail: string, section: string): CampusCardError {
  return new CampusCardError('ERR_STRUCTURE', `${what}: ${detail}`, { section });
}

/** Reads a map or throws. */
export function asMap(value: unknown, what: string, section: string): CborMap {
  if (!(value instanceof Map)) throw structureError(what, 'expected a map', section);
  return value as CborMap;
}

/** Checks that a map holds only the given keys. */
export function onlyKeys(
  map: CborMap,
  allowed: ReadonlyArray<number | string>,
  what: string,
  section: string,
): void {
  for (const k of map.keys()) {
    if (!allowed.includes(k)) throw structureError(what, `unknown key ${JSON.stringify(k)}`, section);
  }
}

/** Reads a non-negative safe integer. */
export function uintField(
  v: CborValue | undefined,
  what: string,
  section: string,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw structureError(
      what,
      `expected an unsigned integer${max < Number.MAX_SAFE_INTEGER ? ` ≤ ${max}` : ''}`,
      section,
    );
  }
  return v;
}

/**
 * The number of characters (Unicode code points) of `s`: its UTF-16 length less one for each
 * surrogate pair.
 */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/**
 * Reads a text string of 1 to {@link MAX_TEXT_CHARS} characters (spec §2.1), counted in Unicode
 * code points.
 */
export function textField(v: CborValue | undefined, what: string, section: string): string {
  // the UTF-16 length is at least the number of code points: count them only when it is over
  if (
    typeof v !== 'string' ||
    v.length === 0 ||
    (v.length > MAX_TEXT_CHARS && codePointLength(v) > MAX_TEXT_CHARS)
  ) {
    throw structureError(
      what,
      typeof v === 'string' && v.length > 0
        ? `a text string of ${codePointLength(v)} characters; the limit is ${MAX_TEXT_CHARS}`
        : `expected a text string of 1 to ${MAX_TEXT_CHARS} characters`,
      section,
    );
  }
  return v;
}

/** Reads a byte string of an exact length. */
export function bytesField(
  v: CborValue | undefined,
  what: string,
  section: string,
  length?: number,
): Uint8Array {
  if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length)) {
    throw structureError(
      what,
      `expected a byte string${length === undefined ? '' : ` of ${length} bytes`}`,
      section,
    );
  }
  return v;
}

/** Reads an array. */
export function arrayField(
  v: CborValue | undefined,
  what: string,
  section: string,
  minLength = 0,
): CborValue[] {
  if (!Array.isArray(v) || v.length < minLength)
    throw structureError(what, `expected an array of at least ${minLength}`, section);
  return v;
}

/** Reads an array of text strings. */
export function textArrayField(
  v: CborValue | undefined,
  what: string,
  section: string,
  minLength = 0,
): string[] {
  return arrayField(v, what, section, minLength).map((x, i) => textField(x, `${what}[${i}]`, section));
}
