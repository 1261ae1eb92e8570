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

/**
 * Parses a `Retry-After` header value (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
 *
 * @param value - the header value.
 * @param nowMs - the current time in epoch milliseconds (for HTTP-dates).
 * @returns the delay in milliseconds (≥ 0), or `undefined` when absent or invalid.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
