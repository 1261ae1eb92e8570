/**
 * The virtual clock of the mock platform.
 *
 * @module
 */
import { isValidTimestamp } from '@campus-card/core/api';
import { ApiError } from './problem.js';

/**
 * The earliest time the virtual clock can show, epoch ms: `1970-01-01T00:00:00Z` (0). Unix times in
 * signatures, tokens and the trust list's key validity are not negative.
 */
export const CLOCK_MIN_MS = 0;

/** The latest time the virtual clock can show, epoch ms: `9999-12-31T23:59:59.999Z`. */
export const CLOCK_MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** The clock's range as text, for errors. */
export const CLOCK_RANGE_TEXT = '1970-01-01T00:00:00Z … 9999-12-31T23:59:59.999Z';

/** Whether `epochMs` is a time the virtual clock can show ({@link CLOCK_MIN_MS} … {@link CLOCK_MAX_MS}). */
export function inClockRange(epochMs: number): boolean {
  return epochMs >= CLOCK_MIN_MS && epochMs <= CLOCK_MAX_MS;
}

function checkInRange(epochMs: number, what: string): void {
  if (!inClockRange(epochMs)) {
    throw new RangeError(`${what} would move the clock to ${epochMs} ms, outside ${CLOCK_RANGE_TEXT}`);
  }
}

/**
 * A clock tests can move. Times are epoch milliseconds, always within {@link CLOCK_MIN_MS} …
 * {@link CLOCK_MAX_MS} (the last the contract's `Timestamp`, a four-digit year, can write): `advance` and `set` refuse to
 * leave it (RangeError, the clock unchanged), and a ticking clock stops at its end.
 */
export interface VirtualClock {
  /** Current virtual time, epoch milliseconds. */
  now(): number;
  /** Current virtual time, whole unix seconds. */
  nowSeconds(): number;
  /**
   * Moves the clock by `seconds` (may be negative).
   *
   * @throws RangeError when `seconds` is not finite or the time would leave the clock's range.
   */
  advance(seconds: number): void;
  /**
   * Sets the clock to an absolute time (epoch ms).
   *
   * @throws RangeError when `epochMs` is not finite or outside the clock's range.
   */
  set(epochMs: number): void;
  /** Offset from the real clock, ms (for frozen clocks: from the start). */
  offsetMs(): number;
}

/** Options of {@link createClock}. */
export interface CreateClockOptions {
  /** Start time, epoch ms (default: the real time); within the clock's range, else RangeError. */
  readonly start?: number;
  /** When true the clock moves only through advance()/set() (default false: it ticks). */
  readonly frozen?: boolean;
}

/**
 * Creates a virtual clock: real time plus an offset, or frozen.
 *
 * @example
 * ```ts
 * const clock = createClock({ start: Date.UTC(2026, 0, 1), frozen: true });
 * clock.advance(60);
 * ```
 */
export function createClock(options: CreateClockOptions = {}): VirtualClock {
  const frozen = options.frozen === true;
  if (options.start !== undefined) {
    if (!Number.isFinite(options.start)) throw new RangeError('start must be finite');
    checkInRange(options.start, 'start');
  }
  let offset = options.start === undefined ? 0 : options.start - Date.now();
  let frozenAt = options.start ?? Date.now();
  // a ticking clock set near the end of the range stops there rather than leave it
  const now = frozen ? () => frozenAt : () => Math.min(Date.now() + offset, CLOCK_MAX_MS);
  return {
    now,
    nowSeconds: () => Math.floor(now() / 1000),
    advance(seconds) {
      if (!Number.isFinite(seconds)) throw new RangeError('seconds must be finite');
      const delta = Math.round(seconds * 1000);
      const current = now();
      checkInRange(current + delta, `advance(${seconds})`);
      if (frozen) frozenAt += delta;
      else {
        // stopped at the end of the range: moved from where it stopped, not from where it would be
        if (current === CLOCK_MAX_MS) offset = Math.min(offset, CLOCK_MAX_MS - Date.now());
        offset += delta;
      }
    },
    set(epochMs) {
      if (!Number.isFinite(epochMs)) throw new RangeError('epochMs must be finite');
      checkInRange(epochMs, `set(${epochMs})`);
      if (frozen) frozenAt = epochMs;
      else offset = epochMs - Date.now();
    },
    offsetMs: () => (frozen ? frozenAt - Date.now() : Math.min(offset, CLOCK_MAX_MS - Date.now())),
  };
}

// The last time formatted and its text: a request formats the same instant several times (its
// record, the order's created_at and updated_at, its push), about 1 µs each.
let lastMs = Number.NaN;
let lastText = '';

/** Formats epoch ms as RFC 3339 UTC with whole seconds when possible. */
export function iso(epochMs: number): string {
  if (epochMs === lastMs) return lastText;
  const s = new Date(epochMs).toISOString();
  lastText = s.endsWith('.000Z') ? `${s.slice(0, -5)}Z` : s;
  lastMs = epochMs;
  return lastText;
}

/**
 * Parses an RFC 3339 UTC time (`2026-01-01T08:00:00Z`, fractional seconds allowed) to epoch ms,
 * fractions below a millisecond truncated. Only what the contract's `isValidTimestamp` accepts
 * passes: a day its month does not have (`2026-02-30`), hour 24, minute or second 60 are refused,
 * never rolled over into the next day as `Date.parse` alone does.
 *
 * @param field - Where the text came from, for the error (e.g. `body/items/0/captured_at`).
 * @throws {@link ApiError} 400 `ERR_VALIDATION` naming `field`.
 */
export function parseIso(text: string, field = 'body'): number {
  if (isValidTimestamp(text)) return Date.parse(text);
  throw new ApiError(400, 'ERR_VALIDATION', `${field}: not a valid RFC 3339 UTC time: ${text.slice(0, 40)}`, {
    errors: [{ path: field, message: 'must be a real RFC 3339 UTC time, e.g. 2026-01-01T08:00:00Z' }],
  });
}

/**
 * Parses a bound of a `[from, to)` range over times the platform stores in whole milliseconds:
 * {@link parseIso}, rounded **up** to the next millisecond when the text has a fraction below it.
 * Truncated, a bound would move back past a stored time: `from` 08:00:01.0001 would take in one at
 * 08:00:01.000, and `to` 08:00:01.0001 leave it out. With both bounds rounded up, `t >= from` and
 * `t < to` hold for a whole-millisecond `t` exactly when they hold for the texts.
 *
 * @throws {@link ApiError} 400 `ERR_VALIDATION` naming `field`, as {@link parseIso}.
 */
export function parseIsoBound(text: string, field: string): number {
  const ms = parseIso(text, field);
  return /\.\d{3}\d*[1-9]\d*Z$/.test(text) ? ms + 1 : ms;
}
