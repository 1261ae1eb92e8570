/**
 * Trust list (spec §3): the issuer keys a reader accepts, signed by a root key.
 *
 * @module
 */
import { decodeSign1, type Sign1, signSign1, verifySign1 } from './cose-sign1.js';
import { CampusCardError } from './errors.js';
import { exportCoseKey, importCoseKey, type PrivateKey, type PublicKey, type Signer } from './keys.js';
import { type CborValue, cmap, decodeCbor, encodeCbor } from './lib/cbor.js';
import { arrayField, asMap, onlyKeys, textArrayField, textField, uintField } from './lib/fields.js';
import { TRUST_LIST_LIMITS } from './lib/limits.js';
import { KEY_USE, ROLE_CODE, type Role, roleFromCode } from './roles.js';

const S = '3';

/** One issuer key of a trust list. */
export interface TrustListEntry {
  /** The issuer's public key; its algorithm is pinned. */
  readonly key: PublicKey;
  /** Roles whose credentials the key may sign. */
  readonly roles: readonly Role[];
  /** Start of validity, unix seconds. */
  readonly nbf: number;
  /** End of validity, unix seconds. */
  readonly exp: number;
  /**
   * Schools it may sign for. Empty means every school the list's `authority` covers: any school in
   * a `"platform"` list, only the authority's own school in a school's list (see
   * {@link entryCoversSchool}).
   */
  readonly schools: readonly string[];
  /** Bit set of {@link KEY_USE}. Default: all uses (7). */
  readonly uses: number;
}

/** A decoded trust list. */
export interface TrustList {
  /** Monotonic version; a reader refuses a lower one. */
  readonly version: number;
  /** Signing time, unix seconds. */
  readonly iat: number;
  /** Who signed it: `"platform"` or a school id. */
  readonly authority: string;
  /** The issuer keys: at least one (an empty list is refused when loaded). */
  readonly keys: readonly TrustListEntry[];
}

/** Input of {@link signTrustList}. */
export interface TrustListInput {
  version: number;
  iat: number;
  authority: string;
  keys: ReadonlyArray<{
    key: PublicKey | PrivateKey;
    roles: readonly Role[];
    nbf: number;
    exp: number;
    schools?: readonly string[];
    uses?: number;
  }>;
}

/**
 * Signs a trust list with a root key (issuer side). What a reader would refuse is refused here,
 * before signing, with the reader's error: a list with no keys, say (`ERR_STRUCTURE`: a trust list
 * names at least one key, spec §3).
 *
 * @example
 * ```ts
 * const tl = await signTrustList({ version: 1, iat: now, authority: 'platform',
 *   keys: [{ key: issuer.publicKey, roles: ['student'], nbf: now, exp: now + 365 * 86400 }] }, root.privateKey);
 * ```
 */
export async function signTrustList(
  input: TrustListInput,
  rootKey: PrivateKey | Signer,
): Promise<Uint8Array> {
  const entries: CborValue[] = input.keys.map((e) =>
    cmap([
      [1, exportCoseKey(e.key)],
      [2, e.roles.map((r) => ROLE_CODE[r])],
      [3, e.nbf],
      [4, e.exp],
      [5, e.schools ? [...e.schools] : undefined],
      [6, e.uses],
    ]),
  );
  const payload = encodeCbor(
    cmap([
      [1, input.version],
      [2, input.iat],
      [3, input.authority],
      [4, entries],
    ]),
  );
  // validate what we are about to sign with the same rules a reader applies
  parseTrustListPayload(payload);
  return signSign1(payload, rootKey, {
    header: 'alg+kid',
    limit: { maxBytes: TRUST_LIST_LIMITS.maxBytes, what: 'trust list' },
  });
}

/** Parses a trust list payload (no signature check). */
export function parseTrustListPayload(payload: Uint8Array): TrustList {
  const m = asMap(decodeCbor(payload, TRUST_LIST_LIMITS, 'trust list payload'), 'trust list', S);
  onlyKeys(m, [1, 2, 3, 4], 'trust list', S);
  const entries = arrayField(m.get(4), 'trust list keys', S);
  // `[+ entry]`: a list that trusts no key is refused when loaded, never held (spec §3)
  if (entries.length === 0)
    throw new CampusCardError('ERR_STRUCTURE', 'trust list: no keys; a trust list names at least one', {
      section: S,
    });
  const keys = entries.map((raw, i) => {
    const what = `trust list entry ${i}`;
    const e = asMap(raw, what, S);
    onlyKeys(e, [1, 2, 3, 4, 5, 6], what, S);
    const roles = arrayField(e.get(2), `${what} roles`, S, 1).map((c) => {
      const role = roleFromCode(c);
      if (!role)
        throw new CampusCardError('ERR_STRUCTURE', `${what}: unknown role code ${String(c)}`, { section: S });
      return role;
    });
    const nbf = uintField(e.get(3), `${what} nbf`, S);
    const exp = uintField(e.get(4), `${what} exp`, S);
    if (exp < nbf) throw new CampusCardError('ERR_STRUCTURE', `${what}: exp before nbf`, { section: S });
    return Object.freeze({
      key: importCoseKey(e.get(1), { algLabel: 'required' }),
      roles: Object.freeze(roles),
      nbf,
      exp,
      schools: Object.freeze(e.has(5) ? textArrayField(e.get(5), `${what} schools`, S) : []),
      uses: e.has(6)
        ? uintField(e.get(6), `${what} uses`, S, 7)
        : KEY_USE.credentials | KEY_USE.statusLists | KEY_USE.rosters,
    });
  });
  return Object.freeze({
    version: uintField(m.get(1), 'trust list version', S),
    iat: uintField(m.get(2), 'trust list iat', S),
    authority: textField(m.get(3), 'trust list authority', S),
    keys: Object.freeze(keys),
  });
}

/** Decodes a trust list without verifying its signature (diagnostics). */
export function decodeTrustList(bytes: Uint8Array): { sign1: Sign1; trustList: TrustList } {
  assertBytes(bytes);
  const sign1 = decodeSign1(bytes, TRUST_LIST_LIMITS, 'trust list', true);
  return { sign1, trustList: parseTrustListPayload(sign1.payload) };
}

/**
 * Verifies a trust list against the reader's root keys (its trust anchors), then parses it.
 *
 * @throws {@link CampusCardError} `ERR_UNKNOWN_ISSUER` if no root key has its kid,
 *   `ERR_SIGNATURE_INVALID`, or a decoding error.
 */
export function verifyTrustList(bytes: Uint8Array, rootKeys: readonly PublicKey[]): TrustList {
  assertBytes(bytes);
  const sign1 = decodeSign1(bytes, TRUST_LIST_LIMITS, 'trust list', true);
  const candidates = findKeys(rootKeys, sign1.kid as Uint8Array);
  if (candidates.length === 0) {
    throw new CampusCardError('ERR_UNKNOWN_ISSUER', 'trust list: signed by an unknown root key', {
      section: S,
    });
  }
  verifySign1(sign1, candidates, 'trust list');
  return parseTrustListPayload(sign1.payload);
}

/** The `authority` of a trust list signed by the platform (any other value is a school id). */
export const PLATFORM_AUTHORITY = 'platform';

/**
 * Whether a trust-list entry lets its key sign for `school` (spec §3): `school` is one of the
 * entry's `schools`, or `schools` is empty and `school` is one the list's authority covers (any
 * school when the authority is `"platform"`, else only the authority's own school id). Every check
 * of an entry's schools goes through here: credentials, status lists and rosters alike.
 *
 * @param entry - An entry of `trustList`.
 * @param trustList - The list the entry belongs to (its `authority` is read).
 * @param school - The school id to check.
 * @example
 * ```ts
 * // in a list whose authority is "10001", an entry with schools: [] covers "10001" only
 * entryCoversSchool(trustList.keys[0], trustList, '10002'); // false
 * ```
 */
export function entryCoversSchool(
  entry: TrustListEntry,
  trustList: Pick<TrustList, 'authority'>,
  school: string,
): boolean {
  if (entry.schools.length > 0) return entry.schools.includes(school);
  return trustList.authority === PLATFORM_AUTHORITY || school === trustList.authority;
}

/** All keys whose kid equals `kid` (ids can collide, spec §2.4). */
export function findKeys<K extends { readonly kid: Uint8Array }>(keys: readonly K[], kid: Uint8Array): K[] {
  const out: K[] = [];
  for (const k of keys) {
    const a = k.kid;
    if (a.length === kid.length && a.every((b, i) => b === kid[i])) out.push(k);
  }
  return out;
}

/** Throws `ERR_INPUT_TYPE` unless `bytes` is a Uint8Array. */
export function assertBytes(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new CampusCardError('ERR_INPUT_TYPE', 'expected a Uint8Array');
}
