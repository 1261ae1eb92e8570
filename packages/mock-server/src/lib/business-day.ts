/**
 * The platform's stored day labels of offline sales: the business day (core's `business-day`) a
 * sale was counted on, with the offset it was counted at.
 *
 * @module
 */
import { businessDay, DAY_MS, type DayBounds, formatUtcOffset, parseUtcOffset } from '@campus-card/core';

/** A date (years of four digits or more), then, in a stored day label, the offset it was counted at. */
const LABEL = /^(\d{4,})-(\d{2})-(\d{2})([+-]\d{2}:\d{2})?$/;
const MINUTE_MS = 60_000;

/** `YYYY-MM-DD` of a UTC midnight (years past 9999 in more digits). */
function formatDate(utcMidnight: number): string {
  const d = new Date(utcMidnight);
  const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  return `${String(d.getUTCFullYear()).padStart(4, '0')}-${mm}-${dd}`;
}

/** The UTC midnight of the day `y-m-d`, or `undefined` when the calendar has no such day. */
function midnightOf(y: number, m: number, d: number): number | undefined {
  const t = new Date(0);
  // (setUTCFullYear takes years 0-99 as written, unlike Date.UTC; a day the month lacks rolls over)
  t.setUTCFullYear(y, m - 1, d);
  const ok = t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
  return ok ? t.getTime() : undefined;
}

/**
 * The label an offline sale's day is stored under (the `day` of its seq row): its business day and
 * the offset it was counted at, `YYYY-MM-DD±HH:MM`, so that a count made after the offset changed
 * knows what span a row's day covers. Rows written before the business day had an offset hold a
 * bare `YYYY-MM-DD`: a UTC day.
 */
export function dayLabel(ms: number, offsetMinutes: number): string {
  const day = businessDay(ms, offsetMinutes);
  return day === '' ? '' : `${day}${formatUtcOffset(offsetMinutes)}`;
}

/** The span a stored day label covers, or `undefined` for a label that is not one. */
export function labelBounds(label: string): DayBounds | undefined {
  const m = LABEL.exec(label);
  if (m === null) return undefined;
  const midnight = midnightOf(Number(m[1]), Number(m[2]), Number(m[3]));
  if (midnight === undefined) return undefined;
  const start = midnight - (m[4] === undefined ? 0 : parseUtcOffset(m[4])) * MINUTE_MS;
  return { start, end: start + DAY_MS };
}

/**
 * The day labels, as stored, whose span may overlap the business day `bounds` at any offset: two
 * offsets are at most 28 hours apart, so their dates are within two days of the UTC date of its
 * middle. As a range of text, `[from, to)`, for a `day >= ? AND day < ?` query (labels sort by
 * their date first); the whole range (`''` to `'~'`) where dates stop sorting as text (past 9999).
 */
export function labelRange(bounds: DayBounds): { readonly from: string; readonly to: string } {
  const middle = Math.floor((bounds.start + DAY_MS / 2) / DAY_MS) * DAY_MS;
  const from = formatDate(middle - 2 * DAY_MS);
  const to = formatDate(middle + 3 * DAY_MS);
  return from.length === 10 && to.length === 10 ? { from, to } : { from: '', to: '~' };
}

/**
 * The total of a device's accepted offline sales that counts towards the business day `bounds`,
 * from its seq rows' totals `s` (fen) by stored day label `day` (see {@link dayLabel}). A label's
 * span is its day at the offset it was counted at (a bare `YYYY-MM-DD`, written before the
 * business day had an offset, is a UTC day), and every label whose span overlaps the day counts,
 * so all of the day's own sales count whatever offset the platform ran at when it took them.
 * Under one offset that is the day's own label alone. After the offset changed (or right after
 * the upgrade from UTC days), a day that overlaps two days of the old offset counts both whole:
 * for the offline max age (7 days by default) after the change this may refuse a sale that an
 * exact count would take, never take one it would refuse.
 */
export function totalOverlapping(
  rows: readonly { readonly day: string; readonly s: number }[],
  bounds: DayBounds,
): number {
  let total = 0;
  for (const r of rows) {
    const span = labelBounds(r.day);
    // (an unreadable label counts: failing closed)
    if (span === undefined || (span.start < bounds.end && span.end > bounds.start)) total += r.s;
  }
  return total;
}
