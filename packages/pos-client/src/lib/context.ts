/**
 * Internal: what the scan-to-pay and sync procedures share with the client.
 *
 * @module
 */
import type { SleepFn, Transport } from '@campus-card/core/transport';
import type { Decision, ReaderContext } from '@campus-card/verifier';
import type { OfflineCaps } from '../offline-caps.js';
import type { OutboxPayment, OutboxStore } from '../outbox/outbox-store.js';
import type { PaymentsResource } from '../payments.js';

/** The part of a `@campus-card/verifier` instance the POS uses. */
export interface OfflineVerifier {
  verify(input: string, context: { readonly now: number; readonly reader: ReaderContext }): Promise<Decision>;
}

/** Internal state shared by the procedures of one client. */
export interface PosContext {
  readonly deviceId: string;
  readonly transport: Transport;
  readonly payments: PaymentsResource;
  readonly verifier: OfflineVerifier | undefined;
  readonly reader: ReaderContext;
  readonly outbox: OutboxStore | undefined;
  readonly caps: OfflineCaps | undefined;
  readonly pollSchedule: readonly number[];
  readonly createMaxRetries: number;
  readonly unknownOrderHorizonMs: number;
  readonly batchSize: number;
  readonly maxBatchBytes: number;
  readonly now: () => number;
  readonly sleep: SleepFn;
  /**
   * The outbox seqs of the write-ahead reversals of sales this client is running: `sync()` leaves
   * them owed (reversing a sale still in progress would undo one the cashier may yet see
   * confirmed). A restarted process starts with none, so its `sync()` reverses them.
   */
  readonly salesInProgress: Set<number>;
  /**
   * How many sales of each out_trade_no this client is running: `sync()` does not reverse an order
   * whose sale is running (a resumed sale may yet report it paid).
   */
  readonly tradesInProgress: Map<string, number>;
  /**
   * The owed reversals `sync()` is sending, by out_trade_no: a sale of that number waits for it to
   * end first, so that it does not report paid an order being reversed.
   */
  readonly reversing: Map<string, Promise<unknown>>;
  /**
   * The offline sales the platform accepted, by seq, when the outbox keeps no booked totals (it has
   * neither `bookedTotals` nor `bookedByDay`): kept for the offline caps, in memory only.
   */
  readonly bookedInMemory: Map<number, OutboxPayment>;
  /** Whether the explicit offline flag is set. */
  offline(): boolean;
  /** Serialises offline-cap checks with their append. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}
