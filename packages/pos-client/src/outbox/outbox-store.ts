/**
 * The outbox contract: a durable queue of offline payments and pending reversals, with
 * acknowledgements. Implementations: {@link createFileOutbox} (fsync'd journal) and
 * {@link createMemoryOutbox} (tests, or devices without storage).
 *
 * @module
 */

/** An offline sale, uploaded later to `POST /v1/payments/offline-batches`. */
export interface OutboxPayment {
  readonly kind: 'payment';
  /** Device sequence number: unique per device, assigned by the store; the platform dedupes by it. */
  readonly seq: number;
  /** Merchant order number; the platform also dedupes by it. */
  readonly outTradeNo: string;
  /** Amount, integer fen (> 0). */
  readonly amountFen: number;
  /** The scanned QR text (`CC1:…`). */
  readonly qrText: string;
  /** When the sale was made, epoch ms (device clock). */
  readonly capturedAt: number;
}

/**
 * A reversal still owed: the payment's outcome was unknown and the platform could not be reached
 * to reverse it. {@link PosClient.sync} reverses it and acknowledges it once the order is final.
 */
export interface OutboxReversal {
  readonly kind: 'reversal';
  /** Journal sequence number, assigned by the store (never sent to the platform). */
  readonly seq: number;
  /** Merchant order number of the payment to reverse. */
  readonly outTradeNo: string;
  /** When the payment was attempted, epoch ms (device clock). */
  readonly capturedAt: number;
}

/** An outbox entry. */
export type OutboxEntry = OutboxPayment | OutboxReversal;

/** Why {@link PosClient.sync} set an offline sale aside instead of uploading it again. */
export interface QuarantineReason {
  /** The platform's error code for the sale sent alone, e.g. `ERR_VALIDATION`. */
  readonly code: string;
  /** The HTTP status of that refusal (400 or 422). */
  readonly status: number;
  /** The platform's explanation (not stable), e.g. the first validation issue. */
  readonly message: string;
  /** When it was set aside, epoch ms (device clock). */
  readonly at: number;
}

/**
 * An offline sale set aside by {@link PosClient.sync}: the platform refuses it as malformed (400 or
 * 422 for the sale sent alone), so it can never be uploaded as it is. It moved no money. Export it
 * for follow-up (lost revenue), then drop it with {@link OutboxStore.ack}; to retry it after a fix,
 * `append` a corrected copy (it gets a new `seq`) and `ack` the quarantined one.
 */
export interface QuarantinedEntry {
  /** The sale as it was queued. */
  readonly entry: OutboxPayment;
  /** Why it was set aside. */
  readonly reason: QuarantineReason;
}

/**
 * A total of booked offline sales (accepted by the platform) captured within one span of time: what
 * the offline caps count, per business day, from {@link OutboxStore.bookedTotals}.
 */
export interface BookedTotal {
  /** Start of the span, epoch ms (inclusive). */
  readonly from: number;
  /** End of the span, epoch ms (exclusive). */
  readonly to: number;
  /** The total, integer fen, of the booked sales captured within it. */
  readonly amountFen: number;
}

/** Options of {@link OutboxStore.ack}. */
export interface AckOptions {
  /**
   * Offline sales among the acknowledged seqs that the platform accepted (booked): they are added
   * to the totals of {@link OutboxStore.bookedTotals} (and {@link OutboxStore.bookedByDay}) in the
   * same durable write. Seqs that are not pending offline sales are ignored.
   */
  readonly booked?: readonly number[];
}

/** An entry before the store assigns its `seq`. */
export type NewOutboxEntry = Omit<OutboxPayment, 'seq'> | Omit<OutboxReversal, 'seq'>;

/**
 * A durable outbox. `append` resolves only once the entry would survive a power cut; `ack` and
 * `quarantine` likewise. Entries are returned by `pending` until acknowledged or quarantined, in
 * `seq` order; quarantined ones by `quarantined` until acknowledged.
 *
 * Sequence numbers are strictly increasing for the life of the store, and also across a lost or
 * deleted store as long as the device clock does not go back: `seq = max(last + 1, now in ms)`.
 */
export interface OutboxStore {
  /** Appends an entry durably and returns it with its `seq`. */
  append(entry: NewOutboxEntry): Promise<OutboxEntry>;
  /** The entries not yet acknowledged, in `seq` order. */
  pending(): Promise<readonly OutboxEntry[]>;
  /**
   * Marks entries as done (uploaded and answered, or reversed), durably; also drops quarantined
   * entries (once exported). Unknown seqs are ignored.
   *
   * The pending offline sales among them listed in `options.booked` (those the platform accepted)
   * are added to the totals of {@link OutboxStore.bookedTotals}, **in the same durable write**: a
   * crash leaves them either pending (and counted as such) or booked, never neither, and since an
   * acknowledged entry is no longer pending, a sale answered twice is booked once. A store without
   * `bookedTotals` and `bookedByDay` may ignore `booked`.
   */
  ack(seqs: readonly number[], options?: AckOptions): Promise<void>;
  /**
   * The totals, integer fen, of the offline sales acknowledged as booked (accepted by the
   * platform), each over the span of time its sales were captured in. The offline caps add up,
   * for a new sale, the totals whose span overlaps its business day (the day of its capture at
   * {@link OfflineCaps.dayUtcOffset}, as the platform counts its per-device cap; see
   * {@link OfflineCaps.totalFen}). The days are computed when the caps are checked, so a change of
   * the offset miscounts nothing. Spans long past may be dropped (see `dayTotalsMaxAgeSeconds` of
   * the built-in stores).
   *
   * The built-in stores keep totals by UTC minute of capture (a day at any whole-minute offset is
   * a union of whole minutes, so the count is exact); from a journal written by an earlier
   * version, which kept totals by UTC day only, those totals keep the span of their UTC day, and
   * count towards each business day it overlaps (more than exact, never less).
   *
   * Optional: new in this version. A store without it is read through {@link OutboxStore.bookedByDay}; a store
   * with neither makes the client keep these totals in memory, so they are lost on restart.
   */
  bookedTotals?(): Promise<readonly BookedTotal[]>;
  /**
   * The same totals by **UTC day** of their `capturedAt` (`YYYY-MM-DD`).
   *
   * @deprecated The platform counts its cap by business day (`+08:00` by default), not by UTC
   * day: implement {@link OutboxStore.bookedTotals}. The client reads this only from a store without
   * `bookedTotals`, and counts each UTC day's total towards every business day it overlaps.
   */
  bookedByDay?(): Promise<ReadonlyMap<string, number>>;
  /**
   * Sets pending offline sales aside, durably, with the reason: they leave `pending` (so they no
   * longer block uploads or count towards the offline caps) and are listed by `quarantined` until
   * acknowledged. Unknown seqs and reversals are ignored.
   */
  quarantine(seqs: readonly number[], reason: QuarantineReason): Promise<void>;
  /** The quarantined offline sales, in `seq` order. */
  quarantined(): Promise<readonly QuarantinedEntry[]>;
  /** Releases the store (closes the file). Further calls reject with `ERR_POS_OUTBOX_CLOSED`. */
  close(): Promise<void>;
}
