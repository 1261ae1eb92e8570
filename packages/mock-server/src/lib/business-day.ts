/**
 * The platform's stored labels of offline sales (the `day` of their seq rows), by which the
 * per-device offline cap counts a business day (core's `business-day`). A sale is stored under the
 * UTC minute of its capture (`YYYY-MM-DDTHH:MMZ`, see {@link captureLabel}): a business day at any
 * whole-minute offset is a union of whole UTC minutes, so a day is counted exactly whatever offset
 * the platform ran at when it took the sale, as the POS client counts its booked sales (by UTC
 * minute of capture). Rows written by earlier versions hold the business day they were counted on
 * (`YYYY-MM-DD±HH:MM`) or a UTC day (`YYYY-MM-DD`): those count towards every day they overlap.
 *
 * @module
 */
import {
  businessDay,
  businessDayBounds,
  DAY_MS,
  type DayBounds,
  formatUtcOffset,
  parseUtcOffset,
} from '@campus-card/core';
import type { Db } from './db.js';

/** A date (years of four digits or more), then, in a stored day label, the offset it was counted at. */
const LABEL = /^(\d{4,}-\d{2}-\d{2})([+-]\d{2}:\d{2})?$/;
/** A stored minute label: the UTC minute of a capture. */
const MINUTE_LABEL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/;
const MINUTE_MS = 60_000;

/** `YYYY-MM-DD` of a UTC midnight (years past 9999 in more digits). */
function formatDate(utcMidnight: number): string {
  return businessDay(utcMidnight, 0);
}

/**
 * A day label as the previous version stored it (the `day` of a seq row): the business day a sale
 * was counted on and the offset it was counted at, `YYYY-MM-DD±HH:MM`. Rows written before the
 * business day had an offset hold a bare `YYYY-MM-DD`: a UTC day. New rows are stored under
 * {@link captureLabel}.
 */
export function dayLabel(ms: number, offsetMinutes: number): string {
  const day = businessDay(ms, offsetMinutes);
  return day === '' ? '' : `${day}${formatUtcOffset(offsetMinutes)}`;
}

/**
 * The label an offline sale is stored under (the `day` of its seq row): the UTC minute of its
 * capture, `YYYY-MM-DDTHH:MMZ`, so that the cap counts any business day exactly, at whatever
 * offset it was counted when the sale was taken. A time whose year is not of four digits (none
 * that the platform takes: a capture is within the offline max age of now) gets the business day
 * label of {@link dayLabel}, at `offsetMinutes`; `''` for a time no date has.
 */
export function captureLabel(ms: number, offsetMinutes: number): string {
  const d = new Date(Math.floor(ms / MINUTE_MS) * MINUTE_MS);
  const text = Number.isNaN(d.getTime()) ? '' : d.toISOString();
  return /^\d{4}-/.test(text) ? `${text.slice(0, 16)}Z` : dayLabel(ms, offsetMinutes);
}

/** The span a stored label covers (a minute, or a day), or `undefined` for a label that is not one. */
export function labelBounds(label: string): DayBounds | undefined {
  if (MINUTE_LABEL.test(label)) {
    const start = Date.parse(`${label.slice(0, 16)}:00Z`);
    if (Number.isNaN(start) || captureLabel(start, 0) !== label) return undefined;
    return { start, end: start + MINUTE_MS };
  }
  const m = LABEL.exec(label);
  if (m === null) return undefined;
  return businessDayBounds(m[1] as string, m[2] === undefined ? 0 : parseUtcOffset(m[2]));
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
 * How the stored labels of a business day are read, as ranges of text for
 * `day >= ? AND day < ?` queries: `minutes`, the minute labels within the day (exact: select only
 * those, `substr(day, 11, 1) = 'T'`, since older labels of its dates sort among them), and
 * `older`, for each date whose day labels of the earlier versions may overlap it, the range of
 * those labels alone (`YYYY-MM-DD` to `YYYY-MM-DDT`: no minute label). `undefined` where dates
 * stop sorting as text (years past 9999): read every label then, and count by
 * {@link totalOverlapping}.
 */
export function labelQueries(bounds: DayBounds):
  | {
      readonly minutes: { readonly from: string; readonly to: string };
      readonly older: readonly { readonly from: string; readonly to: string }[];
    }
  | undefined {
  const range = labelRange(bounds);
  const from = captureLabel(bounds.start, 0);
  const to = captureLabel(bounds.end, 0);
  if (range.from === '' || !MINUTE_LABEL.test(from) || !MINUTE_LABEL.test(to)) return undefined;
  const older: { from: string; to: string }[] = [];
  for (let t = (labelBounds(range.from) as DayBounds).start; ; t += DAY_MS) {
    const date = formatDate(t);
    if (date >= range.to) break;
    older.push({ from: date, to: `${date}T` });
  }
  return { minutes: { from, to }, older };
}

/**
 * The total of a device's accepted offline sales that counts towards the business day `bounds`,
 * from its seq rows' totals `s` (fen) by stored label `day`. A label's span is its minute (see
 * {@link captureLabel}) or, for a row of an earlier version, its day at the offset it was counted
 * at (see {@link dayLabel}; a bare `YYYY-MM-DD` is a UTC day), and every label whose span overlaps
 * the day counts. Minute labels count exactly. A day label of another offset than the day's
 * (after the offset changed, or right after the upgrade from UTC days) counts whole towards both
 * days it overlaps: that may refuse a sale that an exact count would take, never take one it would
 * refuse, and only for sales taken before this version.
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

/**
 * A reader of the per-device offline cap's day totals over `db` (its statements prepared once):
 * the total, integer fen, of a device's accepted offline sales that counts towards the business
 * day `bounds`. Minute labels ({@link captureLabel}) within the day count exactly (one range of the
 * `offline_items_accepted_day` index); the day labels of earlier versions whose span overlaps the
 * day count whole (see {@link totalOverlapping}; a few short ranges of the index, one per date).
 */
export function createDayTotals(db: Db): (deviceId: string, bounds: DayBounds) => number {
  const minutesTotal = db.prepare(
    "SELECT COALESCE(SUM(amount), 0) AS s FROM offline_items WHERE device_id = ? AND outcome = 'accepted' AND day >= ? AND day < ? AND substr(day, 11, 1) = 'T'",
  );
  const byLabel = db.prepare(
    "SELECT day, SUM(amount) AS s FROM offline_items WHERE device_id = ? AND outcome = 'accepted' AND day >= ? AND day < ? GROUP BY day",
  );
  return (deviceId, bounds) => {
    const overlapping = (from: string, to: string): number =>
      totalOverlapping(byLabel.all(deviceId, from, to) as { day: string; s: number }[], bounds);
    const q = labelQueries(bounds);
    if (q === undefined) return overlapping('', '~');
    let total = (minutesTotal.get(deviceId, q.minutes.from, q.minutes.to) as { s: number }).s;
    for (const r of q.older) total += overlapping(r.from, r.to);
    return total;
  };
}
