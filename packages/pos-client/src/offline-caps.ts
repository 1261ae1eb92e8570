/**
 * Offline caps: how much a POS may sell while it cannot reach the platform.
 *
 * @module
 */

import { businessDayOf, DEFAULT_DAY_UTC_OFFSET, parseUtcOffset } from '@campus-card/core';
import type { OfflineCap } from './errors.js';
import { totalWithin } from './lib/day-totals.js';
import type { BookedTotal, OutboxEntry } from './outbox/outbox-store.js';

/**
 * Limits on offline sales. Configured with the platform's caps of the device (`offline_tx_cap` as
 * `perTransactionFen`, `offline_device_cap` as `totalFen`, `offline_day_utc_offset` as
 * `dayUtcOffset`: all three in `GET /v1/devices/{device_id}`), the POS sells offline nothing that
 * the platform will refuse at upload for a cap (`ERR_OFFLINE_CAP`), as long as its outbox holds
 * every offline sale of the device (see {@link OutboxStore.bookedTotals}).
 *
 * @example
 * ```ts
 * const d = await pos.device(); // GET /v1/devices/pos-01, read at setup and kept
 * const caps: OfflineCaps = {
 *   perTransactionFen: d.offline_tx_cap,
 *   totalFen: d.offline_device_cap,
 *   dayUtcOffset: d.offline_day_utc_offset, // '+08:00'
 *   maxAgeSeconds: 86_400,
 * };
 * ```
 */
export interface OfflineCaps {
  /** Largest single offline sale, integer fen: the platform's per-transaction cap. */
  readonly perTransactionFen: number;
  /**
   * Largest total of offline sales, integer fen, this one included, counted two ways; a sale that
   * would pass either is refused (cap `total`):
   *
   * - **per business day of capture**, as the platform counts its per-device cap: the day from
   *   00:00 to 24:00 at {@link OfflineCaps.dayUtcOffset} (`+08:00` by default) on which the new
   *   sale is captured. It counts the offline sales captured that day that the platform accepted
   *   (recorded by the outbox at each {@link PosClient.sync}, see
   *   {@link OutboxStore.bookedTotals}), plus those of that day not yet uploaded. Sales the
   *   platform refused at upload, and quarantined ones, do not count (they do not on the platform
   *   either);
   * - **outstanding**: every offline sale not yet uploaded, whatever its day, which bounds what is
   *   handed over without the platform's word.
   */
  readonly totalFen: number;
  /** Oldest un-uploaded offline sale allowed, in seconds: past it, no more offline sales until a sync. */
  readonly maxAgeSeconds: number;
  /**
   * The UTC offset of the business day the daily total counts by, `±HH:MM` from `-14:00` to
   * `+14:00` (a fixed offset, no daylight saving): the platform's, which the device resource
   * publishes as `offline_day_utc_offset`. Default `'+08:00'` (China Standard Time, the platform's
   * default): a canteen's day runs from 00:00 to 24:00 Beijing time. New in this version.
   *
   * The days are computed when a sale is checked, from the booked sales' capture times, so
   * changing it later miscounts nothing (see {@link OutboxStore.bookedTotals}).
   */
  readonly dayUtcOffset?: string;
}

/**
 * Throws a RangeError unless the caps are valid: the two amounts non-negative safe integers of fen
 * (money is integer fen everywhere), the age a non-negative finite number of seconds, the offset,
 * when given, `±HH:MM` from `-14:00` to `+14:00`.
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
  if (caps.dayUtcOffset !== undefined) parseUtcOffset(caps.dayUtcOffset, 'offline.caps.dayUtcOffset');
}

/** The offset of the caps' business day, minutes east of UTC (the caps passed {@link assertCaps}). */
export function capsDayOffset(caps: OfflineCaps): number {
  return parseUtcOffset(caps.dayUtcOffset ?? DEFAULT_DAY_UTC_OFFSET, 'offline.caps.dayUtcOffset');
}

/**
 * The cap an offline sale of `amountFen` at `nowMs` would break, given the pending outbox entries
 * and the totals of offline sales the platform accepted (`booked`), or `undefined` when it is
 * allowed. The sale's day is the business day of `nowMs`, its `captured_at`, at the caps' offset;
 * the booked totals whose span overlaps it count towards it.
 */
export function brokenCap(
  caps: OfflineCaps,
  pending: readonly OutboxEntry[],
  booked: readonly BookedTotal[],
  amountFen: number,
  nowMs: number,
): OfflineCap | undefined {
  if (amountFen > caps.perTransactionFen) return 'perTransaction';
  // a clock that shows no date: every sale counts towards the day (failing closed)
  const day = businessDayOf(nowMs, capsDayOffset(caps)) ?? {
    start: Number.NEGATIVE_INFINITY,
    end: Number.POSITIVE_INFINITY,
  };
  let outstanding = amountFen;
  let ofDay = amountFen + totalWithin(booked, day);
  let oldest = Number.POSITIVE_INFINITY;
  for (const e of pending) {
    if (e.kind !== 'payment') continue;
    outstanding += e.amountFen;
    if (e.capturedAt >= day.start && e.capturedAt < day.end) ofDay += e.amountFen;
    oldest = Math.min(oldest, e.capturedAt);
  }
  if (outstanding > caps.totalFen || ofDay > caps.totalFen) return 'total';
  if (nowMs - oldest > caps.maxAgeSeconds * 1000) return 'maxAge';
  return undefined;
}
