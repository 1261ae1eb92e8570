/**
 * Field readers for decoded CBOR maps: each throws `ERR_STRUCTURE` naming the field. Internal.
 *
 * @module
 */
import { CampusCardError } from '../errors.js';
import type { CborMap, CborValue } from './cbor.js';

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

/** Reads a text string of 1..maxLength characters. */
export function textField(v: CborValue | undefined, what: string, section: string, maxLength = 64): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw structureError(what, `expected a text string of 1 to ${maxLength} characters`, section);
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
