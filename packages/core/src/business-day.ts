/**
 * The business day: a calendar day from 00:00 to 24:00 at a fixed UTC offset (`+08:00`, China
 * Standard Time, by default; no daylight saving). The platform's per-device offline caps and the
 * merchants' daily statements count by it, and the POS client counts its offline caps the same
 * way; the platform states its offset (`offline_day_utc_offset` of a device, `day_utc_offset` of a
 * statement).
 *
 * @module
 */

/** The default offset of the business day: `+08:00` (China Standard Time). */
export const DEFAULT_DAY_UTC_OFFSET = '+08:00';

/** A day, in ms. */
export const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const OFFSET = /^([+-])(\d{2}):(\d{2})$/;
/** A date, `YYYY-MM-DD` (years of four digits or more). */
const DATE = /^(\d{4,})-(\d{2})-(\d{2})$/;

/**
 * The minutes east of UTC of a `±HH:MM` offset, from -14:00 to +14:00 (minutes 00–59).
 *
 * @param name - what the error message calls it.
 * @throws RangeError naming `name` for anything else (`+8`, `08:00`, `+15:00`, `Z`, …).
 * @example
 * ```ts
 * parseUtcOffset('+08:00'); // 480
 * ```
 */
export function parseUtcOffset(text: unknown, name = 'dayUtcOffset'): number {
  const m = typeof text === 'string' ? OFFSET.exec(text) : null;
  const minutes = m === null ? Number.NaN : Number(m[2]) * 60 + Number(m[3]);
  if (m === null || Number(m[3]) > 59 || minutes > 14 * 60) {
    throw new RangeError(
      `${name} must be a UTC offset ±HH:MM from -14:00 to +14:00 (e.g. +08:00), got ${JSON.stringify(text)}`,
    );
  }
  return m[1] === '-' && minutes !== 0 ? -minutes : minutes;
}

/** The `±HH:MM` text of an offset in minutes (`+00:00` for 0). */
export function formatUtcOffset(minutes: number): string {
  const abs = Math.abs(minutes);
  const hh = String(Math.floor(abs / 60)).padStart(2, '0');
  const mm = String(abs % 60).padStart(2, '0');
  return `${minutes < 0 ? '-' : '+'}${hh}:${mm}`;
}

/** The bounds of a business day, epoch ms: `[start, end)`. */
export interface DayBounds {
  /** Its 00:00 at the offset (inclusive). */
  readonly start: number;
  /** The next day's 00:00 at the offset (exclusive). */
  readonly end: number;
}

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
 * The bounds of the business day an epoch ms time falls on, at an offset (minutes east of UTC);
 * `undefined` for a time no date has.
 */
export function businessDayOf(ms: number, offsetMinutes: number): DayBounds | undefined {
  const local = ms + offsetMinutes * MINUTE_MS;
  const start = Math.floor(local / DAY_MS) * DAY_MS - offsetMinutes * MINUTE_MS;
  if (Number.isNaN(new Date(local).getTime())) return undefined;
  return { start, end: start + DAY_MS };
}

/**
 * The business day of an epoch ms time at an offset (minutes east of UTC), `YYYY-MM-DD`; `''` for
 * a time no date has.
 *
 * @example
 * ```ts
 * businessDay(Date.parse('2026-01-04T23:30:00Z'), 480); // '2026-01-05' (07:30 in Beijing)
 * ```
 */
export function businessDay(ms: number, offsetMinutes: number): string {
  const bounds = businessDayOf(ms, offsetMinutes);
  return bounds === undefined ? '' : formatDate(bounds.start + offsetMinutes * MINUTE_MS);
}

/**
 * The bounds of the business day `date` (`YYYY-MM-DD`) at an offset, or `undefined` when `date` is
 * not a day of the calendar (`2026-02-30`).
 */
export function businessDayBounds(date: string, offsetMinutes: number): DayBounds | undefined {
  const m = DATE.exec(date);
  if (m === null) return undefined;
  const midnight = midnightOf(Number(m[1]), Number(m[2]), Number(m[3]));
  if (midnight === undefined) return undefined;
  const start = midnight - offsetMinutes * MINUTE_MS;
  return { start, end: start + DAY_MS };
}
