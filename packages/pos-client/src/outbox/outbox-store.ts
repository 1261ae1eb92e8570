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

/** An entry before the store assigns its `seq`. */
export type NewOutboxEntry = Omit<OutboxPayment, 'seq'> | Omit<OutboxReversal, 'seq'>;

/**
 * A durable outbox. `append` resolves only once the entry would survive a power cut; `ack`
 * likewise. Entries are returned by `pending` until acknowledged, in `seq` order.
 *
 * Sequence numbers are strictly increasing for the life of the store, and also across a lost or
 * deleted store as long as the device clock does not go back: `seq = max(last + 1, now in ms)`.
 */
export interface OutboxStore {
  /** Appends an entry durably and returns it with its `seq`. */
  append(entry: NewOutboxEntry): Promise<OutboxEntry>;
  /** The entries not yet acknowledged, in `seq` order. */
  pending(): Promise<readonly OutboxEntry[]>;
  /** Marks entries as done (uploaded and answered, or reversed), durably. Unknown seqs are ignored. */
  ack(seqs: readonly number[]): Promise<void>;
  /** Releases the store (closes the file). Further calls reject with `ERR_POS_OUTBOX_CLOSED`. */
  close(): Promise<void>;
}
