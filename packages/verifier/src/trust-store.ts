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
      /** `false` when the same bytes were already held (a no-op). */
      readonly changed: boolean;
      /**
       * Status lists or roster dropped because the new trust list no longer lets their key sign them
       * (trust list loads only). Their schools are listed.
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

/** Versions held, persisted in a snapshot so that a reboot cannot reopen a rollback. */
export interface HeldVersions {
  trustList: VersionMark | undefined;
  statusLists: Record<string, VersionMark>;
  rosters: Record<string, VersionMark>;
}

/** One held document: its bytes, verified value and stamp. */
export interface Held<T> {
  readonly bytes: Uint8Array;
  readonly value: T;
  readonly stamp: MaterialStamp;
}

/**
 * Everything a store holds at one moment. Never mutated: the store replaces it (a new frozen
 * object) whenever its trust list, any status list or its roster changes, and keeps it when a load
 * fails or brings the same bytes again. A scan takes it once when it starts and checks with it,
 * so what it checked is what its audit names; comparing it with the store's current one (a single
 * reference) tells whether anything was loaded or dropped meanwhile.
 */
export interface HeldMaterial {
  readonly trustList: Held<TrustList> | undefined;
  /** One per school. */
  readonly statusLists: readonly Held<StatusList>[];
  /** The values of {@link statusLists}, for core's checks. */
  readonly statusListArray: readonly StatusList[];
  readonly roster: Held<RosterIndex> | undefined;
}

/** Internal: the material store used by `createVerifier`. */
export interface TrustStore {
  readonly trustList: Held<TrustList> | undefined;
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
   * material held that the raised versions refuse as a rollback. A mark of the same bytes as one
   * held keeps the earlier first-load time (`loadedAt`) of the two.
   */
  raiseVersions(v: HeldVersions): void;
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
 * Creates an empty trust store anchored on `rootKeys`: bare keys (a single root only) or keys with
 * the authority whose trust lists they sign (spec §3, core's `verifyTrustList`).
 */
export function createTrustStore(rootKeys: readonly (PublicKey | TrustAnchor)[]): TrustStore {
  let trustList: Held<TrustList> | undefined;
  const statusLists = new Map<string, Held<StatusList>>();
  let statusListArray: readonly StatusList[] = [];
  let roster: Held<RosterIndex> | undefined;
  // keyed by school id, which is signed data: no prototype, so a school named `constructor` or
  // `__proto__` is a key like any other
  const versions: HeldVersions = {
    trustList: undefined,
    statusLists: Object.create(null) as HeldVersions['statusLists'],
    rosters: Object.create(null) as HeldVersions['rosters'],
  };

  let heldStatusLists: readonly Held<StatusList>[] = Object.freeze([]);
  let material: HeldMaterial = Object.freeze({
    trustList,
    statusLists: heldStatusLists,
    statusListArray,
    roster,
  });

  const refreshArray = () => {
    heldStatusLists = Object.freeze([...statusLists.values()]);
    statusListArray = Object.freeze(heldStatusLists.map((h) => h.value));
  };

  /** Publishes a new {@link HeldMaterial} if anything held changed (runs after every load, even a failed one). */
  const publish = () => {
    const m = material;
    if (m.trustList === trustList && m.statusListArray === statusListArray && m.roster === roster) return;
    material = Object.freeze({ trustList, statusLists: heldStatusLists, statusListArray, roster });
  };

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

  const store: TrustStore = {
    get trustList() {
      return trustList;
    },
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
        const digest = digestOf(bytes);
        const v = checkVersion('trustList', versions.trustList, trustList, tl.version, bytes, digest);
        if (typeof v === 'object') return v;
        const base = { ok: true as const, material: 'trustList' as const, version: tl.version, iat: tl.iat };
        if (v === 'same') return { ...base, school: undefined, changed: false, dropped: [] };
        trustList = { bytes: Uint8Array.from(bytes), value: tl, stamp: { version: tl.version, iat: tl.iat } };
        // (a reload keeps its mark: the same version and digest, and when they were first loaded)
        if (v === 'newer') versions.trustList = { version: tl.version, digest };
        // material signed by keys the new list no longer trusts is dropped (fail closed)
        const dropped: string[] = [];
        for (const [school, held] of statusLists) {
          try {
            statusLists.set(school, { ...held, value: verifyStatusList(held.bytes, tl) });
          } catch {
            statusLists.delete(school);
            dropped.push(`statusList:${school}`);
          }
        }
        refreshArray();
        if (roster !== undefined) {
          try {
            roster = { ...roster, value: indexRoster(verifyRoster(roster.bytes, tl)) };
          } catch {
            dropped.push(`roster:${roster.value.roster.school}`);
            roster = undefined;
          }
        }
        return { ...base, school: undefined, changed: true, dropped };
      } catch (error) {
        return failure('trustList', error);
      } finally {
        publish();
      }
    },
    loadStatusList(bytes) {
      try {
        if (!(bytes instanceof Uint8Array)) throw new TypeError('loadStatusList: expected a Uint8Array');
        if (trustList === undefined) {
          return {
            ok: false,
            material: 'statusList',
            reason: 'NO_TRUST_LIST',
            detail: 'load a trust list first',
          };
        }
        const sl = verifyStatusList(bytes, trustList.value);
        const held = statusLists.get(sl.school);
        const digest = digestOf(bytes);
        const v = checkVersion(
          'statusList',
          versions.statusLists[sl.school],
          held,
          sl.version,
          bytes,
          digest,
        );
        if (typeof v === 'object') return v;
        const base = { ok: true as const, material: 'statusList' as const, version: sl.version, iat: sl.iat };
        if (v === 'same') return { ...base, school: sl.school, changed: false, dropped: [] };
        statusLists.set(sl.school, {
          bytes: Uint8Array.from(bytes),
          value: sl,
          stamp: { version: sl.version, iat: sl.iat },
        });
        if (v === 'newer') versions.statusLists[sl.school] = { version: sl.version, digest };
        refreshArray();
        return { ...base, school: sl.school, changed: true, dropped: [] };
      } catch (error) {
        return failure('statusList', error);
      } finally {
        publish();
      }
    },
    loadRoster(bytes) {
      try {
        if (!(bytes instanceof Uint8Array)) throw new TypeError('loadRoster: expected a Uint8Array');
        if (trustList === undefined) {
          return {
            ok: false,
            material: 'roster',
            reason: 'NO_TRUST_LIST',
            detail: 'load a trust list first',
          };
        }
        const r = verifyRoster(bytes, trustList.value);
        const sameSchool = roster?.value.roster.school === r.school ? roster : undefined;
        const digest = digestOf(bytes);
        const v = checkVersion('roster', versions.rosters[r.school], sameSchool, r.version, bytes, digest);
        if (typeof v === 'object') return v;
        const base = { ok: true as const, material: 'roster' as const, version: r.version, iat: r.iat };
        if (v === 'same') return { ...base, school: r.school, changed: false, dropped: [] };
        roster = {
          bytes: Uint8Array.from(bytes),
          value: indexRoster(r),
          stamp: { version: r.version, iat: r.iat },
        };
        if (v === 'newer') versions.rosters[r.school] = { version: r.version, digest };
        return { ...base, school: r.school, changed: true, dropped: [] };
      } catch (error) {
        return failure('roster', error);
      } finally {
        publish();
      }
    },
    raiseVersions(v) {
      if (v.trustList !== undefined) versions.trustList = raised(versions.trustList, v.trustList);
      for (const [k, m] of Object.entries(v.statusLists)) {
        versions.statusLists[k] = raised(versions.statusLists[k], m);
      }
      for (const [k, m] of Object.entries(v.rosters)) {
        versions.rosters[k] = raised(versions.rosters[k], m);
      }
      // material loaded before the marks were raised that they now refuse as a rollback (an older
      // copy, loaded before a restore) is dropped: it must not stay in use (fail closed)
      if (trustList !== undefined && refused(versions.trustList, trustList)) trustList = undefined;
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
