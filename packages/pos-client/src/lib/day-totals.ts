/**
 * Internal: per-UTC-day totals of offline sales the platform accepted, as the outboxes keep them.
 *
 * @module
 */

/**
 * The UTC day of an epoch ms time, `YYYY-MM-DD`: the day the platform counts an offline sale on
 * (that of its `captured_at`); `''` for a time no date has.
 */
export function utcDay(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(0, 10);
}

/**
 * How long a day's total is kept by default, seconds, before the latest day with a total: 8 days,
 * the platform's offline max age (7 days: it refuses an older `captured_at` whatever the caps) and
 * a day more.
 */
export const DEFAULT_DAY_TOTALS_MAX_AGE_S = 8 * 86_400;

/** Throws a RangeError unless `v` is a non-negative finite number of seconds. */
export function assertDayTotalsMaxAge(v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new RangeError('dayTotalsMaxAgeSeconds must be a non-negative number of seconds');
}

/** Adds `amountFen` to the total of the UTC day of `capturedAt` (a time no date has counts nowhere). */
export function addToDay(days: Map<string, number>, capturedAt: number, amountFen: number): void {
  const day = utcDay(capturedAt);
  if (day !== '') days.set(day, (days.get(day) ?? 0) + amountFen);
}

/**
 * Drops the totals of days before the UTC day `maxAgeMs` before the start of the latest day with a
 * total. Measured from the latest booked day rather than the device clock, so that a clock set
 * wrong (far ahead, at boot) drops nothing still needed: the platform accepts no sale captured
 * after its own now, and none older than its offline max age, so a sale of a dropped day would be
 * refused whatever the caps.
 */
export function pruneDays(days: Map<string, number>, maxAgeMs: number): void {
  let latest = '';
  for (const day of days.keys()) if (day > latest) latest = day;
  const first = utcDay(Date.parse(latest) - maxAgeMs);
  if (first === '') return;
  for (const day of [...days.keys()]) if (day < first) days.delete(day);
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** Whether `v` is a journal's `{ "YYYY-MM-DD": fen, … }` record of day totals. */
export function isDayTotals(v: unknown): v is Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.entries(v).every(([k, n]) => DAY.test(k) && Number.isSafeInteger(n) && (n as number) >= 0);
}
