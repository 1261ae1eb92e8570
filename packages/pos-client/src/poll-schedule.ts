/**
 * The published schedule on which scan-to-pay polls a payment whose outcome is pending or unknown.
 *
 * @module
 */

/**
 * Delays between status queries of a pending or unknown payment, in **seconds**: 0.5, 1, 2, 4
 * and 8 (15.5 s in total). After the last query the payment is reversed if it is still not final.
 * Override with `createPosClient({ pollSchedule })`.
 */
export const DEFAULT_POLL_SCHEDULE: readonly number[] = Object.freeze([0.5, 1, 2, 4, 8]);

/** The longest delay `setTimeout` keeps, in seconds; a longer one fires at once (Node, browsers). */
const MAX_DELAY_S = 2_147_483.647;

/**
 * Throws unless `schedule` is a non-empty list of non-negative seconds, each at most 2 147 483.647
 * (about 24.8 days, the longest delay a timer holds: a longer one would fire at once, and the
 * payment be reversed without being polled).
 */
export function assertPollSchedule(schedule: readonly number[]): void {
  if (
    !Array.isArray(schedule) ||
    schedule.length === 0 ||
    !schedule.every((s) => typeof s === 'number' && Number.isFinite(s) && s >= 0 && s <= MAX_DELAY_S)
  ) {
    throw new RangeError(
      `pollSchedule must be a non-empty array of non-negative seconds, each at most ${MAX_DELAY_S}`,
    );
  }
}
