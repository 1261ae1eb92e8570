/**
 * Internal: the totals of offline sales the platform accepted (booked), as the outboxes keep them
 * for the offline caps.
 *
 * They are kept **by UTC minute of capture**, not by day: the platform counts its per-device cap
 * by the business day of `captured_at` at its UTC offset, and a day at any whole-minute offset is
 * a union of whole UTC minutes, so the day is computed when the caps are checked, with the offset
 * configured then ({@link OfflineCaps.dayUtcOffset}). A change of that configuration therefore
 * never loses or misplaces a sale. Journals written by earlier versions hold totals by **UTC day**
 * only (the sales' times are gone): those are kept as what they are, a total somewhere within
 * that UTC day, which counts towards every business day it overlaps (never under-counting a day).
 *
 * @module
 */

import { DAY_MS, type DayBounds } from '@campus-card/core';
import type { BookedTotal } from '../outbox/outbox-store.js';

const MINUTE_MS = 60_000;
/** The largest epoch ms a `Date` holds. */
const MAX_DATE_MS = 8.64e15;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * How long booked totals are kept by default, seconds, before the latest booked capture: 8 days,
 * the platform's offline max age (7 days: it refuses an older `captured_at` whatever the caps) and
 * a day more. A business day of any offset that began within it is kept whole (see
 * {@link BookedLedger.prune}).
 */
export const DEFAULT_DAY_TOTALS_MAX_AGE_S = 8 * 86_400;

/** Throws a RangeError unless `v` is a non-negative finite number of seconds. */
export function assertDayTotalsMaxAge(v: unknown): asserts v is number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new RangeError('dayTotalsMaxAgeSeconds must be a non-negative number of seconds');
}

/** The UTC day of an epoch ms time, `YYYY-MM-DD`; `''` for a time no four-digit date has. */
export function utcDay(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return '';
  const text = d.toISOString();
  return /^\d{4}-/.test(text) ? text.slice(0, 10) : '';
}

/** The span of a UTC day `YYYY-MM-DD`, or `undefined` for text that is not a day. */
export function utcDaySpan(day: string): DayBounds | undefined {
  const start = DAY.test(day) ? Date.parse(`${day}T00:00:00Z`) : Number.NaN;
  if (Number.isNaN(start) || utcDay(start) !== day) return undefined;
  return { start, end: start + DAY_MS };
}

/**
 * The total, integer fen, of the booked sales that may have been captured within `bounds`: every
 * total whose span overlaps it (a total by minute lies within the day or outside it; a total by
 * UTC day from an old journal counts towards each business day it overlaps).
 */
export function totalWithin(booked: readonly BookedTotal[], bounds: DayBounds): number {
  let total = 0;
  for (const b of booked) if (b.from < bounds.end && b.to > bounds.start) total += b.amountFen;
  return total;
}

/** The booked totals of an outbox: by UTC minute of capture, and by UTC day from old journals. */
export interface BookedLedger {
  /** Adds a booked sale (a time no date has counts nowhere). */
  add(capturedAt: number, amountFen: number): void;
  /** Adds an old journal's total of a UTC day (`YYYY-MM-DD`). */
  addUtcDay(day: string, amountFen: number): void;
  /** Adds a journal's totals by UTC minute (`[minute since the epoch, fen]`). */
  addMinutes(minutes: readonly (readonly [number, number])[]): void;
  /**
   * Drops the totals whose span ended more than `maxAgeMs` and a day before the latest booked
   * capture. Measured from the latest booked sale rather than the device clock, so that a clock
   * set wrong (far ahead, at boot) drops nothing still needed: the platform accepts no sale
   * captured after its own now, and none older than its offline max age, so a sale of a dropped
   * day would be refused whatever the caps. The extra day keeps whole the business day (at any
   * offset) on which the kept period begins.
   */
  prune(maxAgeMs: number): void;
  /**
   * The totals as spans of time (minutes first, in order; then UTC days): one frozen list, the
   * same until a total is added or dropped.
   */
  totals(): readonly BookedTotal[];
  /** The totals by UTC day of capture (what `bookedByDay` answers). */
  byUtcDay(): Map<string, number>;
  /** What a compacted journal keeps: totals by minute, and old totals by UTC day (if any). */
  toJournal(): {
    readonly minutes: [number, number][];
    readonly days: Record<string, number> | undefined;
  };
  /** Whether it holds no total. */
  readonly empty: boolean;
}

/**
 * Creates an empty {@link BookedLedger}. A sale check reads it whole (up to 8 days of minutes,
 * 11 520 and more totals on a busy till): its totals are built once and kept until a total is
 * added or dropped, and `prune` does nothing until the oldest total is due, so a check costs one
 * pass over the kept list, not a sort and a list of fresh objects each time.
 */
export function createBookedLedger(): BookedLedger {
  const minutes = new Map<number, number>();
  const days = new Map<string, number>();
  /** The end of the latest total, epoch ms. */
  let latest = Number.NEGATIVE_INFINITY;
  /** The end of the earliest total, epoch ms (a bound: no total ends before it). */
  let earliest = Number.POSITIVE_INFINITY;
  /** The totals, as {@link BookedLedger.totals} answers them, until one changes. */
  let kept: readonly BookedTotal[] | undefined;
  const seen = (end: number): void => {
    latest = Math.max(latest, end);
    earliest = Math.min(earliest, end);
    kept = undefined;
  };
  const addMinute = (minute: number, fen: number): void => {
    minutes.set(minute, (minutes.get(minute) ?? 0) + fen);
    seen((minute + 1) * MINUTE_MS);
  };
  return {
    add(capturedAt, amountFen) {
      if (!(Math.abs(capturedAt) <= MAX_DATE_MS)) return;
      addMinute(Math.floor(capturedAt / MINUTE_MS), amountFen);
    },
    addUtcDay(day, amountFen) {
      days.set(day, (days.get(day) ?? 0) + amountFen);
      const end = utcDaySpan(day)?.end;
      // (a day that is not one is dropped at the next prune, whenever that is)
      if (end === undefined) earliest = Number.NEGATIVE_INFINITY;
      else seen(end);
      kept = undefined;
    },
    addMinutes(list) {
      for (const [minute, fen] of list) addMinute(minute, fen);
    },
    prune(maxAgeMs) {
      if (latest === Number.NEGATIVE_INFINITY) return;
      const cutoff = latest - maxAgeMs - DAY_MS;
      if (earliest > cutoff) return;
      earliest = Number.POSITIVE_INFINITY;
      for (const m of [...minutes.keys()]) {
        const end = (m + 1) * MINUTE_MS;
        if (end <= cutoff) minutes.delete(m);
        else earliest = Math.min(earliest, end);
      }
      for (const d of [...days.keys()]) {
        const end = utcDaySpan(d)?.end ?? cutoff;
        if (end <= cutoff) days.delete(d);
        else earliest = Math.min(earliest, end);
      }
      kept = undefined;
    },
    totals() {
      if (kept === undefined) {
        const out: BookedTotal[] = [...minutes]
          .sort((a, b) => a[0] - b[0])
          .map(([m, fen]) => Object.freeze({ from: m * MINUTE_MS, to: (m + 1) * MINUTE_MS, amountFen: fen }));
        for (const [d, fen] of days) {
          const span = utcDaySpan(d);
          if (span !== undefined) out.push(Object.freeze({ from: span.start, to: span.end, amountFen: fen }));
        }
        kept = Object.freeze(out);
      }
      return kept;
    },
    byUtcDay() {
      const out = new Map(days);
      for (const [m, fen] of minutes) {
        const day = utcDay(m * MINUTE_MS);
        if (day !== '') out.set(day, (out.get(day) ?? 0) + fen);
      }
      return out;
    },
    toJournal() {
      return {
        minutes: [...minutes].sort((a, b) => a[0] - b[0]),
        days: days.size === 0 ? undefined : Object.fromEntries([...days].sort()),
      };
    },
    get empty() {
      return minutes.size === 0 && days.size === 0;
    },
  };
}

/** Whether `v` is a journal's `{ "YYYY-MM-DD": fen, … }` record of day totals (old journals). */
export function isDayTotals(v: unknown): v is Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.entries(v).every(([k, n]) => DAY.test(k) && Number.isSafeInteger(n) && (n as number) >= 0);
}

/** Whether `v` is a journal's `[[minute, fen], …]` list of totals by UTC minute of capture. */
export function isMinuteTotals(v: unknown): v is [number, number][] {
  return (
    Array.isArray(v) &&
    v.every(
      (e) =>
        Array.isArray(e) &&
        e.length === 2 &&
        Number.isSafeInteger(e[0]) &&
        Math.abs(e[0] as number) <= MAX_DATE_MS / MINUTE_MS &&
        Number.isSafeInteger(e[1]) &&
        (e[1] as number) >= 0,
    )
  );
}
