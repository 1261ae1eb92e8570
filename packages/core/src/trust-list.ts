/**
 * Trust list (spec §3): the issuer keys a reader accepts, signed by a root key.
 *
 * @module
 */
import { decodeSign1, type Sign1, signSign1, verifySign1 } from './cose-sign1.js';
import { CampusCardError } from './errors.js';
import { exportCoseKey, importCoseKey, type PrivateKey, type PublicKey, type Signer } from './keys.js';
import { bytesEqual } from './lib/bytes.js';
import { type CborValue, cmap, decodeCbor, encodeCbor } from './lib/cbor.js';
import {
  arrayField,
  asMap,
  codePointLength,
  onlyKeys,
  textArrayField,
  textField,
  uintField,
} from './lib/fields.js';
import { MAX_TEXT_CHARS, TRUST_LIST_LIMITS } from './lib/limits.js';
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
   * {@link entryCoversSchool}). In a school's list it names no other school: a list that does is
   * refused when read (`ERR_STRUCTURE`, spec §3).
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

/**
 * One verified trust list, or the lists a reader holds at once, one per authority (spec §3: the
 * platform's and a school's, two schools'), in the order their entries are tried. What core's
 * checks of credentials, status lists and rosters take: an entry of any list may admit, and the
 * schools it covers are read from its own list's `authority` ({@link entryCoversSchool}).
 */
export type TrustLists = TrustList | readonly TrustList[];

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

/**
 * Parses a trust list payload (no signature check). A school's list (an authority other than
 * `"platform"`) whose entry names another school in `schools` is `ERR_STRUCTURE` (spec §3).
 */
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
  const authority = textField(m.get(3), 'trust list authority', S);
  // a school's root speaks for its own school only: an entry of its list naming another school
  // would let it admit issuers for a school whose root it is not (spec §3)
  if (authority !== PLATFORM_AUTHORITY) {
    keys.forEach((e, i) => {
      const other = e.schools.find((s) => s !== authority);
      if (other !== undefined)
        throw new CampusCardError(
          'ERR_STRUCTURE',
          `trust list entry ${i}: school ${JSON.stringify(other)} is not the list's authority ` +
            `${JSON.stringify(authority)}; a school's list covers that school only`,
          { section: S },
        );
    });
  }
  return Object.freeze({
    version: uintField(m.get(1), 'trust list version', S),
    iat: uintField(m.get(2), 'trust list iat', S),
    authority,
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
 * A root key bound to the one authority whose trust lists it may sign (spec §3): `"platform"` or a
 * school id. A reader holding several root keys gives each of them as a `TrustAnchor`.
 */
export interface TrustAnchor {
  /** The root public key (reader configuration, never from the network). */
  readonly key: PublicKey;
  /** The only `authority` a trust list this key verifies may state. 1 to 64 characters. */
  readonly authority: string;
}

function isPublicKeyValue(k: unknown): k is PublicKey {
  if (typeof k !== 'object' || k === null) return false;
  const key = k as Partial<Record<keyof PublicKey, unknown>>;
  return (
    key.type === 'public' &&
    (key.alg === 'ES256' || key.alg === 'EdDSA') &&
    key.kid instanceof Uint8Array &&
    key.raw instanceof Uint8Array
  );
}

/**
 * Checks a reader's root keys (spec §3) and returns a frozen copy: a bare key as it is (it anchors
 * whatever authority its lists state: allowed only when it is the one root key), a `TrustAnchor`
 * as a frozen `{ key, authority }`. A later change to the caller's array or objects changes no
 * anchor. {@link verifyTrustList} checks its root keys so; a reader checks them once, at setup.
 *
 * @param rootKeys - The root keys, bare or as `{ key, authority }`.
 * @param what - The name of the option, for messages (default `rootKeys`).
 * @throws `TypeError` naming the faulty entry: a key that is not a public key, an authority that
 *   is not 1 to 64 characters, or a bare key among several root keys (one school's root could
 *   otherwise sign a list speaking for the platform or for another school).
 */
export function checkTrustAnchors(
  rootKeys: readonly (PublicKey | TrustAnchor)[],
  what = 'rootKeys',
): readonly (PublicKey | TrustAnchor)[] {
  return Object.freeze(
    anchorsOf(rootKeys, what).map(({ key, authority }): PublicKey | TrustAnchor =>
      authority === undefined ? key : Object.freeze({ key, authority }),
    ),
  );
}

/** {@link checkTrustAnchors}, each as `{ key, authority }`, `authority` undefined for a bare key. */
function anchorsOf(
  rootKeys: readonly (PublicKey | TrustAnchor)[],
  what = 'rootKeys',
): readonly { readonly key: PublicKey; readonly authority: string | undefined }[] {
  if (!Array.isArray(rootKeys)) throw new TypeError(`"${what}" must be an array of root keys`);
  const anchors = rootKeys.map((r: unknown, i) => {
    if (isPublicKeyValue(r)) return Object.freeze({ key: r, authority: undefined });
    const a = r as { key?: unknown; authority?: unknown } | null;
    if (typeof a !== 'object' || a === null || !isPublicKeyValue(a.key)) {
      throw new TypeError(
        `"${what}[${i}]" is neither a public key nor { key, authority } with a public key (a PublicKey ` +
          "of @campus-card/core, e.g. importPublicJwk(jwk) or a key pair's publicKey; never a private key)",
      );
    }
    const authority = a.authority;
    if (
      typeof authority !== 'string' ||
      authority.length === 0 ||
      codePointLength(authority) > MAX_TEXT_CHARS
    ) {
      throw new TypeError(`"${what}[${i}].authority" must be "platform" or a school id (1 to 64 characters)`);
    }
    return Object.freeze({ key: a.key, authority });
  });
  if (anchors.length > 1) {
    const bare = anchors.findIndex((a) => a.authority === undefined);
    if (bare >= 0) {
      throw new TypeError(
        `"${what}[${bare}]" is a bare key among ${anchors.length} root keys: with several root keys, ` +
          'give each as { key, authority } (the authority it signs trust lists for: "platform" or a ' +
          "school id), so that one school's root cannot speak for the platform or another school",
      );
    }
  }
  return Object.freeze(anchors);
}

/**
 * Verifies a trust list against the reader's root keys (its trust anchors), then parses it.
 *
 * The list is accepted only when a root key that verifies its signature anchors the authority it
 * states (spec §3). A single root key may be given bare: it then anchors whatever authority its
 * lists state (the common deployment, one root). Several root keys (two schools', the platform's
 * and a school's, or an old and a new root during a rotation) must each be `{ key, authority }`
 * (a `TrustAnchor`) naming its authority: a bare key among several is a `TypeError`. A school's
 * list names no school but its own (`ERR_STRUCTURE`, see {@link parseTrustListPayload}).
 *
 * @example
 * ```ts
 * verifyTrustList(bytes, [platformRoot]); // one root: bare
 * verifyTrustList(bytes, [{ key: platformRoot, authority: 'platform' }, { key: schoolRoot, authority: '10001' }]);
 * ```
 * @throws {@link CampusCardError} `ERR_UNKNOWN_ISSUER` if no root key has its kid, or the key that
 *   verifies it does not anchor the list's authority; `ERR_SIGNATURE_INVALID`, or a decoding error.
 * @throws `TypeError` for root keys that are neither public keys nor `{ key, authority }` with
 *   an authority of 1 to 64 characters, or for a bare key among several.
 */
export function verifyTrustList(
  bytes: Uint8Array,
  rootKeys: readonly (PublicKey | TrustAnchor)[],
): TrustList {
  const anchors = anchorsOf(rootKeys);
  assertBytes(bytes);
  const sign1 = decodeSign1(bytes, TRUST_LIST_LIMITS, 'trust list', true);
  const candidates = findKeys(
    anchors.map((a) => a.key),
    sign1.kid as Uint8Array,
  );
  if (candidates.length === 0) {
    throw new CampusCardError('ERR_UNKNOWN_ISSUER', 'trust list: signed by an unknown root key', {
      section: S,
    });
  }
  const key = verifySign1(sign1, candidates, 'trust list');
  const trustList = parseTrustListPayload(sign1.payload);
  // read only now that the signature covering it is verified: the authority the list states must be
  // one its root key anchors (the same key may be configured for several authorities)
  const anchored = anchors.some(
    (a) =>
      a.key.alg === key.alg &&
      bytesEqual(a.key.raw, key.raw) &&
      (a.authority === undefined || a.authority === trustList.authority),
  );
  if (!anchored) {
    throw new CampusCardError(
      'ERR_UNKNOWN_ISSUER',
      `trust list: its root key does not anchor the authority ${JSON.stringify(trustList.authority)}`,
      { section: S },
    );
  }
  return trustList;
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
