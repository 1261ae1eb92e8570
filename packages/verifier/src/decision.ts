/**
 * The decision `verify` returns: accepted, or denied with a stable reason code; both with an audit.
 *
 * @module
 */
import type { CampusCardErrorCode, Role } from '@campus-card/core';

/**
 * Why a scan was denied. Stable strings: switch on them, log them, upload them.
 *
 * - `BAD_FORMAT`: not a campus card code, or malformed (core `ERR_QR_*`, `ERR_CBOR_*`, `ERR_STRUCTURE`, …).
 * - `BAD_SIGNATURE`: an issuer or holder signature does not verify, or its alg is not the key's.
 * - `UNKNOWN_ISSUER`: no trust-list key has the credential's key id (`TRUST_LIST_STALE` instead
 *   while a trust list held is stale past its grace: see below).
 * - `ISSUER_NOT_ALLOWED_FOR_ROLE` / `ISSUER_NOT_ALLOWED_FOR_SCHOOL` / `ISSUER_KEY_EXPIRED`: the
 *   issuer key's limits in the trust list.
 * - `EXPIRED` / `NOT_YET_VALID`: the card's validity.
 * - `CODE_TOO_OLD` / `CODE_FROM_FUTURE`: the code's time `t` outside `[now − maxAge, now + maxFuture]`.
 *   `CODE_TOO_OLD` also for a code made no later than a lost replay window's mark
 *   (`markReplayWindowLost`), or whose replay entry the window may already have dropped (the clock
 *   set back).
 * - `REVOKED`: the status list says revoked or suspended (lost), or the index is outside it.
 * - `NO_STATUS_LIST`: the reader holds no status list for the card's school (fail closed).
 * - `REPLAYED`: the code was already used. `REPLAY_STORE_FULL`: the replay window is full (fail closed).
 * - `REPLAY_STORE_UNAVAILABLE`: a shared replay store did not answer (fail closed).
 * - `POLICY_DENIED`: a reader policy rule denied; `rule` names it.
 * - `UNKNOWN_CARD`: compact code or physical card not in the roster (or no roster).
 * - `NO_TRUST_LIST`: the reader holds no trust list yet.
 * - `TRUST_LIST_STALE` / `STATUS_LIST_STALE` / `ROSTER_STALE`: that material is older than its
 *   maximum age (issue 7). For trust lists, held one per authority: every list held is stale, or
 *   the list that vouches for the card (admitted its credential or its roster) or for its
 *   school's status list is; another authority's stale list does not deny a card that a list
 *   admits. A credential whose issuer key id no list held has, while some list held is stale past
 *   its grace, is `TRUST_LIST_STALE` too, not `UNKNOWN_ISSUER` (`coreCode` stays
 *   `ERR_UNKNOWN_ISSUER`; `detail` names the stale lists): that authority's newer list, which the
 *   reader has not synced, may have the key. A list within its grace does not change the reason.
 * - `CLOCK_BEFORE_FLOOR`: the device clock reads earlier than the trusted-time floor.
 * - `INTERNAL_ERROR`: an unexpected exception (a bug or a bad argument); fail closed.
 */
export type ReasonCode =
  | 'BAD_FORMAT'
  | 'BAD_SIGNATURE'
  | 'UNKNOWN_ISSUER'
  | 'ISSUER_NOT_ALLOWED_FOR_ROLE'
  | 'ISSUER_NOT_ALLOWED_FOR_SCHOOL'
  | 'ISSUER_KEY_EXPIRED'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'CODE_TOO_OLD'
  | 'CODE_FROM_FUTURE'
  | 'REVOKED'
  | 'NO_STATUS_LIST'
  | 'REPLAYED'
  | 'REPLAY_STORE_FULL'
  | 'REPLAY_STORE_UNAVAILABLE'
  | 'POLICY_DENIED'
  | 'UNKNOWN_CARD'
  | 'NO_TRUST_LIST'
  | 'TRUST_LIST_STALE'
  | 'STATUS_LIST_STALE'
  | 'ROSTER_STALE'
  | 'CLOCK_BEFORE_FLOOR'
  | 'INTERNAL_ERROR';

/** The three kinds of trust material a reader holds. */
export type Material = 'trustList' | 'statusList' | 'roster';

/**
 * A staleness warning on an accepted decision (only when a grace period is configured).
 * `TRUST_LIST_STALE`: a trust list that vouched for this decision (the card's, named by the
 * audit's `trustListAuthority`, or its status list's) is past its maximum age, within the grace.
 */
export type StaleWarning = 'TRUST_LIST_STALE' | 'STATUS_LIST_STALE' | 'ROSTER_STALE';

/** Version and signed time (`iat`, unix seconds) of one piece of trust material. */
export interface MaterialStamp {
  readonly version: number;
  readonly iat: number;
}

/**
 * What every decision records about the reader's state (issue 7 §3), for the uploaded event:
 * "was this lost card admitted because the reader had not synced?".
 */
export interface DecisionAudit {
  /**
   * The trust list that vouched for the card: the one whose entry admitted its credential (full
   * mode), or the roster (compact code, physical card tap). Before that is known (a code denied
   * earlier), the trust list held when it is the only one; else `null` (none held, or several
   * and the card not yet admitted by one). Its authority is {@link trustListAuthority}.
   */
  readonly trustList: MaterialStamp | null;
  /**
   * The authority (`"platform"` or a school id) of {@link trustList}, or `null` when that is
   * `null`. Always set by `createVerifier` (optional in the type so that a stand-in verifier
   * written before it compiles).
   */
  readonly trustListAuthority?: string | null;
  /**
   * Every trust list held at this decision, by authority (spec §3: a reader holds one list per
   * authority). Always set by `createVerifier`, as {@link trustListAuthority}.
   */
  readonly trustLists?: Readonly<Record<string, MaterialStamp>>;
  /** The status list of the card's school (or the only one held, before the school is known), or `null`. */
  readonly statusList: MaterialStamp | null;
  /** The roster held, or `null`. */
  readonly roster: MaterialStamp | null;
  /** The `now` of the last successful load of any material, unix seconds; `null` if never. */
  readonly lastSyncAt: number | null;
  /** The device clock reading of this decision (`now`), unix seconds. */
  readonly clock: number;
  /** The trusted-time floor at this decision, unix seconds (0 before any signed time is seen). */
  readonly floor: number;
}

/** How the card was presented: a full-mode QR, a compact-mode QR, or a physical card tap. */
export type PresentationMode = 'full' | 'compact' | 'physical';

/** An admitted scan. */
export interface AcceptedDecision {
  readonly accepted: true;
  readonly school: string;
  readonly role: Role;
  readonly cardId: string;
  readonly groups: readonly string[];
  /** For parent cards, the linked students' card ids (full mode only; else empty). */
  readonly linkedCards: readonly string[];
  /** The linked physical card number carried by the credential (full mode), if any. */
  readonly physicalCard: string | undefined;
  readonly mode: PresentationMode;
  /** The scene hint of the code (spec §5), if any. */
  readonly scene: number | undefined;
  /** The code's time `t`, unix seconds (`undefined` for a physical card tap). */
  readonly t: number | undefined;
  /** Staleness warnings; empty unless a grace period let stale material through. */
  readonly warnings: readonly StaleWarning[];
  readonly audit: DecisionAudit;
}

/** A denied scan. */
export interface DeniedDecision {
  readonly accepted: false;
  readonly reason: ReasonCode;
  /** For `POLICY_DENIED`: the id of the rule that denied. */
  readonly rule?: string;
  /** A human-readable explanation, for logs (not stable). */
  readonly detail: string;
  /**
   * The `@campus-card/core` error code behind the reason, when there is one (`ERR_UNKNOWN_ISSUER`
   * behind a `TRUST_LIST_STALE` given for an issuer key no list held has, see {@link ReasonCode}).
   */
  readonly coreCode?: CampusCardErrorCode;
  /** The card id, when the denial came after the signatures covering it were checked. */
  readonly cardId?: string;
  /** The school, under the same condition as `cardId`. */
  readonly school?: string;
  readonly audit: DecisionAudit;
}

/** The outcome of `verify`. Narrow on `accepted`. */
export type Decision = AcceptedDecision | DeniedDecision;

const CORE_TO_REASON: Readonly<Record<CampusCardErrorCode, ReasonCode>> = {
  ERR_INPUT_TYPE: 'BAD_FORMAT',
  ERR_INPUT_TOO_LARGE: 'BAD_FORMAT',
  ERR_QR_PREFIX: 'BAD_FORMAT',
  ERR_QR_BASE45: 'BAD_FORMAT',
  ERR_CBOR_MALFORMED: 'BAD_FORMAT',
  ERR_CBOR_TOO_DEEP: 'BAD_FORMAT',
  ERR_CBOR_NOT_DETERMINISTIC: 'BAD_FORMAT',
  ERR_CBOR_UNSUPPORTED_TYPE: 'BAD_FORMAT',
  ERR_STRUCTURE: 'BAD_FORMAT',
  ERR_KEY_INVALID: 'BAD_FORMAT',
  ERR_ALG_NOT_ALLOWED: 'BAD_SIGNATURE',
  ERR_SIGNATURE_INVALID: 'BAD_SIGNATURE',
  ERR_UNKNOWN_ISSUER: 'UNKNOWN_ISSUER',
  ERR_ISSUER_ROLE_NOT_ALLOWED: 'ISSUER_NOT_ALLOWED_FOR_ROLE',
  ERR_ISSUER_SCHOOL_NOT_ALLOWED: 'ISSUER_NOT_ALLOWED_FOR_SCHOOL',
  ERR_ISSUER_KEY_EXPIRED: 'ISSUER_KEY_EXPIRED',
  ERR_CREDENTIAL_EXPIRED: 'EXPIRED',
  ERR_CREDENTIAL_NOT_YET_VALID: 'NOT_YET_VALID',
  ERR_PRESENTATION_TOO_OLD: 'CODE_TOO_OLD',
  ERR_PRESENTATION_FROM_FUTURE: 'CODE_FROM_FUTURE',
  ERR_REVOKED: 'REVOKED',
  ERR_STATUS_INDEX_OUT_OF_RANGE: 'REVOKED',
  ERR_STATUS_LIST_MISSING: 'NO_STATUS_LIST',
  ERR_UNKNOWN_CARD: 'UNKNOWN_CARD',
  // rollback is a load failure; should it ever surface at scan time, the material is unusable
  ERR_ROLLBACK: 'NO_TRUST_LIST',
};

/**
 * The {@link ReasonCode} a `@campus-card/core` error code maps to (`INTERNAL_ERROR` for an
 * unknown code). Out-of-range status indexes are `REVOKED` (fail closed, spec §6.1).
 */
export function reasonForCoreCode(code: string): ReasonCode {
  return Object.hasOwn(CORE_TO_REASON, code) ? CORE_TO_REASON[code as CampusCardErrorCode] : 'INTERNAL_ERROR';
}
