/**
 * Retry scheduling: exponential backoff with cap and jitter, and `Retry-After` parsing.
 *
 * @module
 */

/** Backoff parameters (all in milliseconds). */
export interface BackoffOptions {
  /** Delay before the first retry, before jitter, in ms; the transport's default is 200. */
  readonly baseMs: number;
  /** Cap on the exponential delay, in ms; the transport's default is 5000. */
  readonly maxMs: number;
  /**
   * Jitter: `'equal'` (default) draws from [d/2, d] so a retry never comes sooner than half the
   * exponential delay (stripe-node); `'full'` draws from [0, d] (AWS "full jitter").
   */
  readonly jitter?: 'equal' | 'full';
}

/**
 * Computes the delay before retry number `attempt` (1 for the first retry): the exponential
 * delay `d = min(maxMs, baseMs · 2^(attempt-1))`, jittered. Pure: randomness is a parameter.
 *
 * @param attempt - retry number, starting at 1.
 * @param opts - base, cap and jitter kind.
 * @param random - a function returning a number in [0, 1), e.g. `Math.random`.
 * @returns delay in milliseconds (integer).
 * @throws RangeError for a non-positive or non-integer attempt.
 *
 * @example
 * ```ts
 * computeBackoff(3, { baseMs: 200, maxMs: 5000 }, () => 0.5); // 600 (d = 800, equal jitter)
 * ```
 */
export function computeBackoff(attempt: number, opts: BackoffOptions, random: () => number): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError('attempt must be an integer ≥ 1');
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt - 1, 30));
  const x = random();
  const r = Number.isFinite(x) ? Math.min(Math.max(x, 0), 1) : 0; // a broken random source never yields NaN
  const delay = opts.jitter === 'full' ? exp * r : exp / 2 + (exp / 2) * r;
  return Math.floor(Math.min(delay, opts.maxMs));
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const DAY_L = '(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)';
const MONTH = '(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '(\\d{2}):(\\d{2}):(\\d{2})';
/** RFC 9110 §5.6.7 IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
const IMF_FIXDATE = new RegExp(`^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`);
/** RFC 9110 §5.6.7 obsolete rfc850-date: `Sunday, 06-Nov-94 08:49:37 GMT`. */
const RFC850_DATE = new RegExp(`^${DAY_L}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`);
/** RFC 9110 §5.6.7 obsolete asctime-date: `Sun Nov  6 08:49:37 1994` (in GMT). */
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} (\\d{2}| \\d) ${TIME} (\\d{4})$`);

/**
 * Parses an HTTP-date in any of the three formats a recipient must accept (RFC 9110 §5.6.7),
 * all in GMT; a two-digit rfc850 year is the one within 50 years of `nowMs`. `undefined` for
 * anything else, including a date that names no real instant (`31 Feb`, `24:00:00`).
 */
function parseHttpDate(v: string, nowMs: number): number | undefined {
  // [day, month, year, hour, minute, second] as matched
  const asctime = ASCTIME_DATE.exec(v);
  const f =
    (IMF_FIXDATE.exec(v) ?? RFC850_DATE.exec(v))?.slice(1) ??
    (asctime === null ? undefined : [asctime[2], asctime[1], asctime[6], asctime[3], asctime[4], asctime[5]]);
  if (f === undefined) return undefined;
  const [day, h, min, sec] = [f[0], f[3], f[4], f[5]].map(Number) as [number, number, number, number];
  let year = Number(f[2]);
  if ((f[2] as string).length === 2) {
    const nowYear = new Date(nowMs).getUTCFullYear();
    year += Math.floor(nowYear / 100) * 100;
    if (year > nowYear + 50) year -= 100;
    else if (year <= nowYear - 50) year += 100;
  }
  if (day < 1 || h > 23 || min > 59 || sec > 60) return undefined; // 60: a leap second
  const at = Date.UTC(year, MONTHS.indexOf(f[1] as string), day, h, min, Math.min(sec, 59));
  if (new Date(at).getUTCDate() !== day) return undefined; // 31 Feb
  return at;
}

/**
 * Parses a `Retry-After` header value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date in any of
 * the formats of RFC 9110 §5.6.7 (IMF-fixdate, and the obsolete rfc850 and asctime ones).
 *
 * @param value - the header value.
 * @param nowMs - the current time in epoch milliseconds (for HTTP-dates).
 * @returns the delay in milliseconds (≥ 0), or `undefined` when absent or invalid.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = parseHttpDate(v, nowMs);
  return at === undefined ? undefined : Math.max(0, at - nowMs);
}
