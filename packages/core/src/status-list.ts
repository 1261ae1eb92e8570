/**
 * Status list (spec §6.1): a school's signed bit string of card statuses, indexed by the
 * credential's status index, laid out as in the IETF Token Status List. Revocation and lost
 * cards (C5).
 *
 * @module
 */
import { decodeSign1, type Sign1, signSign1 } from './cose-sign1.js';
import { CampusCardError } from './errors.js';
import type { PrivateKey, Signer } from './keys.js';
import { cmap, decodeCbor, encodeCbor } from './lib/cbor.js';
import { asMap, bytesField, onlyKeys, textField, uintField } from './lib/fields.js';
import { STATUS_LIST_LIMITS } from './lib/limits.js';
import { assertBytes } from './trust-list.js';

const S = '6.1';

/** Status values (spec §6.1). Any non-zero value is rejected. */
export const CARD_STATUS = { valid: 0, revoked: 1, suspended: 2 } as const;

/** A decoded status list. */
export interface StatusList {
  readonly school: string;
  /** Monotonic version. */
  readonly version: number;
  /** Signing time, unix seconds. */
  readonly iat: number;
  /** Bits per card: 1, 2, 4 or 8. */
  readonly bits: 1 | 2 | 4 | 8;
  /** The bit string. */
  readonly lst: Uint8Array;
}

/** Input of {@link signStatusList}. */
export interface StatusListInput {
  school: string;
  version: number;
  iat: number;
  /** Bits per card. Default 2 (valid, revoked, suspended). */
  bits?: 1 | 2 | 4 | 8;
  /** One status value per index. */
  statuses: ArrayLike<number>;
}

/**
 * Packs status values into the bit string of spec §6.1 (value `i` at bit `i × bits`, least
 * significant bits first).
 *
 * @throws `RangeError` for a value that is not an integer or does not fit `bits`.
 * @example
 * ```ts
 * packStatuses([0, 1, 0, 2], 2); // Uint8Array [0b10000100]
 * ```
 */
export function packStatuses(statuses: ArrayLike<number>, bits: 1 | 2 | 4 | 8): Uint8Array {
  const out = new Uint8Array(Math.ceil((statuses.length * bits) / 8));
  const max = (1 << bits) - 1;
  for (let i = 0; i < statuses.length; i++) {
    const v = statuses[i] as number;
    if (!Number.isInteger(v) || v < 0 || v > max)
      throw new RangeError(`status ${v} at ${i} does not fit ${bits} bits`);
    const bit = i * bits;
    const at = Math.floor(bit / 8);
    out[at] = (out[at] as number) | (v << (bit % 8));
  }
  return out;
}

/**
 * Reads the status of `index`, or `undefined` if the index lies outside the list: not a safe
 * integer, negative, or at or past `lst.length × 8 / bits` entries. A caller treats `undefined` as a
 * denial (`ERR_STATUS_INDEX_OUT_OF_RANGE`), never as "valid".
 *
 * @param list - A decoded status list.
 * @param index - The credential's status index.
 * @returns The status value (0 valid, 1 revoked, 2 suspended, ...) or `undefined`.
 * @example
 * ```ts
 * getStatus(statusList, credential.statusIndex); // 0 → valid
 * ```
 */
export function getStatus(list: StatusList, index: number): number | undefined {
  // range-check before any bit arithmetic: a 32-bit shift of a large offset would wrap around
  if (!Number.isSafeInteger(index) || index < 0) return undefined;
  if (index >= Math.floor((list.lst.length * 8) / list.bits)) return undefined;
  const bit = index * list.bits;
  const byte = list.lst[Math.floor(bit / 8)];
  if (byte === undefined) return undefined;
  return (byte >> (bit % 8)) & ((1 << list.bits) - 1);
}

/** Signs a status list (issuer side) with a key whose trust-list entry allows status lists. */
export async function signStatusList(input: StatusListInput, key: PrivateKey | Signer): Promise<Uint8Array> {
  const bits = input.bits ?? 2;
  const payload = encodeCbor(
    cmap([
      [1, input.school],
      [2, input.version],
      [3, input.iat],
      [4, bits],
      [5, packStatuses(input.statuses, bits)],
    ]),
  );
  // the rules and limits a reader applies (spec §2.1, §6.1), before signing
  parseStatusListPayload(payload);
  return signSign1(payload, key, {
    header: 'alg+kid',
    limit: { maxBytes: STATUS_LIST_LIMITS.maxBytes, what: 'status list' },
  });
}

/** Parses a status list payload (no signature check). */
export function parseStatusListPayload(payload: Uint8Array): StatusList {
  const m = asMap(decodeCbor(payload, STATUS_LIST_LIMITS, 'status list payload'), 'status list', S);
  onlyKeys(m, [1, 2, 3, 4, 5], 'status list', S);
  const bits = uintField(m.get(4), 'status list bits', S, 8);
  if (bits !== 1 && bits !== 2 && bits !== 4 && bits !== 8) {
    throw new CampusCardError('ERR_STRUCTURE', 'status list: bits must be 1, 2, 4 or 8', { section: S });
  }
  return Object.freeze({
    school: textField(m.get(1), 'status list school', S),
    version: uintField(m.get(2), 'status list version', S),
    iat: uintField(m.get(3), 'status list iat', S),
    bits,
    lst: bytesField(m.get(5), 'status list lst', S),
  });
}

/** Decodes a status list without verifying it. Verify with `verifySignedMaterial`. */
export function decodeStatusList(bytes: Uint8Array): { sign1: Sign1; statusList: StatusList } {
  assertBytes(bytes);
  const sign1 = decodeSign1(bytes, STATUS_LIST_LIMITS, 'status list', true);
  return { sign1, statusList: parseStatusListPayload(sign1.payload) };
}
