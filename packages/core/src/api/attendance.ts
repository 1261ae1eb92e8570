/**
 * Attendance and access domain (I3): batched event upload with per-device sequence numbers,
 * queries by person, class and time.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  describedId,
  Id,
  Page,
  PageQuery,
  PhysicalUidHex,
  POST_ERRORS,
  QrText,
  type RouteDef,
  SIGNED_ERRORS,
  strictObject,
  TimeRangeQuery,
  Timestamp,
} from './common.js';

/** What a device recorded. */
export const EventKind = Type.Union([
  Type.Literal('access'),
  Type.Literal('attendance'),
  Type.Literal('pickup'),
  Type.Literal('library_enter'),
  Type.Literal('library_borrow'),
  Type.Literal('library_return'),
  Type.Literal('checkin'),
  Type.Literal('dorm_lock'),
]);
/** An event kind. */
export type EventKind = Static<typeof EventKind>;

/** Version and signed time of one piece of trust material, as a reader held it. */
export const MaterialStampJson = strictObject({
  version: Type.Integer({ minimum: 0 }),
  signed_at: Timestamp,
});
/** A material stamp. */
export type MaterialStampJson = Static<typeof MaterialStampJson>;

/**
 * The reader's state when it decided (issue 7 §3): which trust material it used, when it last
 * synced, its clock and its trusted-time floor. Answers "was this lost card admitted because the
 * reader had not synced?".
 */
export const DecisionAuditJson = strictObject({
  trust_list: Type.Union([MaterialStampJson, Type.Null()]),
  status_list: Type.Union([MaterialStampJson, Type.Null()]),
  roster: Type.Union([MaterialStampJson, Type.Null()]),
  last_sync_at: Type.Union([Timestamp, Type.Null()]),
  clock: Timestamp,
  floor: Type.Union([Timestamp, Type.Null()], { description: 'Null before any signed time was seen.' }),
  warnings: Type.Optional(
    Type.Array(Type.String({ maxLength: 32 }), {
      maxItems: 8,
      description: 'Staleness warnings of a decision admitted under a grace policy.',
    }),
  ),
  online: Type.Optional(Type.Boolean({ description: 'Decided with the online identity fallback.' })),
});
/** A decision audit, as uploaded. */
export type DecisionAuditJson = Static<typeof DecisionAuditJson>;

/**
 * One event as a device uploads it. Identify the card by `card_id`, `qr_text` or `uid_hex`; when
 * an event carries more than one, the first of them in this order names the card. Each is judged
 * at `occurred_at`, whatever the card's status: a `card_id` names its card's person when the card
 * was valid then by its history (issued by then, give or take the 300 s clock tolerance, and not
 * expired then), else the event is stored unresolved (reason `UNRESOLVED`), as for a code or a
 * UID; a reader's backlog from before its registration may name a card issued no later than the
 * reader was registered.
 */
export const DeviceEvent = strictObject({
  seq: Type.Integer({
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER,
    description: 'Per-device sequence number.',
  }),
  kind: EventKind,
  direction: Type.Optional(Type.Union([Type.Literal('in'), Type.Literal('out')])),
  occurred_at: Timestamp,
  card_id: Type.Optional(Id),
  qr_text: Type.Optional(QrText),
  uid_hex: Type.Optional(PhysicalUidHex),
  decision: Type.Union([Type.Literal('allowed'), Type.Literal('denied')]),
  reason: Type.Optional(Type.String({ maxLength: 64 })),
  item_id: Type.Optional(Type.String({ maxLength: 64, description: 'Library: the book.' })),
  zone: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: "The reader's zone, for a device serving several; default the device's registered zone.",
    }),
  ),
  rule: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'The reader-policy rule that denied the scan (with reason POLICY_DENIED).',
    }),
  ),
  audit: Type.Optional(DecisionAuditJson),
});
/** A device event. */
export type DeviceEvent = Static<typeof DeviceEvent>;

/** Request body: a batch of events. */
export const EventBatchBody = strictObject({
  events: Type.Array(DeviceEvent, {
    minItems: 1,
    maxItems: 1000,
    description:
      'The whole batch is refused (422 `ERR_OCCURRED_AT`, naming the event) when an `occurred_at` is after now, or before the device was registered and more than 30 days ago, beyond the signature clock tolerance (300 s): a device clock gone wrong. The request body is also bounded in bytes: 256 KiB by default (413 `ERR_BODY_TOO_LARGE`), which a batch of events with QR codes and audits reaches well before 1 000 events. Split a batch answered 413 (the gate client halves it). `(device_id, seq)` names one event: the same event sent again is a duplicate (stored and pushed once), and another event under a seq already used (in an earlier batch or this one) refuses the batch with 409 `ERR_CONFLICT`, `errors[]` naming each such `body/events/<i>/seq` (the gate client quarantines it). Two events of one batch under one seq are the same event only when they report the same, down to what names the card as sent (`card_id`, `qr_text`, `uid_hex`); against a stored event, the card is compared as resolved, when both name one.',
  }),
});
/** Event-batch body. */
export type EventBatchBody = Static<typeof EventBatchBody>;

/** The acknowledgement of a batch: move the device's cursor to `acked_seqs`. */
export const EventBatchResult = strictObject({
  accepted: Type.Integer({ minimum: 0 }),
  duplicates: Type.Integer({ minimum: 0 }),
  acked_seqs: Type.Array(Type.Integer(), {
    description:
      "The seq of every event of the batch, in the batch's order, each now stored (new or duplicate): an event sent twice in the batch is listed twice. A batch is stored whole or refused whole (4xx), so every seq sent is acknowledged, and only those: a seq the batch skips (a gap) is not.",
  }),
  max_seq: Type.Union([Type.Integer(), Type.Null()], { description: 'Highest seq stored for this device.' }),
});
/** An event-batch result. */
export type EventBatchResult = Static<typeof EventBatchResult>;

/** A stored event. */
export const StoredEvent = strictObject({
  event_id: Id,
  device_id: Id,
  seq: Type.Integer(),
  kind: EventKind,
  direction: Type.Union([Type.Literal('in'), Type.Literal('out'), Type.Null()]),
  occurred_at: Timestamp,
  received_at: Timestamp,
  person_id: Type.Union([Id, Type.Null()]),
  card_id: Type.Union([Id, Type.Null()]),
  class_id: Type.Union([Id, Type.Null()]),
  zone: Type.String(),
  decision: Type.Union([Type.Literal('allowed'), Type.Literal('denied')]),
  reason: Type.Union([Type.String(), Type.Null()]),
  rule: Type.Union([Type.String(), Type.Null()], {
    description: 'The reader-policy rule that denied, if any.',
  }),
  item_id: Type.Union([Type.String(), Type.Null()]),
  audit: Type.Union([DecisionAuditJson, Type.Null()]),
});
/** A stored event. */
export type StoredEvent = Static<typeof StoredEvent>;

/** Query: events by person, class and time. */
export const ListEventsQuery = strictObject({
  person_id: Type.Optional(Id),
  class_id: Type.Optional(Id),
  school_id: Type.Optional(
    describedId(
      "Only the events of this school's devices: class names such as `7-2` repeat between schools.",
    ),
  ),
  ...TimeRangeQuery,
  ...PageQuery,
  // An event's cursor names its time, device id (up to 64 characters) and seq (up to 2^53 − 1):
  // up to 135 characters, more than the 128 of other lists' cursors.
  cursor: Type.Optional(
    Type.String({
      maxLength: 192,
      ...(PageQuery.cursor.description === undefined ? {} : { description: PageQuery.cursor.description }),
    }),
  ),
});
/** List-events query. */
export type ListEventsQuery = Static<typeof ListEventsQuery>;

/** Attendance routes. */
export const attendanceRoutes = [
  {
    method: 'POST',
    path: '/v1/events/batches',
    operationId: 'uploadEvents',
    summary: 'Upload access and attendance events in a batch, deduplicated by (device_id, seq)',
    tag: 'attendance',
    auth: ['device'],
    body: EventBatchBody,
    responses: { 200: EventBatchResult, ...POST_ERRORS },
    capabilities: ['I3', 'S2', 'S3', 'S4'],
  },
  {
    method: 'GET',
    path: '/v1/events',
    operationId: 'listEvents',
    summary: 'Query events by person, class and time',
    description:
      "A device lists only the events it uploaded itself; the operator lists every device's. The range is `from` inclusive, `to` exclusive, on `occurred_at`; a `to` before `from` is a 400 `ERR_VALIDATION` naming `querystring/to`. Filters combine (AND).",
    tag: 'attendance',
    auth: ['operator', 'device'],
    query: ListEventsQuery,
    responses: {
      200: Page(StoredEvent),
      ...SIGNED_ERRORS,
    },
    capabilities: ['I3'],
  },
] as const satisfies readonly RouteDef[];
