/**
 * Turns a verifier decision into the event the platform stores (`DeviceEvent`), with the
 * decision's audit (issue 7 §3).
 *
 * @module
 */
import type { DecisionAuditJson, DeviceEvent, EventKind } from '@campus-card/core/api';
import type { Decision, DecisionAudit, MaterialStamp, PhysicalCardTap } from '@campus-card/verifier';
import type { UnnumberedEvent } from './outbox.js';

/** What a reader records besides the decision. */
export interface RecordOptions {
  /** What the device did: `access`, `attendance`, `pickup`, `library_enter`, `library_borrow`, `library_return`, `checkin`, `dorm_lock`. */
  readonly kind: EventKind;
  /** Direction of passage, if the reader knows it. */
  readonly direction?: 'in' | 'out';
  /**
   * The scanned input. The QR text of an accepted scan is uploaded with the card id (the
   * platform's one-use registry of codes); for an unknown card the UID of a physical tap or the
   * QR text is uploaded instead of a card id.
   */
  readonly input?: string | Uint8Array | PhysicalCardTap;
  /** Library: the book (≤ 64 characters). */
  readonly itemId?: string;
  /** The decision came from the online identity fallback (the code is already consumed online). */
  readonly online?: boolean;
  /** When it happened, epoch ms. Default: the decision's clock reading. */
  readonly occurredAtMs?: number;
  /**
   * The reader's zone (1 to 64 characters), for a device serving several; `scan` passes the
   * reader's `zone`. Default (or when longer): the zone the device is registered with.
   */
  readonly zone?: string;
}

const QR_TEXT = /^CC1:[0-9A-Z $%*+\-./:]*$/;

/** RFC 3339 UTC, second precision. */
export function isoSeconds(unixSeconds: number): string {
  return new Date(Math.floor(unixSeconds) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function stampJson(s: MaterialStamp | null): DecisionAuditJson['trust_list'] {
  return s === null ? null : { version: s.version, signed_at: isoSeconds(s.iat) };
}

/** The audit of a decision in the upload format (times as RFC 3339). */
export function auditToJson(
  audit: DecisionAudit,
  extra: { warnings?: readonly string[]; online?: boolean; fallbackClock: number },
): DecisionAuditJson {
  const clock = Number.isFinite(audit.clock) ? audit.clock : extra.fallbackClock;
  const out: {
    -readonly [K in keyof DecisionAuditJson]: DecisionAuditJson[K];
  } = {
    trust_list: stampJson(audit.trustList),
    status_list: stampJson(audit.statusList),
    roster: stampJson(audit.roster),
    last_sync_at: audit.lastSyncAt === null ? null : isoSeconds(audit.lastSyncAt),
    clock: isoSeconds(clock),
    floor: audit.floor > 0 ? isoSeconds(audit.floor) : null,
  };
  if (extra.warnings !== undefined && extra.warnings.length > 0) out.warnings = [...extra.warnings];
  if (extra.online === true) out.online = true;
  return out;
}

function uidHex(tap: PhysicalCardTap): string | undefined {
  const hex = Buffer.from(tap.uid).toString('hex');
  return hex.length >= 8 && hex.length <= 32 ? hex : undefined;
}

/**
 * The fields of an event that come from the reader's options rather than the decision: kind,
 * time, direction, zone and item. A time that is not a finite number gives an `occurred_at` the
 * contract refuses, so the event fails validation instead of throwing.
 */
export function recordFields(
  options: Omit<RecordOptions, 'input' | 'online'>,
  occurredMs: number,
): Pick<DeviceEvent, 'kind' | 'occurred_at' | 'direction' | 'zone' | 'item_id'> {
  const ev: { -readonly [K in keyof DeviceEvent]?: DeviceEvent[K] } = {
    kind: options.kind,
    occurred_at: Number.isFinite(occurredMs) ? isoSeconds(occurredMs / 1000) : String(occurredMs),
  };
  if (options.direction !== undefined) ev.direction = options.direction;
  // a zone the contract cannot take (empty, over 64 characters) leaves the device's own zone
  if (options.zone !== undefined && options.zone.length > 0 && options.zone.length <= 64)
    ev.zone = options.zone;
  if (options.itemId !== undefined) ev.item_id = options.itemId;
  return ev as Pick<DeviceEvent, 'kind' | 'occurred_at' | 'direction' | 'zone' | 'item_id'>;
}

/**
 * Builds the (unnumbered) event of a decision. The card is identified by the card id whenever
 * the decision names it (an accepted offline QR scan also carries its QR text, for the platform's
 * one-use registry); otherwise by the UID of a physical tap, else by the QR text. The card id
 * comes first because the platform re-verifies a QR text against its current status list: a code
 * admitted before its card was reported lost would no longer resolve. Texts that are not campus
 * card QR codes are never uploaded.
 */
export function eventFromDecision(
  decision: Decision,
  options: RecordOptions,
  nowMs: number,
): UnnumberedEvent {
  const clock = Number.isFinite(decision.audit.clock) ? decision.audit.clock : Math.floor(nowMs / 1000);
  const occurred = options.occurredAtMs ?? clock * 1000;
  const input = options.input;
  const qr = typeof input === 'string' && input.length <= 1024 && QR_TEXT.test(input) ? input : undefined;
  const tap =
    typeof input === 'object' && input !== null && !(input instanceof Uint8Array) ? input : undefined;
  const ev: { -readonly [K in keyof DeviceEvent]?: DeviceEvent[K] } = {
    ...recordFields(options, occurred),
    decision: decision.accepted ? 'allowed' : 'denied',
  };
  const cardId = decision.cardId;
  if (cardId !== undefined) {
    ev.card_id = cardId;
    // the code too, for the platform's one-use registry (not for a code already consumed online)
    if (decision.accepted && options.online !== true && qr !== undefined) ev.qr_text = qr;
  } else if (tap !== undefined && uidHex(tap) !== undefined) ev.uid_hex = uidHex(tap) as string;
  else if (qr !== undefined) ev.qr_text = qr;
  if (!decision.accepted) {
    ev.reason = decision.reason;
    // the contract takes up to 64 characters: a longer rule id is cut (it still tells which rule)
    if (decision.rule !== undefined && decision.rule.length > 0) ev.rule = decision.rule.slice(0, 64);
  }
  ev.audit = auditToJson(decision.audit, {
    ...(decision.accepted ? { warnings: decision.warnings } : {}),
    ...(options.online === true ? { online: true } : {}),
    fallbackClock: clock,
  });
  return ev as UnnumberedEvent;
}
