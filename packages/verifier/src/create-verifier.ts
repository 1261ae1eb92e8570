/**
 * `createVerifier`: the offline verifier a gate, door, POS or desk embeds (issue 3, issue 7).
 *
 * @module
 */
import {
  type CampusCardErrorCode,
  checkStatus,
  checkTrustAnchors,
  isCampusCardError,
  type PublicKey,
  type SignatureBackend,
  type StatusList,
  type TrustAnchor,
  type TrustList,
  type VerifiedPresentation,
  verifyPresentationEager,
} from '@campus-card/core';
import { defaultBackend } from './backends/default-backend.js';
import { createCredentialCache, DEFAULT_CREDENTIAL_CACHE_SIZE } from './credential-cache.js';
import type {
  AcceptedDecision,
  Decision,
  DecisionAudit,
  DeniedDecision,
  Material,
  MaterialStamp,
  PresentationMode,
  ReasonCode,
  StaleWarning,
} from './decision.js';
import { reasonForCoreCode } from './decision.js';
import { isVerifierError } from './errors.js';
import { findPhysicalCard, isPhysicalCardTap, type PhysicalCardTap } from './physical-card.js';
import { subjectProblem } from './policy/evaluate-policy.js';
import { createPassbackState, type PassbackSnapshot, type PassbackState } from './policy/passback-state.js';
import {
  createPolicyEvaluator,
  type PolicyEvaluator,
  type PolicyStepOutcome,
  type PolicySubject,
  type ReaderContext,
} from './policy-step.js';
import { type ReplayFields, readReplayFields } from './read-replay-fields.js';
import { type ReplayJournalResult, replayJournal as readReplayJournal } from './replay/journal.js';
import {
  createMemoryReplayStore,
  type MemoryReplayStore,
  type ReplayInsertHook,
} from './replay/memory-replay-store.js';
import type { ReplayStore } from './replay/replay-store.js';
import { restoreMemoryReplayStore } from './replay/restore-memory-replay-store.js';
import { decodeReplaySnapshot, SNAPSHOT_ENTRY_BYTES } from './replay/snapshot-format.js';
import { replayDigest } from './replay-key.js';
import { decodeVerifierState, encodeVerifierState } from './snapshot.js';
import { createTimeFloor } from './time-floor.js';
import {
  createTrustStore,
  type Held,
  type HeldMaterial,
  type HeldVersions,
  type LoadResult,
  type VersionMark,
} from './trust-store.js';

/** Maximum age of each kind of trust material, seconds, counted from its signed `iat`. */
export interface MaxStaleness {
  /**
   * Default 2 592 000 (30 days). Applies to each authority's trust list on its own: a decision
   * needs the lists that vouch for it to be fresh (see {@link Verifier.verify}), not every list held.
   */
  readonly trustList?: number;
  /** Default 86 400 (1 day): a lost card must stop working within a day. */
  readonly statusList?: number;
  /** Default 604 800 (7 days). */
  readonly roster?: number;
}

/** Defaults of {@link MaxStaleness}, seconds. */
export const DEFAULT_MAX_STALENESS: Readonly<Required<MaxStaleness>> = Object.freeze({
  trustList: 30 * 86_400,
  statusList: 86_400,
  roster: 7 * 86_400,
});

/** What one scan has established so far, for its decision (one object per scan). */
interface Scan {
  /** The card's school and id, once known (a denial reports them). */
  school: string | undefined;
  cardId: string | undefined;
  /** Staleness warnings, allocated on the first one. */
  warnings: StaleWarning[] | undefined;
  /**
   * The trust material the scan checks with and its audit names: the store's, taken once when the
   * scan starts (a reference), replaced only by {@link revalidate} when material loaded during an
   * await is checked too. Each time it is set, its trust lists are checked at once
   * (`checkListsAtStart`): with one list held, that is the only check of its age for the scan.
   */
  material: HeldMaterial | undefined;
  /** How many times material loaded during this scan was checked again (bounded). */
  rechecks: number;
  /**
   * The authority whose trust list vouched for the card (admitted its credential, or the roster
   * for a compact code or a tap), once known: the audit names that list.
   */
  authority: string | undefined;
}

/**
 * Most times one scan re-checks material loaded while it awaited (each re-check of a new trust list
 * or roster may await again); past it the scan is denied rather than chase a reader being reloaded
 * in a loop.
 */
const MAX_RECHECKS = 4;

/** The `warnings` of a decision without any (shared, so frozen). */
const NO_WARNINGS: readonly StaleWarning[] = Object.freeze([]);

/** Options of {@link createVerifier}. All durations are seconds. */
export interface VerifierOptions {
  /**
   * The trust anchors: root keys that may sign trust lists. Configuration, never from the network.
   * Copied at creation (a later change to the array changes nothing).
   *
   * One root key (the usual reader: the platform's root, or its school's) may be given bare: it then
   * anchors whatever authority its trust lists state. Several root keys (the platform's and a
   * school's, two schools', or an old and a new root during a rotation) must each be given as
   * `{ key, authority }`, `authority` being `"platform"` or the school id whose trust lists the key
   * signs: a list is then loaded only when the root key that verifies it anchors the authority it
   * states (else `UNKNOWN_ISSUER`), so one school's root cannot speak for the platform or for another
   * school (spec §3). A bare key among several is a `TypeError` at creation.
   *
   * The verifier holds one trust list per authority (the authority each list states), each with its
   * own version, rollback protection and staleness: the platform's list and a school's are used at
   * once, and a list of one authority never replaces or drops another's (see
   * {@link Verifier.loadTrustList}).
   */
  readonly rootKeys: readonly (PublicKey | TrustAnchor)[];
  /**
   * Signature backend. Default: WebCrypto when `globalThis.crypto.subtle` exists, else @noble/curves.
   * On Node, `nodeBackend` from `@campus-card/verifier/node` is fastest.
   */
  readonly backend?: SignatureBackend;
  /**
   * The replay window. Default: an in-memory store of `replayCapacity` entries, included in
   * {@link Verifier.snapshot}. A store you pass (e.g. Redis) persists itself and is not part of the snapshot.
   */
  readonly replayStore?: ReplayStore;
  /**
   * Called synchronously each time the verifier's own (memory) replay window records a code, before
   * `verify` returns the acceptance. Append the record to a journal and fsync it here
   * (`encodeJournalRecord(digest, expiresAt)`): a power cut right after a scan then cannot reopen the
   * window. Read the journal back at boot with {@link Verifier.replayJournal}. If the hook throws,
   * the scan is denied (`REPLAY_STORE_UNAVAILABLE`): fail closed. Ignored with a custom `replayStore`.
   * The `digest` array is reused for the next scan: encode or copy it in the hook, do not keep it.
   */
  readonly onReplayRecord?: ReplayInsertHook;
  /** Capacity of the default memory replay store (peak scans/s × window, with margin). Default 100 000. */
  readonly replayCapacity?: number;
  /** Oldest accepted code: `t ≥ now − maxAge`. Default 90. Finite. */
  readonly maxAge?: number;
  /** Newest accepted code: `t ≤ now + maxFuture`. Default 30. Finite. */
  readonly maxFuture?: number;
  /** Tolerance for a credential `iat` ahead of `now`. Default 30. Finite. */
  readonly clockSkew?: number;
  /** Maximum age of each material; past it scans are denied `*_STALE`. See {@link DEFAULT_MAX_STALENESS}. */
  readonly maxStaleness?: MaxStaleness;
  /**
   * Grace period past `maxStaleness`, per material: within it a scan is admitted with a warning
   * (`warnings: ['STATUS_LIST_STALE']`) instead of denied. Default none (deny). `Infinity` allowed.
   */
  readonly stalenessGrace?: MaxStaleness;
  /** How far the clock may read below the trusted-time floor before every scan is denied. Default 300. */
  readonly floorTolerance?: number;
  /** A signed time more than this ahead of the clock never moves the floor. Default 300. */
  readonly maxFutureSignedTime?: number;
  /** Size of the LRU cache of verified credentials. Default 4096; 0 disables it. */
  readonly credentialCacheSize?: number;
  /**
   * Trust list versions below this are refused as a rollback, even before any list was loaded
   * (a version known at provisioning), whatever the list's authority. Configuration: re-applied at
   * each creation, not written into snapshots. Default none.
   */
  readonly minTrustListVersion?: number;
  /** Most (zone, school, card) anti-passback entries held (see `createPassbackState`). Default 100 000. */
  readonly passbackMaxEntries?: number;
  /**
   * Evaluates reader policies (step 6). Default: `validatePolicy` + `evaluatePolicy` with the
   * verifier's anti-passback state. A reader without `policy` admits every valid card.
   */
  readonly policyEvaluator?: PolicyEvaluator;
}

/** Options of a scan. */
export interface VerifyContext {
  /**
   * The reader's clock, unix seconds. Required: there is no hidden clock. Every method that takes
   * a `now` refuses one that is not a number from 0 to below 10^11 (NaN, a negative reading, or
   * milliseconds such as `Date.now()`): `verify`, `recordUse` and the loads answer
   * `INTERNAL_ERROR` and change nothing; the other methods throw a `TypeError`.
   */
  readonly now: number;
  /** The reader: its id, policy, zone and direction. */
  readonly reader: ReaderContext;
}

/**
 * Whether `now` can be a reading of a clock in unix seconds: a number from 0 (1970, a clock reset)
 * to below 10^11 (the year 5138); a fraction is allowed. A reading in milliseconds (`Date.now()`,
 * about 1.7 × 10^12) is the usual mistake: it would be recorded as the last sync and make every code
 * look too old. A negative reading is a bug no clock makes, and the replay window cannot hold it.
 */
function isUnixSeconds(now: unknown): now is number {
  return typeof now === 'number' && now >= 0 && now < 1e11;
}

/** The message for a `now` that {@link isUnixSeconds} refuses. */
function nowProblem(what: string, now: unknown): string {
  if (typeof now !== 'number' || Number.isNaN(now)) return `${what} (unix seconds) is required`;
  if (now < 0) return `${what} must be unix seconds, not negative (${now})`;
  return `${what} must be unix seconds, not milliseconds (${now} is after the year 5000)`;
}

/** Staleness of one piece of material, as {@link Verifier.status} reports it. */
export interface MaterialStatus extends MaterialStamp {
  /**
   * Seconds: `now − iat`, or `now −` the time it was loaded when that is earlier than its iat
   * (material signed ahead of this reader's clock ages from when it was loaded).
   */
  readonly age: number;
  /** The configured maximum age, seconds. */
  readonly maxAge: number;
  /** `fresh` (age ≤ max), `grace` (admitted with a warning) or `stale` (denied). */
  readonly state: 'fresh' | 'grace' | 'stale';
}

/** What {@link Verifier.status} reports. */
export interface VerifierStatus {
  /**
   * The trust list held, or `null` if none. With lists of several authorities held, the one in
   * the worst state (`stale`, then `grace`, then the oldest): an operator alert on this field is
   * raised when any of them needs a sync. Each authority's is in {@link trustLists}.
   */
  readonly trustList: MaterialStatus | null;
  /**
   * Every trust list held, by authority (`"platform"` or a school id; spec §3). Always set by
   * `createVerifier` (optional in the type so that a stand-in verifier written before it compiles).
   */
  readonly trustLists?: Readonly<Record<string, MaterialStatus>>;
  /** One entry per school. */
  readonly statusLists: Readonly<Record<string, MaterialStatus>>;
  readonly roster: (MaterialStatus & { readonly school: string }) | null;
  readonly lastSyncAt: number | null;
  readonly clock: number;
  readonly floor: number;
  /** Whether `now` reads below the floor by more than the tolerance (every scan denied). */
  readonly clockBeforeFloor: boolean;
  /** Entries and capacity of the default memory replay store (absent for an external store). */
  readonly replay?: { readonly size: number; readonly capacity: number };
}

/** What {@link Verifier.recordUse} answers. */
export type RecordUseResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: ReasonCode; readonly detail: string };

/** The verifier `createVerifier` returns. */
export interface Verifier {
  /**
   * Verifies and installs a trust list signed by one of the root keys. Lists are held one per
   * authority (the `authority` the list states, `result.authority`): the list replaces its own
   * authority's list only, and versions are compared with that authority's only. Refuses a rollback
   * (a lower version, or the same version with other bytes); the same bytes again are a no-op. On
   * failure the last good copy stays in use. Held status lists and roster are re-verified against
   * the lists held now: one that no list lets its key sign any longer is dropped (`dropped`), one
   * that another authority's list vouches for stays.
   *
   * @param options.now - The device clock, unix seconds: recorded as the last sync, and the list's
   *   `iat` may move the trusted-time floor.
   */
  loadTrustList(bytes: Uint8Array, options: { now: number }): LoadResult;
  /** Verifies and installs a school's status list (needs a trust list). Same rules as {@link loadTrustList}. */
  loadStatusList(bytes: Uint8Array, options: { now: number }): LoadResult;
  /** Verifies and installs the roster (needs a trust list). Same rules as {@link loadTrustList}. */
  loadRoster(bytes: Uint8Array, options: { now: number }): LoadResult;
  /**
   * Decides whether a scanned QR code (text or presentation bytes) or a tapped physical card
   * (`{ uid }`) is admitted at `reader` now. Never throws, never rejects: any failure, including a
   * bug, is a denial (fail closed).
   *
   * With trust lists of several authorities held, any of them may admit the card's credential
   * (spec §3); the trust lists that vouch for the decision (the one that admitted the credential,
   * or the roster for a compact code or a tap, and one that admitted the school's status list)
   * must not be stale (`TRUST_LIST_STALE`; a warning within the grace), while another authority's
   * stale list plays no part. Every list stale denies before decoding. A credential whose issuer key
   * id no list held has is denied `UNKNOWN_ISSUER`, or `TRUST_LIST_STALE` (`coreCode`
   * `ERR_UNKNOWN_ISSUER`) while a list held is stale past its grace: that authority's newer list,
   * not synced, may have the key.
   */
  verify(input: string | Uint8Array | PhysicalCardTap, context: VerifyContext): Promise<Decision>;
  /**
   * Records a QR code as used here without deciding on it: a code another authority admitted (the
   * platform, asked online after an offline denial for missing or stale material), so that the
   * same code cannot pass this reader offline afterwards. The entry is keyed on the code's signed
   * fields, as a scan's is, and kept as long as a scan's would be. The code is decoded, not
   * verified: call this only for a code that was verified elsewhere. Never throws, never rejects.
   *
   * @returns `{ ok: true }` when the code is now recorded (or too old for this reader to admit
   *   anyway); else `{ ok: false, reason }`: `REPLAYED` (this reader saw the code before: deny),
   *   `BAD_FORMAT`, `CODE_TOO_OLD` (older than what the window still holds), `REPLAY_STORE_FULL`,
   *   `REPLAY_STORE_UNAVAILABLE` or `INTERNAL_ERROR`. Deny on any of them: fail closed.
   */
  recordUse(input: string | Uint8Array, options: { now: number }): Promise<RecordUseResult>;
  /**
   * Applies the reader's policy alone (step 6) to a card identified some other way: a gate that
   * asked the platform online about a card it could not decide offline. The same rules as an
   * offline scan, with this verifier's anti-passback state, so the same card gets the same
   * decision online and offline (C2). A pass is recorded (anti-passback) only by its `commit()`,
   * which the caller makes once it admits the card.
   *
   * @throws `TypeError` without a `context.now` in unix seconds (see {@link VerifyContext.now}) or a
   *   `context.reader`, or for a `subject` that is not a {@link PolicySubject} (`school` and `cardId`
   *   non-empty strings, `role` a known role, `groups` an array of strings, `scene` absent or a
   *   non-negative integer, `mode` absent or a known mode); `Error` for an invalid reader policy
   *   (which {@link Verifier.verify} answers `INTERNAL_ERROR`).
   */
  checkPolicy(subject: PolicySubject, context: VerifyContext): PolicyStepOutcome;
  /**
   * The state to persist across a reboot: the memory replay window, the trusted-time floor, the
   * held versions (rollback protection), the last sync time and the anti-passback state.
   *
   * @param options.now - unix seconds: replay entries expired at `now` are left out.
   */
  snapshot(options: { now: number }): Uint8Array;
  /**
   * Reads back a replay journal written through `onReplayRecord` (at boot, after {@link restore}):
   * every entry live at `now` goes back into the window. Entries already expired at `now` are left
   * out, and the verifier then refuses as `CODE_TOO_OLD` every code whose entry would have expired by
   * the latest of them (`expiredUntil`), so a clock that read fast at boot and is corrected backwards
   * cannot let a used code in again; fresh codes are unaffected. A torn last record is ignored;
   * truncate the journal file to the returned `validByteLength` before appending again. After the
   * next {@link snapshot} is safely stored, the journal can be emptied.
   *
   * @throws `TypeError` with a custom `replayStore`, or for a `now` that is not unix seconds;
   *   `VerifierError` `ERR_REPLAY_JOURNAL_CORRUPT` for damage before the last record; `RangeError`
   *   when the journal's live entries (with those the window holds) do not fit in `replayCapacity`
   *   (raise it: live entries are never dropped). After either error the window holds only part of
   *   the journal: create the verifier again with the cause fixed, or call
   *   {@link markReplayWindowLost}, before serving.
   */
  replayJournal(bytes: Uint8Array, options: { now: number }): ReplayJournalResult;
  /**
   * Restores a {@link snapshot} (at boot, before serving and before loading material). The floor
   * and held versions only move forward; material already loaded that the restored versions refuse
   * as a rollback (an older copy) is dropped. The memory replay window holds the snapshot's entries
   * and those it held already, and the anti-passback state the snapshot's with the passages recorded
   * already laid over it: a restore never forgets a code used or a card inside, even one made after
   * the first scans. Material loaded before the restore whose same bytes the snapshot had seen
   * loaded earlier ages from that earlier load (spec §7.1). On any throw the verifier is unchanged.
   *
   * @throws `VerifierError` `ERR_REPLAY_SNAPSHOT_CORRUPT` for a corrupt or damaged snapshot (its
   *   checksum fails) or one of an unknown format; `VerifierError` `ERR_PASSBACK_SNAPSHOT_INVALID`
   *   for a malformed anti-passback part; `RangeError` when the snapshot holds more live replay
   *   entries than `replayCapacity` (raise it: live entries are never dropped).
   */
  restore(bytes: Uint8Array, options: { now: number }): void;
  /**
   * Declares the memory replay window lost: at boot, when the {@link snapshot} or the replay journal
   * could not be read back (disk damage, a deleted state file, a crash with no journal). Every code
   * that could have been accepted before, one whose time `t` is at most `now + maxFuture`, is then
   * refused as `CODE_TOO_OLD`; codes made after that are admitted as usual. So for up to
   * `maxFuture` seconds after the call the reader admits no code, and for `maxAge + maxFuture`
   * seconds only codes made after the call: fail closed, never a second use. The mark is part of
   * the next snapshot. Call it after loading the stored material: `now` is raised to the
   * trusted-time floor, the newest signed time seen, when that is later (a boot clock reading slow).
   *
   * @param options.now - The latest clock reading known before the restart, or the device clock at
   *   boot if later, unix seconds. A reading that is too early lets codes of the lost window in; one
   *   too late refuses fresh codes until the clock passes it.
   * @returns The newest code time refused from now on (`max(now, floor) + maxFuture`), or `null`
   *   with a custom `replayStore`, whose window lives outside this verifier and was not lost.
   * @throws `TypeError` for a `now` that is not unix seconds.
   */
  markReplayWindowLost(options: { now: number }): number | null;
  /**
   * The staleness of each material, the floor and the last sync, for a device dashboard.
   *
   * @param now - unix seconds.
   * @throws `TypeError` for a `now` that is not unix seconds (not finite, or milliseconds).
   */
  status(now: number): VerifierStatus;
}

function nonNegative(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0) {
    throw new RangeError(`createVerifier: "${name}" must be a non-negative number of seconds`);
  }
  return v;
}

/** {@link nonNegative}, finite too: the time window's bounds (a replay entry must expire). */
function finiteNonNegative(name: string, v: number | undefined, fallback: number): number {
  const s = nonNegative(name, v, fallback);
  if (s === Number.POSITIVE_INFINITY) {
    throw new RangeError(`createVerifier: "${name}" must be a finite number of seconds`);
  }
  return s;
}

/** No authority: nothing vouches (shared, so frozen). */
const NO_AUTHORITIES: readonly string[] = Object.freeze([]);

/** Rank of a staleness state, freshest first. */
const RANK = { fresh: 0, grace: 1, stale: 2 } as const;

/**
 * The most trust lists whose ranks one number encodes exactly, in base 3 (3^33 < 2^53): with more,
 * the order is built again on each scan where some list is not fresh.
 */
const MAX_RANKED_LISTS = 33;

const STALE: Readonly<Record<Material, StaleWarning>> = {
  trustList: 'TRUST_LIST_STALE',
  statusList: 'STATUS_LIST_STALE',
  roster: 'ROSTER_STALE',
};

/** A policy step that admitted the subject (its `commit` runs once the scan is accepted). */
type PolicyOutcome = Extract<PolicyStepOutcome, { ok: true }>;

class Denial {
  constructor(
    readonly reason: ReasonCode,
    readonly detail: string,
    readonly coreCode?: CampusCardErrorCode,
    readonly rule?: string,
  ) {}
}

/** What a failure means for a scan (or a `recordUse`): a {@link Denial}, whatever was thrown. */
function denialOf(error: unknown): Denial {
  if (error instanceof Denial) return error;
  if (isCampusCardError(error)) return new Denial(reasonForCoreCode(error.code), error.message, error.code);
  if (isVerifierError(error, 'ERR_REPLAY_STORE_UNAVAILABLE')) {
    return new Denial('REPLAY_STORE_UNAVAILABLE', error.message);
  }
  return new Denial(
    'INTERNAL_ERROR',
    error instanceof Error ? `${error.name}: ${error.message}` : String(error),
  );
}

/**
 * Copies into `into` every entry of `from` live at `now` (`restoreEntry` keeps the later expiry of
 * an entry both hold).
 *
 * @throws `RangeError` when `into` cannot hold them all (its capacity is too small).
 */
function copyLiveEntries(from: MemoryReplayStore, into: MemoryReplayStore, now: number): void {
  const { count, entries } = decodeReplaySnapshot(from.snapshot(now));
  const view = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  for (let k = 0; k < count; k++) {
    const o = k * SNAPSHOT_ENTRY_BYTES;
    into.restoreEntry(entries.subarray(o, o + 16), view.getUint32(o + 16, true), now);
  }
}

/**
 * A snapshot's anti-passback part with the entries `held` now laid over it: the rows of both, the
 * held ones last, so that they win (a passage recorded since boot is newer than the snapshot).
 *
 * @throws `VerifierError` `ERR_PASSBACK_SNAPSHOT_INVALID` for a malformed part.
 */
function withPassbackHeld(part: unknown, held: PassbackState): PassbackSnapshot {
  const read = createPassbackState({ maxEntries: held.maxEntries });
  read.restore(part); // validates, and reads a version 1 part as version 2 rows
  return { version: 2, entries: [...read.snapshot().entries, ...held.snapshot().entries] };
}

/**
 * Creates an offline verifier. It does no I/O: feed it trust material with the `load*` methods
 * and scans with {@link Verifier.verify}.
 *
 * Checks, in order (spec §5.3): the clock against the trusted-time floor and the trust list's
 * age; decode; issuer signature (or roster entry); holder signature; time window; status list (and
 * its age); reader policies; replay window. A code is recorded as used only after every other check
 * passed, and the anti-passback state moves only after the replay window said the code is fresh.
 * With an asynchronous replay store (Redis), the policies are evaluated once more when the store has
 * answered `'fresh'`, right before the anti-passback state moves, so two codes of one card scanned at
 * once cannot both pass anti-passback (the second is `POLICY_DENIED`; its code stays used).
 * A scan checks with the trust material held when it starts, and its audit names that material;
 * material loaded while it awaits (an asynchronous signature backend or replay store) is checked
 * too before it is accepted (a card revoked, an issuer key dropped meanwhile is denied), and then
 * the audit names the new material. Loaded during the signature check, it is checked before the
 * code is recorded as used; loaded while the replay store answers, after: a code denied then stays
 * used (fail closed).
 *
 * @throws `TypeError` / `RangeError` for bad options.
 * @example
 * ```ts
 * const verifier = createVerifier({ rootKeys: [rootPublicKey] });
 * verifier.loadTrustList(trustListBytes, { now });
 * verifier.loadStatusList(statusListBytes, { now });
 * const decision = await verifier.verify(qrText, { now, reader: { id: 'gate-3' } });
 * if (decision.accepted) openGate(); else showReason(decision.reason);
 * ```
 */
export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('createVerifier: options required');
  if (!Array.isArray(options.rootKeys) || options.rootKeys.length === 0) {
    throw new TypeError('createVerifier: "rootKeys" must be a non-empty array of public keys');
  }
  // a copy: the trust anchors are the keys given now, whatever becomes of the caller's array
  let rootKeys: readonly (PublicKey | TrustAnchor)[];
  try {
    rootKeys = checkTrustAnchors(options.rootKeys);
  } catch (error) {
    throw new TypeError(`createVerifier: ${(error as Error).message}`);
  }
  // One bare root key: one source of trust lists, whatever authority they state (trust-store.ts)
  const singleRoot = rootKeys.length === 1 && !('authority' in (rootKeys[0] as object));
  /**
   * The versions a snapshot keeps. With a single bare root, also the newest trust-list mark as the
   * authority-unknown `trustList` mark of the format before lists were held per authority: a
   * reader whose firmware is rolled back to such a version reads that mark and keeps refusing
   * rollbacks (it ignores `trustLists`); this version reads it as the floor the single root's
   * lists already have.
   */
  const snapshotVersions = (): HeldVersions => {
    const v = trust.versions;
    if (!singleRoot || v.trustList !== undefined) return v;
    let newest: VersionMark | undefined;
    for (const m of Object.values(v.trustLists))
      if (newest === undefined || m.version > newest.version) newest = m;
    return newest === undefined ? v : { ...v, trustList: newest };
  };
  const backend = options.backend ?? defaultBackend();
  const maxAge = finiteNonNegative('maxAge', options.maxAge, 90);
  const maxFuture = finiteNonNegative('maxFuture', options.maxFuture, 30);
  const clockSkew = finiteNonNegative('clockSkew', options.clockSkew, 30);
  const maxStale: Record<Material, number> = {
    trustList: nonNegative(
      'maxStaleness.trustList',
      options.maxStaleness?.trustList,
      DEFAULT_MAX_STALENESS.trustList,
    ),
    statusList: nonNegative(
      'maxStaleness.statusList',
      options.maxStaleness?.statusList,
      DEFAULT_MAX_STALENESS.statusList,
    ),
    roster: nonNegative('maxStaleness.roster', options.maxStaleness?.roster, DEFAULT_MAX_STALENESS.roster),
  };
  const grace: Record<Material, number> = {
    trustList: nonNegative('stalenessGrace.trustList', options.stalenessGrace?.trustList, 0),
    statusList: nonNegative('stalenessGrace.statusList', options.stalenessGrace?.statusList, 0),
    roster: nonNegative('stalenessGrace.roster', options.stalenessGrace?.roster, 0),
  };
  const floor = createTimeFloor(
    nonNegative('maxFutureSignedTime', options.maxFutureSignedTime, 300),
    nonNegative('floorTolerance', options.floorTolerance, 300),
  );
  const replayCapacity = options.replayCapacity ?? 100_000;
  const ownStore = options.replayStore === undefined;
  const onInsert = options.onReplayRecord;
  let replay: ReplayStore =
    options.replayStore ??
    createMemoryReplayStore(onInsert ? { capacity: replayCapacity, onInsert } : { capacity: replayCapacity });
  const credentialCache = createCredentialCache(options.credentialCacheSize ?? DEFAULT_CREDENTIAL_CACHE_SIZE);
  const passback = createPassbackState(
    options.passbackMaxEntries === undefined ? {} : { maxEntries: options.passbackMaxEntries },
  );
  const evaluatePolicy = options.policyEvaluator ?? createPolicyEvaluator(passback);
  const minTl = options.minTrustListVersion;
  if (minTl !== undefined && (!Number.isSafeInteger(minTl) || minTl < 0))
    throw new RangeError('"minTrustListVersion" must be a uint');
  // (configuration: applied to every authority's list, never part of a snapshot)
  const trust = createTrustStore(rootKeys, minTl === undefined ? {} : { minTrustListVersion: minTl });
  let lastSyncAt: number | null = null;
  /**
   * Latest `now` the replay window has seen, or the mark of a lost window if later: a code expiring
   * by it is refused as too old (see `VerifierState.replayClock`).
   */
  let replayClock = 0;
  const digestScratch = new Uint8Array(16);

  /** When each held document was first loaded (the `now` of its load), by its stamp. */
  const loadedAt = new WeakMap<MaterialStamp, number>();
  /**
   * The time a document's age counts from: its iat, or when it was loaded if that is earlier. A
   * document signed ahead of this reader's clock (a signer whose clock runs fast) is not young for
   * longer than it has been held.
   */
  function ageFrom(stamp: MaterialStamp): number {
    const loaded = loadedAt.get(stamp);
    return loaded === undefined || loaded >= stamp.iat ? stamp.iat : loaded;
  }

  function staleness(material: Material, stamp: MaterialStamp, now: number): 'fresh' | 'grace' | 'stale' {
    const age = now - ageFrom(stamp);
    if (age <= maxStale[material]) return 'fresh';
    return age <= maxStale[material] + grace[material] ? 'grace' : 'stale';
  }

  /** The status list of `school` in `m`. */
  function statusListOf(m: HeldMaterial, school: string): HeldMaterial['statusLists'][number] | undefined {
    const held = m.statusLists;
    for (let i = 0; i < held.length; i++) {
      const h = held[i] as HeldMaterial['statusLists'][number];
      if (h.value.school === school) return h;
    }
    return undefined;
  }

  function statusListStamp(m: HeldMaterial, school: string | undefined): MaterialStamp | null {
    if (school !== undefined) return statusListOf(m, school)?.stamp ?? null;
    return m.statusLists.length === 1
      ? (m.statusLists[0] as HeldMaterial['statusLists'][number]).stamp
      : null;
  }

  /** The last audit handed out: decisions with the same inputs share it (it is frozen). */
  let lastAudit: DecisionAudit | undefined;
  /**
   * The audit of a decision at `now` taken with material `m` (the scan's; else what is held now):
   * `authority` is that of the trust list that vouched for the card, once known.
   */
  function audit(
    now: number,
    school: string | undefined,
    m: HeldMaterial = trust.material,
    authority: string | undefined = undefined,
  ): DecisionAudit {
    let trustListAuthority: string | null = authority ?? null;
    let trustList: MaterialStamp | null = null;
    const only = m.trustLists.length === 1 ? (m.trustLists[0] as Held<TrustList>) : undefined;
    if (only !== undefined && (authority === undefined || authority === only.value.authority)) {
      // (one list: no lookup by authority on a scan's path)
      trustListAuthority = only.value.authority;
      trustList = only.stamp;
    } else if (trustListAuthority !== null) {
      trustList = m.trustListStamps[trustListAuthority] ?? null;
    }
    const trustLists = m.trustListStamps;
    const statusList = statusListStamp(m, school);
    const roster = m.roster?.stamp ?? null;
    const a = lastAudit;
    if (
      a !== undefined &&
      a.clock === now &&
      a.trustList === trustList &&
      a.trustListAuthority === trustListAuthority &&
      a.trustLists === trustLists &&
      a.statusList === statusList &&
      a.roster === roster &&
      a.lastSyncAt === lastSyncAt &&
      a.floor === floor.value
    ) {
      return a;
    }
    lastAudit = Object.freeze({
      trustList,
      trustListAuthority,
      trustLists,
      statusList,
      roster,
      lastSyncAt,
      clock: now,
      floor: floor.value,
    });
    return lastAudit;
  }

  /**
   * The last order {@link orderedLists} built, while some list was not fresh: the trust lists of
   * `material` sorted for the ranks that `ranks` encodes (each list's, in held order, as the digits
   * of a base-3 number). A scan with the same material at the same ranks (every scan between two
   * of a list's age boundaries) takes it as it is; another material or another rank builds a new one.
   */
  let listOrder:
    | { readonly material: HeldMaterial; readonly ranks: number; readonly lists: readonly TrustList[] }
    | undefined;

  /**
   * The trust lists of `m` in the order core tries their entries for a scan at `now`: the fresh
   * ones first, then those in their grace period, then the stale ones, each group platform first
   * then schools by id. So a card that a fresh list admits is admitted by a fresh list (a stale
   * platform list does not fail a card a fresh school list vouches for), and one that only a stale
   * list admits is denied `TRUST_LIST_STALE` (see {@link checkVouched}), as is one that no list
   * admits while one is stale (see {@link staleOverUnknownIssuer}). While every list is fresh,
   * the held array itself (no allocation); otherwise the array built for the same material at the
   * same ranks, while it is so ({@link listOrder}): one sort for each material and change of rank.
   *
   * @throws {@link Denial} `NO_TRUST_LIST` when none is held; `TRUST_LIST_STALE` when every one is
   *   stale (nothing could vouch for a card: the check that comes before decoding).
   */
  function orderedLists(m: HeldMaterial, now: number): readonly TrustList[] {
    const held = m.trustLists;
    if (held.length === 0) throw new Denial('NO_TRUST_LIST', 'no trust list loaded');
    let worst = 0;
    let best = 2;
    // the rank of each list, in held order, as the digits of one base-3 number
    let ranks = 0;
    for (let i = 0; i < held.length; i++) {
      const r = RANK[staleness('trustList', (held[i] as Held<TrustList>).stamp, now)];
      if (r > worst) worst = r;
      if (r < best) best = r;
      ranks = ranks * 3 + r;
    }
    if (worst === 0) return m.trustListArray;
    if (best === 2) {
      const several = held.length > 1;
      const ages = held.map((h) => listAge(h, several, now));
      throw new Denial('TRUST_LIST_STALE', `${ages.join(', ')} (max ${maxStale.trustList} s)`);
    }
    // (NaN, too many lists for an exact number, equals no key: the order is built again)
    if (held.length > MAX_RANKED_LISTS) ranks = Number.NaN;
    const cached = listOrder;
    if (cached !== undefined && cached.material === m && cached.ranks === ranks) return cached.lists;
    const lists = Object.freeze(
      held
        .map((h) => ({ r: RANK[staleness('trustList', h.stamp, now)], v: h.value }))
        .sort((a, b) => a.r - b.r)
        .map((x) => x.v),
    );
    listOrder = { material: m, ranks, lists };
    return lists;
  }

  /**
   * The trust-list check before a code is decoded: none held, or every one stale, denies (nothing
   * could vouch for a card). The lists that vouch for this card are checked once it is known
   * ({@link checkVouchers}); a reader of one list checks it here, once for the whole scan, and
   * warns about it first, as it always has.
   *
   * @returns The lists in the order core tries them at `now` ({@link orderedLists}).
   */
  function checkListsAtStart(m: HeldMaterial, now: number, scan: Scan): readonly TrustList[] {
    if (m.trustLists.length !== 1) return orderedLists(m, now);
    // (the same denial and detail as orderedLists for one list; its age computed once)
    checkStale('trustList', (m.trustLists[0] as Held<TrustList>).stamp, now, scan);
    return m.trustListArray;
  }

  /** How a message names a held trust list: `trustList` alone, `trustList of <authority>` among several. */
  function listName(h: Held<TrustList>, several: boolean): string {
    return several ? `trustList of ${h.value.authority}` : 'trustList';
  }

  /** A held trust list and its age at `now`, for a denial: `trustList of 10001 v5 is 1728000 s old`. */
  function listAge(h: Held<TrustList>, several: boolean, now: number): string {
    return `${listName(h, several)} v${h.stamp.version} is ${now - ageFrom(h.stamp)} s old`;
  }

  /**
   * Checks that a trust list of `m` whose authority is one of `authorities` vouches for what a
   * decision relies on (the card, or its school's status list) at `now`: the freshest of them must
   * not be stale (a warning within its grace period). Returns it.
   *
   * @throws {@link Denial} `TRUST_LIST_STALE` when it is stale; `NO_TRUST_LIST` when none is held
   *   (cannot happen: material no list held vouches for is dropped; fail closed all the same).
   */
  function checkVouched(
    authorities: string | readonly string[],
    m: HeldMaterial,
    now: number,
    scan: Scan,
  ): Held<TrustList> {
    let best: Held<TrustList> | undefined;
    let rank = 3;
    const held = m.trustLists;
    for (let i = 0; i < held.length; i++) {
      const h = held[i] as Held<TrustList>;
      const a = h.value.authority;
      if (typeof authorities === 'string' ? a !== authorities : !authorities.includes(a)) continue;
      const r = RANK[staleness('trustList', h.stamp, now)];
      if (r < rank) {
        rank = r;
        best = h;
      }
    }
    if (best === undefined) throw new Denial('NO_TRUST_LIST', 'no trust list held vouches for the card');
    // (named only when it is not fresh: no string is built on the usual path)
    if (rank > 0) checkStale('trustList', best.stamp, now, scan, listName(best, held.length > 1));
    return best;
  }

  /**
   * The trust lists vouching for a decision, in `m`: the one that admitted the card (its
   * credential, or the roster for a compact code or a tap: the audit names it) and one that
   * vouches for its school's status list must each be fresh. Lists of other authorities, stale or
   * not, play no part.
   *
   * @returns The status list of `school` in `m`, if any (its own age is the caller's to check).
   */
  function checkVouchers(
    m: HeldMaterial,
    mode: PresentationMode,
    issuerAuthority: string | undefined,
    school: string,
    now: number,
    scan: Scan,
  ): Held<StatusList> | undefined {
    const card =
      mode === 'full' ? (issuerAuthority ?? NO_AUTHORITIES) : (m.roster?.authorities ?? NO_AUTHORITIES);
    const sl = statusListOf(m, school);
    if (m.trustLists.length === 1) {
      // One list: its age was checked (a denial, or a warning) when the scan took this material
      // (checkListsAtStart, in run and revalidate). It vouches for the card and the status list,
      // or nothing does (fail closed).
      const only = (m.trustLists[0] as Held<TrustList>).value.authority;
      if (
        (typeof card === 'string' ? card !== only : !card.includes(only)) ||
        (sl !== undefined && !sl.authorities.includes(only))
      ) {
        throw new Denial('NO_TRUST_LIST', 'no trust list held vouches for the card');
      }
      scan.authority = only;
      return sl;
    }
    scan.authority = checkVouched(card, m, now, scan).value.authority;
    if (sl !== undefined) checkVouched(sl.authorities, m, now, scan);
    return sl;
  }

  /** Adds a warning or throws a denial for stale material (`name` names it in the detail). */
  function checkStale(
    material: Material,
    stamp: MaterialStamp,
    now: number,
    scan: Scan,
    name: string = material,
  ): void {
    const s = staleness(material, stamp, now);
    if (s === 'fresh') return;
    const code = STALE[material];
    if (s === 'grace') {
      // (a re-check after material changed may check the same material's age again: warned once)
      if (scan.warnings === undefined) scan.warnings = [code];
      else if (!scan.warnings.includes(code)) scan.warnings.push(code);
      return;
    }
    throw new Denial(
      code,
      `${name} v${stamp.version} is ${now - ageFrom(stamp)} s old (max ${maxStale[material]} s)`,
    );
  }

  function afterLoad(result: LoadResult, now: number): LoadResult {
    if (result.ok) {
      lastSyncAt = lastSyncAt === null ? now : Math.max(lastSyncAt, now);
      floor.observe(result.iat, now);
      const held =
        result.material === 'trustList'
          ? result.authority === undefined
            ? undefined
            : trust.trustLists.get(result.authority)?.stamp
          : result.material === 'roster'
            ? trust.roster?.stamp
            : result.school === undefined
              ? undefined
              : trust.statusLists.get(result.school)?.stamp;
      // the first load of these bytes counts (loading them again changes nothing), also across a
      // reboot: their version mark, restored from the snapshot, keeps when they were first loaded
      if (held !== undefined && !loadedAt.has(held)) {
        const mark = markOf(result);
        const first = mark?.loadedAt;
        const at = first !== undefined && first < now ? first : now;
        loadedAt.set(held, at);
        if (mark !== undefined && first !== at) setMark(result, { ...mark, loadedAt: at });
      }
    }
    return result;
  }

  /** The version mark of the material a successful load holds now (the mark of its bytes). */
  function markOf(result: LoadResult & { ok: true }): VersionMark | undefined {
    const v = trust.versions;
    if (result.material === 'trustList')
      return result.authority === undefined ? undefined : v.trustLists[result.authority];
    if (result.school === undefined) return undefined;
    return result.material === 'roster' ? v.rosters[result.school] : v.statusLists[result.school];
  }

  /**
   * After a restore: material held already (loaded before it) whose bytes the snapshot saw loaded
   * earlier ages from that earlier load (the marks keep the earlier time, see `raiseVersions`).
   */
  function adoptFirstLoads(): void {
    const v = trust.versions;
    const adopt = (stamp: MaterialStamp | undefined, mark: VersionMark | undefined): void => {
      const first = mark?.loadedAt;
      if (stamp === undefined || first === undefined || mark?.version !== stamp.version) return;
      const at = loadedAt.get(stamp);
      if (at === undefined || first < at) loadedAt.set(stamp, first);
    };
    for (const [authority, h] of trust.trustLists) adopt(h.stamp, v.trustLists[authority]);
    for (const [school, h] of trust.statusLists) adopt(h.stamp, v.statusLists[school]);
    const r = trust.roster;
    if (r !== undefined) adopt(r.stamp, v.rosters[r.value.roster.school]);
  }

  function setMark(result: LoadResult & { ok: true }, mark: VersionMark): void {
    const v = trust.versions;
    if (result.material === 'trustList') {
      if (result.authority !== undefined) v.trustLists[result.authority] = mark;
    } else if (result.school === undefined) return;
    else if (result.material === 'roster') v.rosters[result.school] = mark;
    else v.statusLists[result.school] = mark;
  }

  function checkLoadNow(options: { now: number } | undefined, material: Material): LoadResult | undefined {
    const now = options?.now;
    if (isUnixSeconds(now)) return undefined;
    return {
      ok: false,
      material,
      reason: 'INTERNAL_ERROR',
      detail: nowProblem('options.now', now),
    };
  }

  interface Admitted {
    readonly school: string;
    readonly cardId: string;
    readonly role: PolicySubject['role'];
    readonly groups: readonly string[];
    readonly linkedCards: readonly string[];
    readonly physicalCard: string | undefined;
    readonly mode: PresentationMode;
    readonly scene: number | undefined;
    readonly t: number | undefined;
    readonly statusIndex: number;
  }

  /**
   * Steps 1 to 7 of a scan. Synchronous while the signature backend and the replay store answer
   * synchronously (node:crypto, noble, the memory store): then it returns the decision itself, and
   * a Promise only once something answered with one. Throws (or rejects) a denial.
   */
  function run(
    input: string | Uint8Array | PhysicalCardTap,
    ctx: VerifyContext,
    now: number,
    known: Scan,
  ): AcceptedDecision | Promise<AcceptedDecision> {
    if (floor.isClockBehind(now)) {
      throw new Denial('CLOCK_BEFORE_FLOOR', `clock ${now} is before the trusted-time floor ${floor.value}`);
    }
    // one snapshot of the material for the whole scan (see Scan.material, revalidate)
    const material = trust.material;
    known.material = material;
    const lists = checkListsAtStart(material, now, known);

    if (isPhysicalCardTap(input)) {
      // (synchronous to the decision: no material can be loaded before it is made)
      const roster = material.roster;
      if (roster === undefined) throw new Denial('UNKNOWN_CARD', 'physical card tap but no roster loaded');
      checkStale('roster', roster.stamp, now, known);
      const card = findPhysicalCard(roster.value, input.uid);
      if (card === undefined) throw new Denial('UNKNOWN_CARD', 'physical card not in the roster');
      const school = roster.value.roster.school;
      known.school = school;
      known.cardId = card.cardId;
      if (now >= card.exp) throw new Denial('EXPIRED', 'the card has expired', 'ERR_CREDENTIAL_EXPIRED');
      checkStatus(material.statusListArray, school, card.statusIndex);
      const admitted: Admitted = {
        school,
        cardId: card.cardId,
        role: card.role,
        groups: card.groups,
        linkedCards: [],
        physicalCard: undefined,
        mode: 'physical',
        scene: undefined,
        t: undefined,
        statusIndex: card.statusIndex,
      };
      return admit(undefined, admitted, undefined, ctx, now, known);
    }
    if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
      throw new Denial(
        'BAD_FORMAT',
        'input must be QR text, presentation bytes or { uid: Uint8Array } (the UID bytes, not hex text)',
        'ERR_INPUT_TYPE',
      );
    }
    // one object of one shape per scan, roster or not
    const verified = checkPresentation(input, material, lists, now);
    return verified instanceof Promise
      ? verified.then((v) => presented(input, v, ctx, now, known))
      : presented(input, verified, ctx, now, known);
  }

  /**
   * Steps 1 to 5 of a scanned code, with material `m` and its trust lists in the order
   * {@link checkListsAtStart} returned for this scan.
   */
  function checkPresentation(
    input: string | Uint8Array,
    m: HeldMaterial,
    lists: readonly TrustList[],
    now: number,
  ): VerifiedPresentation | Promise<VerifiedPresentation> {
    // one object of one shape per scan, roster or not
    return verifyPresentationEager(input, {
      trustList: lists,
      statusLists: m.statusListArray,
      roster: m.roster?.value,
      now,
      maxAge,
      maxFuture,
      clockSkew,
      backend,
      credentialCache,
    });
  }

  /** After steps 1 to 5 of a scanned code. */
  function presented(
    input: string | Uint8Array,
    verified: VerifiedPresentation,
    ctx: VerifyContext,
    now: number,
    known: Scan,
  ): AcceptedDecision | Promise<AcceptedDecision> {
    known.school = verified.school;
    known.cardId = verified.cardId;
    // Material loaded while a signature check awaited is checked before the code is recorded as
    // used (synchronously nothing can be loaded: one reference comparison).
    if (known.material !== trust.material) {
      const v = revalidate(input, verified, now, known);
      return v instanceof Promise
        ? v.then((w) => admit(input, w, w, ctx, now, known))
        : admit(input, v, v, ctx, now, known);
    }
    const roster = (known.material as HeldMaterial).roster;
    if (verified.mode === 'compact' && roster !== undefined) checkStale('roster', roster.stamp, now, known);
    return admit(input, verified, verified, ctx, now, known);
  }

  /**
   * `verified`, checked against the material held now if it is no longer the scan's
   * (`scan.material`): a status list, trust list or roster was loaded (or dropped) while the scan
   * awaited its signature backend or its replay store. The scan then checks with the new material
   * and its audit names it: the material ages again, and the card's status in the current list;
   * after a new trust list (issuer keys) or, for a compact code, a new roster, the whole code is
   * verified again (which may await, and then the check repeats, at most {@link MAX_RECHECKS}
   * times). Throws the denial when a check fails: a card revoked, an issuer key dropped, while the
   * scan was in flight is never accepted. Returns `verified` itself when nothing changed.
   */
  function revalidate(
    input: string | Uint8Array,
    verified: VerifiedPresentation,
    now: number,
    scan: Scan,
  ): VerifiedPresentation | Promise<VerifiedPresentation> {
    const m = trust.material;
    const before = scan.material;
    if (m === before) return verified;
    scan.rechecks++;
    if (scan.rechecks > MAX_RECHECKS) {
      throw new Denial('INTERNAL_ERROR', 'the trust material kept changing during the scan');
    }
    scan.material = m;
    scan.warnings = undefined;
    scan.authority = undefined;
    if (m.trustLists.length === 0) {
      throw new Denial('NO_TRUST_LIST', 'the trust list was dropped during the scan');
    }
    const lists = checkListsAtStart(m, now, scan);
    if (
      before !== undefined &&
      m.trustListArray === before.trustListArray &&
      (verified.mode === 'full' || m.roster === before.roster)
    ) {
      // the signatures and what vouched for them stand: the status (and ages) are checked anew
      checkStatus(m.statusListArray, verified.school, verified.statusIndex);
      materialAges(verified, m, now, scan);
      return verified;
    }
    const again = checkPresentation(input, m, lists, now);
    const next = (v: VerifiedPresentation) => {
      scan.school = v.school;
      scan.cardId = v.cardId;
      materialAges(v, m, now, scan);
      // loaded again while this awaited? (`scan.material` is `m`: a no-op unless it was)
      return revalidate(input, v, now, scan);
    };
    return again instanceof Promise ? again.then(next) : next(again);
  }

  /** The trust lists vouching for the card, the roster's (compact code) and the status list's age, in `m`. */
  function materialAges(verified: VerifiedPresentation, m: HeldMaterial, now: number, scan: Scan): void {
    const sl = checkVouchers(m, verified.mode, verified.issuerAuthority, verified.school, now, scan);
    if (verified.mode === 'compact' && m.roster !== undefined)
      checkStale('roster', m.roster.stamp, now, scan);
    if (sl !== undefined) checkStale('statusList', sl.stamp, now, scan);
  }

  /** Status list age, policies (step 6) and the replay window (step 7). */
  function admit(
    input: string | Uint8Array | undefined,
    admitted: Admitted,
    verified: VerifiedPresentation | undefined,
    ctx: VerifyContext,
    now: number,
    scan: Scan,
  ): AcceptedDecision | Promise<AcceptedDecision> {
    const m = scan.material as HeldMaterial;
    const sl = checkVouchers(m, admitted.mode, verified?.issuerAuthority, admitted.school, now, scan);
    if (sl !== undefined) checkStale('statusList', sl.stamp, now, scan);

    // 6. policies
    const subject: PolicySubject = {
      school: admitted.school,
      cardId: admitted.cardId,
      role: admitted.role,
      groups: admitted.groups,
      mode: admitted.mode,
      scene: admitted.scene,
    };
    const policy = admittedBy(evaluatePolicy(subject, ctx.reader, now));
    if (verified === undefined || input === undefined) return accept(admitted, policy, now, scan);

    // 7. replay window: only now is the code recorded as used
    const pending = checkAndInsertCode(verified, now);
    if (typeof pending === 'string') return replayed(pending, admitted, verified, policy, now, scan);
    return Promise.resolve(pending).then(
      (outcome) => {
        checkReplayOutcome(outcome);
        // While the store answered, trust material may have been loaded (a status list revoking
        // the card, a trust list dropping its issuer key): check the code against it. The store
        // has recorded the code by now and cannot forget it: a code denied here stays used (fail
        // closed; its holder shows a new code, which meets the same checks).
        const v = revalidate(input, verified, now, scan);
        return v instanceof Promise
          ? v.then((w) => settled(outcome, w, ctx, now, scan))
          : settled(outcome, v, ctx, now, scan);
      },
      (error: unknown) => {
        throw replayFailure(error);
      },
    );
  }

  /**
   * The end of a scan whose replay store answered asynchronously, its material checked again
   * ({@link revalidate}). While the store answered, another scan of this card may have been accepted
   * and committed (two codes of one card scanned at once, at two readers this verifier serves): the
   * policy seen before the await may be stale. Evaluate it again, synchronously, right before commit.
   * (The synchronous path needs no second look: nothing runs between evaluation and commit.)
   */
  function settled(
    outcome: Awaited<ReturnType<ReplayStore['checkAndInsert']>>,
    verified: VerifiedPresentation,
    ctx: VerifyContext,
    now: number,
    scan: Scan,
  ): AcceptedDecision {
    const subject: PolicySubject = {
      school: verified.school,
      cardId: verified.cardId,
      role: verified.role,
      groups: verified.groups,
      mode: verified.mode,
      scene: verified.scene,
    };
    return replayed(
      outcome,
      verified,
      verified,
      admittedBy(evaluatePolicy(subject, ctx.reader, now)),
      now,
      scan,
    );
  }

  /**
   * Checks a code's signed fields against the replay window and records them (step 7, and
   * {@link Verifier.recordUse}). Throws `CODE_TOO_OLD` for a code whose entry the window may
   * already have dropped at a later clock reading (the clock moved back after a snapshot, within
   * the floor tolerance, or a lost window's mark): refused rather than the window reopened. A code
   * already expired at `now` (only `recordUse` meets one: a scan's time window refuses it first)
   * has nothing to hold: `'fresh'`, the replay clock raised so that it is refused should the
   * clock be set back.
   */
  function checkAndInsertCode(f: ReplayFields, now: number): ReturnType<ReplayStore['checkAndInsert']> {
    const expiresAt = f.t + maxAge + 1;
    if (expiresAt <= replayClock) {
      throw new Denial(
        'CODE_TOO_OLD',
        `code expired at ${expiresAt}, and the replay window holds no code expiring by ${replayClock}`,
      );
    }
    if (now > replayClock) replayClock = now;
    if (expiresAt <= now) return 'fresh';
    // the in-memory store reads the digest before it returns (its journal hook may not keep it):
    // one scratch buffer serves every scan; another store gets a digest of its own
    const digest = replayDigest(f.holderKid, f.cardId, f.t, f.nonce, ownStore ? digestScratch : undefined);
    try {
      return replay.checkAndInsert(digest, expiresAt, now);
    } catch (error) {
      throw replayFailure(error);
    }
  }

  /** The policy step's outcome if it admitted the subject; else throws its `POLICY_DENIED`. */
  function admittedBy(policy: PolicyStepOutcome): PolicyOutcome {
    if (!policy.ok)
      throw new Denial('POLICY_DENIED', `${policy.kind}: ${policy.detail}`, undefined, policy.rule);
    return policy;
  }

  /** Throws the denial of a replay store's answer other than `'fresh'`. */
  function checkReplayOutcome(outcome: Awaited<ReturnType<ReplayStore['checkAndInsert']>>): void {
    if (outcome === 'replayed') throw new Denial('REPLAYED', 'this code was already used');
    if (outcome === 'full') throw new Denial('REPLAY_STORE_FULL', 'the replay window is full');
    if (outcome !== 'fresh') throw new Denial('INTERNAL_ERROR', `replay store answered ${String(outcome)}`);
  }

  /** The error a failing replay store becomes. */
  function replayFailure(error: unknown): unknown {
    // the journal hook failed: the code is recorded in memory but maybe not on disk; fail closed
    if (ownStore && onInsert && !isVerifierError(error)) {
      return new Denial('REPLAY_STORE_UNAVAILABLE', `replay journal write failed: ${String(error)}`);
    }
    return error;
  }

  function replayed(
    outcome: Awaited<ReturnType<ReplayStore['checkAndInsert']>>,
    admitted: Admitted,
    verified: VerifiedPresentation,
    policy: PolicyOutcome,
    now: number,
    scan: Scan,
  ): AcceptedDecision {
    checkReplayOutcome(outcome);
    floor.observe(verified.t, now);
    return accept(admitted, policy, now, scan);
  }

  function accept(admitted: Admitted, policy: PolicyOutcome, now: number, scan: Scan): AcceptedDecision {
    policy.commit();
    return {
      accepted: true,
      school: admitted.school,
      role: admitted.role,
      cardId: admitted.cardId,
      groups: admitted.groups,
      linkedCards: admitted.linkedCards,
      physicalCard: admitted.physicalCard,
      mode: admitted.mode,
      scene: admitted.scene,
      t: admitted.t,
      warnings: scan.warnings ?? NO_WARNINGS,
      audit: audit(now, admitted.school, scan.material, scan.authority),
    };
  }

  /**
   * `denial`, unless it is core's `ERR_UNKNOWN_ISSUER` (no trust list of `m` has the credential's
   * issuer key id) while a list of `m` is stale past its grace at `now`: that authority's newer
   * list, which this reader has not synced, may well have the key, so the scan is denied
   * `TRUST_LIST_STALE` (the core code kept), naming the stale lists as {@link orderedLists} does,
   * as a reader holding that list alone would say. A list within its grace changes nothing (as one
   * list alone). Only on a denial's path: the ages are computed here, never on a scan admitted.
   */
  function staleOverUnknownIssuer(denial: Denial, now: number, m: HeldMaterial | undefined): Denial {
    if (denial.coreCode !== 'ERR_UNKNOWN_ISSUER' || m === undefined) return denial;
    const held = m.trustLists;
    const several = held.length > 1;
    const ages: string[] = [];
    for (const h of held) {
      if (staleness('trustList', h.stamp, now) !== 'stale') continue;
      ages.push(listAge(h, several, now));
    }
    if (ages.length === 0) return denial;
    return new Denial(
      'TRUST_LIST_STALE',
      `${ages.join(', ')} (max ${maxStale.trustList} s), and no fresh trust list has the credential's issuer key id`,
      denial.coreCode,
      denial.rule,
    );
  }

  function deny(error: unknown, now: number, known: Scan): DeniedDecision {
    const { reason, detail, coreCode, rule } = staleOverUnknownIssuer(denialOf(error), now, known.material);
    // a check after both signatures (time window, status) names the card it was about
    if (isCampusCardError(error) && error.subject !== undefined && known.cardId === undefined) {
      known.school = error.subject.school;
      known.cardId = error.subject.cardId;
      known.authority ??= error.subject.issuerAuthority;
    }
    const d: {
      accepted: false;
      reason: ReasonCode;
      detail: string;
      audit: DecisionAudit;
      coreCode?: CampusCardErrorCode;
      rule?: string;
      cardId?: string;
      school?: string;
    } = { accepted: false, reason, detail, audit: audit(now, known.school, known.material, known.authority) };
    if (coreCode !== undefined) d.coreCode = coreCode;
    if (rule !== undefined) d.rule = rule;
    if (known.cardId !== undefined) d.cardId = known.cardId;
    if (known.school !== undefined) d.school = known.school;
    return d;
  }

  /** {@link deny}, and a bare denial should even that fail: never throws. */
  function safeDeny(error: unknown, now: number, known: Scan): DeniedDecision {
    try {
      return deny(error, now, known);
    } catch {
      return {
        accepted: false,
        reason: 'INTERNAL_ERROR',
        detail: 'unexpected failure',
        audit: {
          trustList: null,
          statusList: null,
          roster: null,
          lastSyncAt: null,
          clock: now,
          floor: 0,
        },
      };
    }
  }

  const RECORDED: RecordUseResult = Object.freeze({ ok: true });

  /** A {@link Verifier.recordUse} failure: its reason, as a scan would be denied. */
  function useRefused(error: unknown): RecordUseResult {
    const { reason, detail } = denialOf(error);
    return { ok: false, reason, detail };
  }

  return {
    loadTrustList(bytes, opts) {
      return checkLoadNow(opts, 'trustList') ?? afterLoad(trust.loadTrustList(bytes), opts.now);
    },
    loadStatusList(bytes, opts) {
      return checkLoadNow(opts, 'statusList') ?? afterLoad(trust.loadStatusList(bytes), opts.now);
    },
    loadRoster(bytes, opts) {
      return checkLoadNow(opts, 'roster') ?? afterLoad(trust.loadRoster(bytes), opts.now);
    },
    verify(input, context) {
      const known: Scan = {
        school: undefined,
        cardId: undefined,
        warnings: undefined,
        material: undefined,
        rechecks: 0,
        authority: undefined,
      };
      let now = Number.NaN;
      try {
        now = context?.now;
        if (!isUnixSeconds(now)) {
          const problem = nowProblem('context.now', now);
          now = Number.NaN;
          throw new Denial('INTERNAL_ERROR', problem);
        }
        if (typeof context.reader !== 'object' || context.reader === null) {
          throw new Denial('INTERNAL_ERROR', 'context.reader is required');
        }
        const decision = run(input, context, now, known);
        if (decision instanceof Promise) {
          const at = now;
          return decision.then(undefined, (error: unknown) => safeDeny(error, at, known));
        }
        return Promise.resolve(decision);
      } catch (error) {
        return Promise.resolve(safeDeny(error, now, known));
      }
    },
    recordUse(input, opts) {
      const now = opts?.now;
      if (!isUnixSeconds(now)) {
        return Promise.resolve({
          ok: false,
          reason: 'INTERNAL_ERROR',
          detail: `recordUse: ${nowProblem('options.now', now)}`,
        });
      }
      try {
        if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
          throw new Denial('BAD_FORMAT', 'input must be QR text or presentation bytes', 'ERR_INPUT_TYPE');
        }
        const pending = checkAndInsertCode(readReplayFields(input), now);
        return Promise.resolve(pending)
          .then(
            (outcome) => {
              checkReplayOutcome(outcome);
              return RECORDED;
            },
            (error: unknown) => {
              throw replayFailure(error);
            },
          )
          .catch(useRefused);
      } catch (error) {
        return Promise.resolve(useRefused(error));
      }
    },
    checkPolicy(subject, context) {
      const now = context?.now;
      if (!isUnixSeconds(now)) {
        throw new TypeError(`checkPolicy: ${nowProblem('context.now', now)}`);
      }
      if (typeof context.reader !== 'object' || context.reader === null) {
        throw new TypeError('checkPolicy: context.reader is required');
      }
      // a custom policyEvaluator sees only well-formed subjects too
      const problem = subjectProblem(subject);
      if (problem !== undefined) throw new TypeError(`checkPolicy: ${problem}`);
      return evaluatePolicy(subject, context.reader, now);
    },
    snapshot(opts) {
      const now = opts?.now;
      if (!isUnixSeconds(now)) throw new TypeError(`snapshot: ${nowProblem('options.now', now)}`);
      return encodeVerifierState({
        floor: floor.value,
        replayClock,
        lastSyncAt,
        versions: snapshotVersions(),
        passback: passback.snapshot(),
        // entries are dropped only by a clock an accepted scan has vouched for, never by `now` alone
        replay: ownStore ? (replay as MemoryReplayStore).snapshot(Math.min(now, replayClock)) : undefined,
      });
    },
    restore(bytes, opts) {
      const now = opts?.now;
      if (!isUnixSeconds(now)) throw new TypeError(`restore: ${nowProblem('options.now', now)}`);
      const state = decodeVerifierState(bytes);
      // Like the floor and the versions, the replay window and the anti-passback state only move
      // forward: what this verifier recorded before the restore (a restore after the first scans)
      // is kept beside the snapshot's, or a code used since would pass again, a card inside enter
      // again. Both are built first, so that a throw leaves the verifier unchanged.
      const mergedPassback =
        state.passback === undefined ? undefined : withPassbackHeld(state.passback, passback);
      const clock = Math.min(now, Math.max(replayClock, state.replayClock));
      let restored: MemoryReplayStore | undefined;
      if (ownStore && state.replay !== undefined) {
        restored = restoreMemoryReplayStore(
          state.replay,
          onInsert
            ? { capacity: replayCapacity, now: clock, onInsert }
            : { capacity: replayCapacity, now: clock },
        );
        copyLiveEntries(replay as MemoryReplayStore, restored, clock);
      }
      floor.raise(state.floor);
      if (state.replayClock > replayClock) replayClock = state.replayClock;
      trust.raiseVersions(state.versions);
      adoptFirstLoads();
      if (state.lastSyncAt !== null) lastSyncAt = Math.max(lastSyncAt ?? state.lastSyncAt, state.lastSyncAt);
      if (mergedPassback !== undefined) passback.restore(mergedPassback);
      if (restored !== undefined) replay = restored;
    },
    markReplayWindowLost(opts) {
      const now = opts?.now;
      if (!isUnixSeconds(now)) {
        throw new TypeError(`markReplayWindowLost: ${nowProblem('options.now', now)}`);
      }
      if (!ownStore) return null;
      // a code with t ≤ now + maxFuture expires by now + maxFuture + maxAge + 1: all are refused.
      // The trusted-time floor (the newest signed time seen: material, accepted codes) stands in
      // for a boot clock that reads slow.
      const refusedThrough = Math.max(now, floor.value) + maxFuture;
      const until = refusedThrough + maxAge + 1;
      if (until > replayClock) replayClock = until;
      return refusedThrough;
    },
    replayJournal(bytes, opts) {
      if (!ownStore) throw new TypeError('replayJournal: the verifier uses a custom replay store');
      const now = opts?.now;
      if (!isUnixSeconds(now)) throw new TypeError(`replayJournal: ${nowProblem('options.now', now)}`);
      // The store reclaims entries only at a clock the window has vouched for (as restore does),
      // never at a boot clock that may read fast: an entry of the snapshot dropped at such a `now`
      // would be forgotten, and its code accepted again once the clock is set back.
      let result: ReplayJournalResult;
      try {
        result = readReplayJournal(bytes, replay as MemoryReplayStore, now, Math.min(now, replayClock));
      } catch (err) {
        // part of the journal went in: whatever expired by `now` is refused as too old from here
        if (now > replayClock) replayClock = now;
        throw err;
      }
      // records skipped as expired at `now` are forgotten: should the clock later read earlier (a
      // fast boot clock corrected backwards), their codes must be refused as too old, not accepted
      if (result.expiredUntil > replayClock) replayClock = result.expiredUntil;
      return result;
    },
    status(now) {
      if (!isUnixSeconds(now)) throw new TypeError(`status: ${nowProblem('now', now)}`);
      const ms = <T extends MaterialStamp>(material: Material, stamp: T): MaterialStatus => ({
        version: stamp.version,
        iat: stamp.iat,
        age: now - ageFrom(stamp),
        maxAge: maxStale[material],
        state: staleness(material, stamp, now),
      });
      const statusLists: Record<string, MaterialStatus> = Object.create(null); // keyed by school id (data)
      for (const [school, h] of trust.statusLists) statusLists[school] = ms('statusList', h.stamp);
      // keyed by authority (data), platform first then schools by id
      const trustLists: Record<string, MaterialStatus> = Object.create(null);
      let worst: MaterialStatus | null = null;
      for (const h of trust.material.trustLists) {
        const s = ms('trustList', h.stamp);
        trustLists[h.value.authority] = s;
        if (
          worst === null ||
          RANK[s.state] > RANK[worst.state] ||
          (s.state === worst.state && s.age > worst.age)
        )
          worst = s;
      }
      const r = trust.roster;
      const base = {
        trustList: worst,
        trustLists,
        statusLists,
        roster: r ? { ...ms('roster', r.stamp), school: r.value.roster.school } : null,
        lastSyncAt,
        clock: now,
        floor: floor.value,
        clockBeforeFloor: floor.isClockBehind(now),
      };
      return ownStore
        ? { ...base, replay: { size: (replay as MemoryReplayStore).size, capacity: replayCapacity } }
        : base;
    },
  };
}
