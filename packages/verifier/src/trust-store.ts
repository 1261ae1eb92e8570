/**
 * The trust material a reader holds: trust list, status lists (one per school) and roster,
 * verified when loaded, protected against rollback, the last good copy kept.
 *
 * @module
 */
import {
  bytesEqual,
  type CampusCardErrorCode,
  indexRoster,
  isCampusCardError,
  PLATFORM_AUTHORITY,
  type PublicKey,
  type RosterIndex,
  type StatusList,
  type TrustAnchor,
  type TrustList,
  toHex,
  verifyRoster,
  verifyStatusList,
  verifyTrustList,
} from '@campus-card/core';
import { sha256 } from '@noble/hashes/sha2.js';
import { type Material, type MaterialStamp, reasonForCoreCode } from './decision.js';

/** Why loading trust material failed. The last good copy stays in use. */
export type LoadFailureReason =
  | 'BAD_FORMAT'
  | 'BAD_SIGNATURE'
  | 'UNKNOWN_ISSUER'
  | 'ROLLBACK'
  | 'NO_TRUST_LIST'
  | 'INTERNAL_ERROR';

/** The outcome of `loadTrustList` / `loadStatusList` / `loadRoster`. Never thrown. */
export type LoadResult =
  | {
      readonly ok: true;
      readonly material: Material;
      readonly version: number;
      /** Signed time of the material, unix seconds. */
      readonly iat: number;
      /** The school (status list, roster); `undefined` for a trust list. */
      readonly school: string | undefined;
      /**
       * A trust list's authority (`"platform"` or a school id): the list it replaces, if any, is that
       * authority's only, the lists of other authorities stay (spec §3). Absent for a status list or
       * a roster.
       */
      readonly authority?: string;
      /** `false` when the same bytes were already held (a no-op). */
      readonly changed: boolean;
      /**
       * Status lists or roster dropped because no trust list held any longer lets their key sign
       * them, now that this one replaced its authority's previous list (trust list loads only):
       * `statusList:<school>` or `roster:<school>`. What another authority's list vouches for stays.
       */
      readonly dropped: readonly string[];
    }
  | {
      readonly ok: false;
      readonly material: Material;
      readonly reason: LoadFailureReason;
      /** The core error code, if any. */
      readonly coreCode?: CampusCardErrorCode;
      readonly detail: string;
    };

/** A version held and the hex SHA-256 (first 16 bytes) of the bytes that carried it. */
export interface VersionMark {
  readonly version: number;
  readonly digest: string;
  /**
   * The reader's clock (unix seconds) when these bytes were first loaded, set by the verifier and
   * kept in its snapshot: material signed ahead of the clock ages from it (spec §7.1), and a reboot
   * that loads the same bytes again must not make them young again.
   */
  readonly loadedAt?: number;
}

/**
 * Versions held, persisted in a snapshot so that a reboot cannot reopen a rollback. Trust lists are
 * held one per authority (spec §3, §7.1), and so are their marks.
 */
export interface HeldVersions {
  /**
   * A trust-list mark whose authority is unknown: the one mark of a snapshot written before trust
   * lists were held per authority (that verifier held one list at a time, whatever its authority).
   * Until the reader learns whose it is, it is a floor for every authority's list (fail closed: a
   * lower version, or the same version with other bytes, is refused as a rollback, which is what
   * the verifier that wrote it enforced). It becomes that authority's mark, and stops applying to
   * the others, as soon as a list with its very bytes (version and digest) is loaded, or at once
   * when the root keys anchor a single authority. `undefined` when there is none.
   */
  trustList: VersionMark | undefined;
  /** The mark of each authority's trust list, keyed by authority (`"platform"` or a school id). */
  trustLists: Record<string, VersionMark>;
  statusLists: Record<string, VersionMark>;
  rosters: Record<string, VersionMark>;
}

/** One held document: its bytes, verified value and stamp. */
export interface Held<T> {
  readonly bytes: Uint8Array;
  readonly value: T;
  readonly stamp: MaterialStamp;
  /**
   * The authorities whose trust lists vouch for it, in the order of {@link compareAuthorities}: for
   * a status list or a roster, those whose list has an entry that lets its signing key sign it;
   * for a trust list, its own authority.
   */
  readonly authorities: readonly string[];
}

/**
 * Everything a store holds at one moment. Never mutated: the store replaces it (a new frozen
 * object) whenever a trust list, any status list or its roster changes, and keeps it when a load
 * fails or brings the same bytes again. A scan takes it once when it starts and checks with it,
 * so what it checked is what its audit names; comparing it with the store's current one (a single
 * reference) tells whether anything was loaded or dropped meanwhile.
 */
export interface HeldMaterial {
  /** The trust lists held, one per authority, in the order of {@link compareAuthorities}. */
  readonly trustLists: readonly Held<TrustList>[];
  /** The values of {@link trustLists}, same order, for core's checks (replaced when they change). */
  readonly trustListArray: readonly TrustList[];
  /** The stamp of each trust list held, by authority (for a decision's audit). */
  readonly trustListStamps: Readonly<Record<string, MaterialStamp>>;
  /** One per school. */
  readonly statusLists: readonly Held<StatusList>[];
  /** The values of {@link statusLists}, for core's checks. */
  readonly statusListArray: readonly StatusList[];
  readonly roster: Held<RosterIndex> | undefined;
}

/** Internal: the material store used by `createVerifier`. */
export interface TrustStore {
  /** The trust list held for each authority. */
  readonly trustLists: ReadonlyMap<string, Held<TrustList>>;
  readonly statusLists: ReadonlyMap<string, Held<StatusList>>;
  /** Every status list value, for core's `verifyPresentation`. */
  readonly statusListArray: readonly StatusList[];
  readonly roster: Held<RosterIndex> | undefined;
  /** The material held now, as one immutable object (see {@link HeldMaterial}). */
  readonly material: HeldMaterial;
  readonly versions: HeldVersions;
  loadTrustList(bytes: Uint8Array): LoadResult;
  loadStatusList(bytes: Uint8Array): LoadResult;
  loadRoster(bytes: Uint8Array): LoadResult;
  /**
   * Raises the held versions to at least those given (restore from a snapshot), and drops any
   * material held that the raised versions refuse as a rollback (and any status list or roster no
   * trust list still held vouches for). A mark of the same bytes as one held keeps the earlier
   * first-load time (`loadedAt`) of the two.
   */
  raiseVersions(v: HeldVersions): void;
}

/** Options of {@link createTrustStore}. */
export interface TrustStoreOptions {
  /**
   * Trust list versions below this are refused as a rollback, whatever their authority (a version
   * known at provisioning). Configuration: not part of {@link HeldVersions}. Default none.
   */
  readonly minTrustListVersion?: number;
}

/**
 * The order in which trust lists are held and tried (deterministic, so that a refusal names the
 * same limit on every reader): the platform's first, then schools' by id (UTF-16 code units).
 */
export function compareAuthorities(a: string, b: string): number {
  if (a === b) return 0;
  if (a === PLATFORM_AUTHORITY) return -1;
  if (b === PLATFORM_AUTHORITY) return 1;
  return a < b ? -1 : 1;
}

function digestOf(bytes: Uint8Array): string {
  return toHex(sha256(bytes).subarray(0, 16));
}

function failure(material: Material, error: unknown): LoadResult {
  if (isCampusCardError(error)) {
    const r = reasonForCoreCode(error.code);
    const reason: LoadFailureReason =
      error.code === 'ERR_ROLLBACK'
        ? 'ROLLBACK'
        : r === 'BAD_FORMAT' || r === 'BAD_SIGNATURE' || r === 'UNKNOWN_ISSUER'
          ? r
          : 'INTERNAL_ERROR';
    return { ok: false, material, reason, coreCode: error.code, detail: error.message };
  }
  return {
    ok: false,
    material,
    reason: 'INTERNAL_ERROR',
    detail: error instanceof Error ? error.message : String(error),
  };
}

function rollback(material: Material, version: number, held: number): LoadResult {
  return {
    ok: false,
    material,
    reason: 'ROLLBACK',
    coreCode: 'ERR_ROLLBACK',
    detail: `${material} version ${version} is not newer than the version ${held} held`,
  };
}

/** Whether `mark` refuses the `held` material as a rollback: a lower version, or the same with other bytes. */
function refused(mark: VersionMark | undefined, held: Held<unknown>): boolean {
  if (mark === undefined || held.stamp.version > mark.version) return false;
  return held.stamp.version < mark.version || digestOf(held.bytes) !== mark.digest;
}

/**
 * The mark to hold once `incoming` (a snapshot's) is laid over `held`: the higher version; for the
 * same bytes (version and digest), the earlier first load, so that a restore made after the bytes
 * were loaded again does not make material signed ahead of the clock young again (spec §7.1).
 */
function raised(held: VersionMark | undefined, incoming: VersionMark): VersionMark {
  if (held === undefined || incoming.version > held.version) return incoming;
  const first = incoming.loadedAt;
  if (
    incoming.version === held.version &&
    incoming.digest === held.digest &&
    first !== undefined &&
    (held.loadedAt === undefined || first < held.loadedAt)
  ) {
    return { ...held, loadedAt: first };
  }
  return held;
}

/**
 * The authorities whose lists (of `lists`, in order) vouch for a document: those for which
 * `verify` accepts it with that list alone.
 *
 * @throws The error of `verify` with every list at once when none does (core's combined refusal).
 */
function vouching(lists: readonly Held<TrustList>[], verify: (l: readonly TrustList[]) => unknown): string[] {
  const out: string[] = [];
  if (lists.length === 1) {
    const only = lists[0] as Held<TrustList>;
    verify([only.value]);
    out.push(only.value.authority);
    return out;
  }
  for (const h of lists) {
    try {
      verify([h.value]);
      out.push(h.value.authority);
    } catch {
      // not this one
    }
  }
  if (out.length === 0) verify(lists.map((h) => h.value));
  // (fail closed should the combined check admit what no single list does: it cannot)
  if (out.length === 0) throw new Error('no trust list vouches for it');
  return out;
}

/**
 * Creates an empty trust store anchored on `rootKeys`: bare keys (a single root only) or keys with
 * the authority whose trust lists they sign (spec §3, core's `verifyTrustList`). It holds one trust
 * list per authority (the `authority` each verified list states), with versions, rollback
 * protection and first-load time per authority: a list of one authority never replaces or drops
 * another's.
 */
export function createTrustStore(
  rootKeys: readonly (PublicKey | TrustAnchor)[],
  options: TrustStoreOptions = {},
): TrustStore {
  const minTl = options.minTrustListVersion ?? 0;
  // the one authority the root keys anchor, when every key names the same one (a legacy mark is
  // then that authority's); a bare key anchors any authority its lists state: none known
  const anchored = new Set(rootKeys.map((k) => ('authority' in k ? k.authority : undefined)));
  const onlyAuthority = anchored.size === 1 ? [...anchored][0] : undefined;
  // One bare root key (the usual reader): it anchors whatever authority its lists state, but it is
  // still one source of lists, so it holds one list at a time, as a single root always did: a new
  // list must be newer than every list it signed before, whatever their authority, and replaces
  // them. Else a key withdrawn by the root's newer list of another authority would stay trusted
  // through an older list that nothing would ever replace.
  const singleSource = rootKeys.length === 1 && !('authority' in (rootKeys[0] as object));

  // keyed by authority / school id, which is signed data: no prototype, so a school named
  // `constructor` or `__proto__` is a key like any other
  const trustLists = new Map<string, Held<TrustList>>();
  const statusLists = new Map<string, Held<StatusList>>();
  let roster: Held<RosterIndex> | undefined;
  const versions: HeldVersions = {
    trustList: undefined,
    trustLists: Object.create(null) as HeldVersions['trustLists'],
    statusLists: Object.create(null) as HeldVersions['statusLists'],
    rosters: Object.create(null) as HeldVersions['rosters'],
  };

  let heldTrustLists: readonly Held<TrustList>[] = Object.freeze([]);
  let trustListArray: readonly TrustList[] = Object.freeze([]);
  let trustListStamps: Readonly<Record<string, MaterialStamp>> = Object.freeze(Object.create(null));
  let heldStatusLists: readonly Held<StatusList>[] = Object.freeze([]);
  let statusListArray: readonly StatusList[] = Object.freeze([]);
  let material: HeldMaterial = Object.freeze({
    trustLists: heldTrustLists,
    trustListArray,
    trustListStamps,
    statusLists: heldStatusLists,
    statusListArray,
    roster,
  });

  const refreshTrustLists = () => {
    heldTrustLists = Object.freeze(
      [...trustLists.values()].sort((a, b) => compareAuthorities(a.value.authority, b.value.authority)),
    );
    trustListArray = Object.freeze(heldTrustLists.map((h) => h.value));
    const stamps: Record<string, MaterialStamp> = Object.create(null);
    for (const h of heldTrustLists) stamps[h.value.authority] = h.stamp;
    trustListStamps = Object.freeze(stamps);
  };

  const refreshArray = () => {
    heldStatusLists = Object.freeze([...statusLists.values()]);
    statusListArray = Object.freeze(heldStatusLists.map((h) => h.value));
  };

  /** Publishes a new {@link HeldMaterial} if anything held changed (runs after every load, even a failed one). */
  const publish = () => {
    const m = material;
    if (m.trustListArray === trustListArray && m.statusListArray === statusListArray && m.roster === roster)
      return;
    material = Object.freeze({
      trustLists: heldTrustLists,
      trustListArray,
      trustListStamps,
      statusLists: heldStatusLists,
      statusListArray,
      roster,
    });
  };

  /**
   * Checks every status list and the roster held against the trust lists held now: each keeps
   * the authorities that still vouch for it, and is dropped when none does (fail closed).
   *
   * @returns What was dropped (`statusList:<school>`, `roster:<school>`).
   */
  function reverify(): string[] {
    const dropped: string[] = [];
    for (const [school, held] of statusLists) {
      try {
        let value: StatusList | undefined;
        const authorities = vouching(heldTrustLists, (l) => {
          value = verifyStatusList(held.bytes, l);
        });
        statusLists.set(school, { ...held, value: value as StatusList, authorities });
      } catch {
        statusLists.delete(school);
        dropped.push(`statusList:${school}`);
      }
    }
    refreshArray();
    if (roster !== undefined) {
      try {
        let value: RosterIndex | undefined;
        const r = roster;
        const authorities = vouching(heldTrustLists, (l) => {
          value = indexRoster(verifyRoster(r.bytes, l));
        });
        roster = { ...roster, value: value as RosterIndex, authorities };
      } catch {
        dropped.push(`roster:${roster.value.roster.school}`);
        roster = undefined;
      }
    }
    return dropped;
  }

  /**
   * Same bytes as held → `'same'` (a no-op), or `'reload'` when only the version mark survived a
   * reboot; a lower version, or the same version with other bytes → rollback.
   */
  function checkVersion(
    material: Material,
    mark: VersionMark | undefined,
    held: { bytes: Uint8Array } | undefined,
    version: number,
    bytes: Uint8Array,
    digest: string,
  ): 'same' | 'reload' | 'newer' | LoadResult {
    if (held !== undefined && bytesEqual(held.bytes, bytes)) return 'same';
    if (mark === undefined || version > mark.version) return 'newer';
    if (version === mark.version && digest === mark.digest) return 'reload';
    return rollback(material, version, mark.version);
  }

  /**
   * The unbound legacy mark (see {@link HeldVersions.trustList}) becomes `authority`'s mark (the
   * higher of the two; for the same bytes, the earlier first load), and stops applying to others.
   */
  function bindLegacy(authority: string): void {
    const legacy = versions.trustList;
    if (legacy === undefined) return;
    versions.trustLists[authority] = raised(versions.trustLists[authority], legacy);
    versions.trustList = undefined;
  }

  /**
   * With a single bare root (`singleSource`): the mark of a list of another authority than
   * `authority` that the root signed at `version` or later, which withdrew `authority`'s list of
   * that version; else (or with anchored roots) `undefined`.
   */
  function laterOfSingleRoot(authority: string, version: number): VersionMark | undefined {
    if (!singleSource) return undefined;
    for (const [a, mark] of Object.entries(versions.trustLists)) {
      if (a !== authority && version <= mark.version) return mark;
    }
    return undefined;
  }

  /** The trust list checks beyond its authority's own mark: the minimum version, the legacy floor. */
  function checkFloors(
    tl: TrustList,
    digest: string,
    v: 'reload' | 'newer',
  ): 'reload' | 'newer' | LoadResult {
    if (tl.version < minTl) return rollback('trustList', tl.version, minTl - 1);
    // another authority's list of the single root: its bytes differ, so a version not above its is a rollback
    const later = laterOfSingleRoot(tl.authority, tl.version);
    if (later !== undefined) return rollback('trustList', tl.version, later.version);
    const legacy = versions.trustList;
    if (legacy === undefined || tl.version > legacy.version) return v;
    if (tl.version < legacy.version || digest !== legacy.digest) {
      return rollback('trustList', tl.version, legacy.version);
    }
    // the very bytes the legacy mark names: now we know whose mark it is (its first load kept)
    bindLegacy(tl.authority);
    const own = versions.trustLists[tl.authority];
    return own !== undefined && own.version === tl.version && own.digest === digest ? 'reload' : v;
  }

  const store: TrustStore = {
    trustLists,
    statusLists,
    get statusListArray() {
      return statusListArray;
    },
    get roster() {
      return roster;
    },
    get material() {
      return material;
    },
    versions,
    loadTrustList(bytes) {
      try {
        if (!(bytes instanceof Uint8Array)) throw new TypeError('loadTrustList: expected a Uint8Array');
        const tl = verifyTrustList(bytes, rootKeys);
        const authority = tl.authority;
        const held = trustLists.get(authority);
        const digest = digestOf(bytes);
        let v = checkVersion('trustList', versions.trustLists[authority], held, tl.version, bytes, digest);
        if (typeof v === 'object') return v;
        if (v !== 'same') {
          v = checkFloors(tl, digest, v);
          if (typeof v === 'object') return v;
        }
        const base = {
          ok: true as const,
          material: 'trustList' as const,
          version: tl.version,
          iat: tl.iat,
          school: undefined,
          authority,
        };
        if (v === 'same') return { ...base, changed: false, dropped: [] };
        // a single root's new list replaces whatever it signed before (see singleSource)
        if (singleSource) trustLists.clear();
        trustLists.set(authority, {
          bytes: Uint8Array.from(bytes),
          value: tl,
          stamp: { version: tl.version, iat: tl.iat },
          authorities: Object.freeze([authority]),
        });
        refreshTrustLists();
        // (a reload keeps its mark: the same version and digest, and when they were first loaded)
        if (v === 'newer') versions.trustLists[authority] = { version: tl.version, digest };
        // material that no list held now lets its key sign is dropped (fail closed); what another
        // authority's list vouches for stays
        return { ...base, changed: true, dropped: reverify() };
      } catch (error) {
        return failure('trustList', error);
      } finally {
        publish();
      }
    },
    loadStatusList(bytes) {
      try {
        if (!(bytes instanceof Uint8Array)) throw new TypeError('loadStatusList: expected a Uint8Array');
        if (heldTrustLists.length === 0) {
          return {
            ok: false,
            material: 'statusList',
            reason: 'NO_TRUST_LIST',
            detail: 'load a trust list first',
          };
        }
        let sl: StatusList | undefined;
        const authorities = vouching(heldTrustLists, (l) => {
          sl = verifyStatusList(bytes, l);
        });
        const value = sl as StatusList;
        const held = statusLists.get(value.school);
        const digest = digestOf(bytes);
        const v = checkVersion(
          'statusList',
          versions.statusLists[value.school],
          held,
          value.version,
          bytes,
          digest,
        );
        if (typeof v === 'object') return v;
        const base = {
          ok: true as const,
          material: 'statusList' as const,
          version: value.version,
          iat: value.iat,
        };
        if (v === 'same') return { ...base, school: value.school, changed: false, dropped: [] };
        statusLists.set(value.school, {
          bytes: Uint8Array.from(bytes),
          value,
          stamp: { version: value.version, iat: value.iat },
          authorities: Object.freeze(authorities),
        });
        if (v === 'newer') versions.statusLists[value.school] = { version: value.version, digest };
        refreshArray();
        return { ...base, school: value.school, changed: true, dropped: [] };
      } catch (error) {
        return failure('statusList', error);
      } finally {
        publish();
      }
    },
    loadRoster(bytes) {
      try {
        if (!(bytes instanceof Uint8Array)) throw new TypeError('loadRoster: expected a Uint8Array');
        if (heldTrustLists.length === 0) {
          return {
            ok: false,
            material: 'roster',
            reason: 'NO_TRUST_LIST',
            detail: 'load a trust list first',
          };
        }
        let r: ReturnType<typeof verifyRoster> | undefined;
        const authorities = vouching(heldTrustLists, (l) => {
          r = verifyRoster(bytes, l);
        });
        const value = r as ReturnType<typeof verifyRoster>;
        const sameSchool = roster?.value.roster.school === value.school ? roster : undefined;
        const digest = digestOf(bytes);
        const v = checkVersion(
          'roster',
          versions.rosters[value.school],
          sameSchool,
          value.version,
          bytes,
          digest,
        );
        if (typeof v === 'object') return v;
        const base = {
          ok: true as const,
          material: 'roster' as const,
          version: value.version,
          iat: value.iat,
        };
        if (v === 'same') return { ...base, school: value.school, changed: false, dropped: [] };
        roster = {
          bytes: Uint8Array.from(bytes),
          value: indexRoster(value),
          stamp: { version: value.version, iat: value.iat },
          authorities: Object.freeze(authorities),
        };
        if (v === 'newer') versions.rosters[value.school] = { version: value.version, digest };
        return { ...base, school: value.school, changed: true, dropped: [] };
      } catch (error) {
        return failure('roster', error);
      } finally {
        publish();
      }
    },
    raiseVersions(v) {
      // A snapshot of this version writes, for a single root, its newest mark as the
      // authority-unknown mark too, for a firmware rolled back to the earlier format: that copy is
      // its authority's own mark, already in `trustLists`, and no floor of its own.
      const copy =
        v.trustList !== undefined &&
        Object.values(v.trustLists).some(
          (m) => m.version === v.trustList?.version && m.digest === v.trustList.digest,
        );
      if (v.trustList !== undefined && !copy) {
        versions.trustList =
          versions.trustList === undefined ? v.trustList : raised(versions.trustList, v.trustList);
      }
      for (const [k, m] of Object.entries(v.trustLists)) {
        versions.trustLists[k] = raised(versions.trustLists[k], m);
      }
      for (const [k, m] of Object.entries(v.statusLists)) {
        versions.statusLists[k] = raised(versions.statusLists[k], m);
      }
      for (const [k, m] of Object.entries(v.rosters)) {
        versions.rosters[k] = raised(versions.rosters[k], m);
      }
      // a legacy mark whose authority is known: the only one anchored, or that of a list held with
      // its very bytes
      const legacy = versions.trustList;
      if (legacy !== undefined) {
        if (onlyAuthority !== undefined) bindLegacy(onlyAuthority);
        else {
          for (const [authority, held] of trustLists) {
            if (held.stamp.version === legacy.version && digestOf(held.bytes) === legacy.digest) {
              bindLegacy(authority);
              break;
            }
          }
        }
      }
      // material loaded before the marks were raised that they now refuse as a rollback (an older
      // copy, loaded before a restore) is dropped: it must not stay in use (fail closed). A single
      // root's list is refused, as when it is loaded, by a later list of another authority too.
      let listsChanged = false;
      for (const [authority, held] of trustLists) {
        if (
          refused(versions.trustLists[authority], held) ||
          refused(versions.trustList, held) ||
          laterOfSingleRoot(authority, held.stamp.version) !== undefined
        ) {
          trustLists.delete(authority);
          listsChanged = true;
        }
      }
      if (listsChanged) {
        refreshTrustLists();
        // what only a dropped list vouched for goes too, while another list is held (with none,
        // scans are refused `NO_TRUST_LIST`, and the next list loaded checks them all again)
        if (heldTrustLists.length > 0) reverify();
      }
      let changed = false;
      for (const [school, held] of statusLists) {
        if (refused(versions.statusLists[school], held)) {
          statusLists.delete(school);
          changed = true;
        }
      }
      if (changed) refreshArray();
      if (roster !== undefined && refused(versions.rosters[roster.value.roster.school], roster)) {
        roster = undefined;
      }
      publish();
    },
  };
  return store;
}
