/**
 * Errors raised by the transport: one base class, {@link CampusCardApiError}, and subclasses
 * mapped from the HTTP status the way stripe-node's `generateV1Error` does.
 *
 * @module
 */
import { isProblem, type Problem } from '../http/problem.js';

/** Constructor fields of {@link CampusCardApiError}. */
export interface CampusCardApiErrorInit {
  /**
   * Stable error code: the problem's `code`, or one of the transport's own: `ERR_HTTP_<status>` (an
   * error status without a problem body), `ERR_CONNECTION`, `ERR_TIMEOUT`, `ERR_RESPONSE_INVALID`
   * (a success answer that is not the expected JSON: wrong content type, empty, a redirect, or not
   * fitting the contract), `ERR_RESPONSE_INVALID_JSON` (unparsable JSON) or
   * `ERR_RESPONSE_TOO_LARGE` (a body over `maxResponseBytes`). The last three carry the status.
   */
  readonly code: string;
  /** Human-readable message. */
  readonly message: string;
  /** HTTP status; `undefined` when no response was received. */
  readonly status?: number | undefined;
  /** The request id from the response (`Request-Id`/`X-Request-Id` header or the problem's `request_id`). */
  readonly requestId?: string | undefined;
  /** Whether retrying the same request (same idempotency key) may succeed. */
  readonly retryable?: boolean;
  /** The parsed RFC 9457 problem body, when the server sent one. */
  readonly problem?: Problem | undefined;
  /** Response headers (lowercased names); empty when no response was received. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The underlying error, for connection failures. */
  readonly cause?: unknown;
}

/**
 * Base class of every error the transport throws for an API call. Switch on `code` (stable) or
 * use `instanceof` with the subclasses.
 *
 * @example
 * ```ts
 * try { await transport.request({ method: 'POST', path: '/v1/payments', body }); }
 * catch (e) { if (e instanceof RateLimitError) console.log(e.code, e.requestId, e.problem?.detail); }
 * ```
 */
export class CampusCardApiError extends Error {
  /** Stable error code. */
  readonly code: string;
  /** HTTP status; `undefined` when no response was received. */
  readonly status: number | undefined;
  /** Request id reported by the server, if any. */
  readonly requestId: string | undefined;
  /** Whether a retry with the same idempotency key may succeed. */
  readonly retryable: boolean;
  /** The parsed problem details body, if any. */
  readonly problem: Problem | undefined;
  /** Response headers with lowercased names (empty without a response). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(init: CampusCardApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.retryable = init.retryable ?? false;
    this.problem = init.problem;
    this.headers = init.headers ?? {};
  }
}

/** 400, 404, 422 and other unmapped 4xx: the request is wrong and must not be retried as is. */
export class InvalidRequestError extends CampusCardApiError {}
/** 401: missing or invalid request signature or unknown device key. */
export class AuthenticationError extends CampusCardApiError {}
/** 403: the device is not allowed to perform this operation. */
export class PermissionError extends CampusCardApiError {}
/** 409: a conflict with the current state of the resource. */
export class ConflictError extends CampusCardApiError {}
/** 409 with an `ERR_IDEMPOTENCY_*` code: an idempotency key reused with other parameters, or still in progress. */
export class IdempotencyError extends ConflictError {}
/** 429: too many requests; see `retryAfterMs`. */
export class RateLimitError extends CampusCardApiError {
  /** The server's `Retry-After`, in milliseconds, when present and valid. */
  retryAfterMs: number | undefined;
  constructor(init: CampusCardApiErrorInit & { readonly retryAfterMs?: number | undefined }) {
    super(init);
    this.retryAfterMs = init.retryAfterMs;
  }
}
/** 5xx: the platform failed; retried automatically for safe or idempotency-keyed requests. */
export class ApiServerError extends CampusCardApiError {}
/** No response was received (connection refused, reset, DNS, TLS…). */
export class ConnectionError extends CampusCardApiError {}
/** No response within the connect or request timeout; a kind of {@link ConnectionError}. */
export class TimeoutError extends ConnectionError {}

/** Reads the request id from response headers (`request-id`, then `x-request-id`). */
export function requestIdFrom(headers: Readonly<Record<string, string>>): string | undefined {
  return headers['request-id'] ?? headers['x-request-id'];
}

/**
 * Maps an HTTP error response to the matching {@link CampusCardApiError} subclass.
 *
 * @param status - the HTTP status (≥ 400 expected).
 * @param headers - response headers with lowercased names.
 * @param body - the parsed body: a {@link Problem} gives `code`, `retryable`, `requestId`; anything else gives `ERR_HTTP_<status>`.
 * @param retryAfterMs - parsed `Retry-After`, for 429.
 */
export function errorFromResponse(
  status: number,
  headers: Readonly<Record<string, string>>,
  body: unknown,
  retryAfterMs?: number,
): CampusCardApiError {
  const problem = isProblem(body) ? body : undefined;
  const code = problem?.code ?? `ERR_HTTP_${status}`;
  const defaultRetryable =
    status === 408 ||
    status === 425 ||
    status === 429 ||
    status >= 500 ||
    code === 'ERR_IDEMPOTENCY_IN_PROGRESS';
  const init: CampusCardApiErrorInit = {
    code,
    message: problem ? `${problem.title}${problem.detail ? `: ${problem.detail}` : ''}` : `HTTP ${status}`,
    status,
    requestId: requestIdFrom(headers) ?? problem?.request_id,
    retryable: problem?.retryable ?? defaultRetryable,
    problem,
    headers,
  };
  if (status === 401) return new AuthenticationError(init);
  if (status === 403) return new PermissionError(init);
  if (status === 409)
    return code.startsWith('ERR_IDEMPOTENCY') ? new IdempotencyError(init) : new ConflictError(init);
  if (status === 429) return new RateLimitError({ ...init, retryAfterMs });
  if (status >= 500) return new ApiServerError(init);
  if (status >= 400) return new InvalidRequestError(init);
  return new CampusCardApiError(init);
}
