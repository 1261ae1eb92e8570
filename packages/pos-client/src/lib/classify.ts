/**
 * Internal: how the POS client classifies a failed call.
 *
 * @module
 */
import { CampusCardApiError, ConnectionError } from '@campus-card/core/transport';

/** undici/Node error codes of a connection that was never established (nothing was sent). */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Whether the platform answered (any HTTP status). */
export function answered(e: unknown): e is CampusCardApiError & { status: number } {
  return e instanceof CampusCardApiError && e.status !== undefined;
}

/**
 * Statuses the platform (or a proxy in front of it) gives before a request reaches its idempotency
 * check: authentication, permission, body size and type, rate limits. They say nothing about what
 * an earlier request under the same key did.
 */
const BEFORE_IDEMPOTENCY_CHECK = new Set([401, 403, 407, 408, 413, 415, 421, 425, 429, 431]);

/**
 * Whether the platform refused this request for good: a 4xx problem (RFC 9457 body) that is not
 * retryable and was given after the idempotency check, so it is what the key holds and retrying
 * the same request gives the same answer. Not definitive: any 2xx (even one whose body could not
 * be read), 5xx, a 4xx given before the idempotency check (`BEFORE_IDEMPOTENCY_CHECK`: 401, 403,
 * 407, 408, 413, 415, 421, 425, 429, 431), and a 4xx without a
 * problem body (a proxy's or captive portal's page, not the platform).
 */
export function isDefinitive(e: unknown): e is CampusCardApiError & { status: number } {
  return (
    answered(e) &&
    e.status >= 400 &&
    e.status < 500 &&
    !e.retryable &&
    !BEFORE_IDEMPOTENCY_CHECK.has(e.status) &&
    e.problem !== undefined
  );
}

/** Whether `e` is the platform's 404 (a problem body, not a proxy's page). */
export function isNotFound(e: unknown): boolean {
  return answered(e) && e.status === 404 && e.problem !== undefined;
}

/** Whether `e` is a transport failure without any response (connection error or timeout). */
export function isNoResponse(e: unknown): e is ConnectionError {
  return e instanceof ConnectionError;
}

/** Whether the connection could not even be opened (the network or platform is down). */
export function isConnectFailure(e: unknown): boolean {
  if (!(e instanceof ConnectionError)) return false;
  let cur: unknown = e.cause;
  for (let depth = 0; depth < 4 && cur !== undefined && cur !== null; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECT_FAILURES.has(code)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

/** Whether `e` comes from the caller's abort signal (so it must be rethrown untouched). */
export function isAbort(e: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && e === signal.reason;
}
