/**
 * Per-call options shared by every POS client method.
 *
 * @module
 */

/** Options accepted by every call. */
export interface RequestOptions {
  /** Aborts the call (also during a backoff or poll sleep); it rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
  /** Retries after the first attempt, overriding the client's `maxRetries` (default 4). */
  readonly maxRetries?: number;
}

/** Copies the defined fields of `o` (for `exactOptionalPropertyTypes`). */
export function passOptions(o: RequestOptions | undefined): RequestOptions {
  const out: { signal?: AbortSignal; maxRetries?: number } = {};
  if (o?.signal !== undefined) out.signal = o.signal;
  if (o?.maxRetries !== undefined) out.maxRetries = o.maxRetries;
  return out;
}
