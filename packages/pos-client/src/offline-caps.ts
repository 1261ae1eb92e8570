/**
 * Offline caps: how much a POS may sell while it cannot reach the platform.
 *
 * @module
 */
import type { OfflineCap } from './errors.js';
import { utcDay } from './lib/day-totals.js';
import type { OutboxEntry } from './outbox/outbox-store.js';

/**
 * Limits on offline sales. Configured with the platform's caps of the device (`offline_tx_cap` as
 * `perTransactionFen`, `offline_device_cap` as `totalFen`), the POS sells offline nothing that the
 * platform will refuse at upload for a cap (`ERR_OFFLINE_CAP`), as long as its outbox holds every
 * offline sale of the device (see {@link OutboxStore.bookedByDay}).
 */
export interface OfflineCaps {
  /** Largest single offline sale, integer fen: the platform's per-transaction cap. */
  readonly perTransactionFen: number;
  /**
   * Largest total of offline sales, integer fen, this one included, counted two ways; a sale that
   * would pass either is refused (cap `total`):
   *
   * - **per UTC day of capture**, as the platform counts its per-device cap: the offline sales
   *   captured on the new sale's UTC day that the platform accepted (recorded by the outbox at
   *   each {@link PosClient.sync}, see {@link OutboxStore.bookedByDay}), plus those of that day not
   *   yet uploaded. Sales the platform refused at upload, and quarantined ones, do not count
   *   (they do not on the platform either);
   * - **outstanding**: every offline sale not yet uploaded, whatever its day, which bounds what is
   *   handed over without the platform's word.
   */
  readonly totalFen: number;
  /** Oldest un-uploaded offline sale allowed, in seconds: past it, no more offline sales until a sync. */
  readonly maxAgeSeconds: number;
}

/**
 * Throws a RangeError unless the caps are valid: the two amounts non-negative safe integers of fen
 * (money is integer fen everywhere), the age a non-negative finite number of seconds.
 */
export function assertCaps(caps: OfflineCaps): void {
  for (const k of ['perTransactionFen', 'totalFen'] as const) {
    const v = caps?.[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`offline.caps.${k} must be a non-negative integer number of fen`);
    }
  }
  const age = caps.maxAgeSeconds;
  if (typeof age !== 'number' || !Number.isFinite(age) || age < 0) {
    throw new RangeError('offline.caps.maxAgeSeconds must be a non-negative number of seconds');
  }
}

/**
 * The cap an offline sale of `amountFen` at `nowMs` would break, given the pending outbox entries
 * and the per-UTC-day totals of offline sales the platform accepted (`booked`), or `undefined` when
 * it is allowed. The sale's day is that of `nowMs` in UTC, its `captured_at`.
 */
export function brokenCap(
  caps: OfflineCaps,
  pending: readonly OutboxEntry[],
  booked: ReadonlyMap<string, number>,
  amountFen: number,
  nowMs: number,
): OfflineCap | undefined {
  if (amountFen > caps.perTransactionFen) return 'perTransaction';
  const day = utcDay(nowMs);
  let outstanding = amountFen;
  let ofDay = amountFen + (booked.get(day) ?? 0);
  let oldest = Number.POSITIVE_INFINITY;
  for (const e of pending) {
    if (e.kind !== 'payment') continue;
    outstanding += e.amountFen;
    if (utcDay(e.capturedAt) === day) ofDay += e.amountFen;
    oldest = Math.min(oldest, e.capturedAt);
  }
  if (outstanding > caps.totalFen || ofDay > caps.totalFen) return 'total';
  if (nowMs - oldest > caps.maxAgeSeconds * 1000) return 'maxAge';
  return undefined;
}
