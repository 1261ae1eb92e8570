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
 * Whether the platform gave a final answer to this request: an HTTP error that is not retryable
 * (a 4xx other than 429 and "in progress"). Retrying the same request gives the same answer.
 */
export function isDefinitive(e: unknown): e is CampusCardApiError {
  return answered(e) && !e.retryable && e.status < 500 && e.status !== 429;
}

/** Whether `e` is an HTTP 404. */
export function isNotFound(e: unknown): boolean {
  return answered(e) && e.status === 404;
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
