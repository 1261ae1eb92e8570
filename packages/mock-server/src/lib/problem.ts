/**
 * API errors and RFC 9457 problem bodies.
 *
 * @module
 */
import type { ErrorCode, Problem } from '@campus-card/core/api';

/** A 4xx/5xx outcome with a stable code; thrown by handlers and turned into problem+json. */
export class ApiError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** Stable code. */
  readonly code: ErrorCode | (string & {});
  /** Whether a retry may succeed. */
  readonly retryable: boolean;
  /** Field errors. */
  readonly errors: readonly { path: string; message: string }[] | undefined;
  /** Extra response headers (e.g. Retry-After). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    status: number,
    code: ErrorCode | (string & {}),
    message: string,
    options: {
      retryable?: boolean;
      errors?: readonly { path: string; message: string }[];
      headers?: Record<string, string>;
    } = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  431: 'Request Header Fields Too Large',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Builds the problem body of an error. */
export function toProblem(err: ApiError, requestId: string, instance?: string): Problem {
  const p: Problem = {
    type: `https://campus-card.dev/problems/${err.code.toLowerCase().replace(/^err_/, '').replace(/_/g, '-')}`,
    title: TITLES[err.status] ?? 'Error',
    status: err.status,
    detail: err.message,
    code: err.code,
    retryable: err.retryable,
    request_id: requestId,
  };
  if (instance !== undefined) p.instance = instance;
  if (err.errors !== undefined) p.errors = [...err.errors];
  return p;
}

/** Shorthand: 404. */
export function notFound(what: string): ApiError {
  return new ApiError(404, 'ERR_NOT_FOUND', `${what} not found`);
}

/**
 * Shorthand: the retryable 503 of a request whose writes were rolled back with a failed
 * group-commit batch (or may have been: its retry runs again).
 */
export function rolledBack(message = 'the transaction could not be committed; retry'): ApiError {
  return new ApiError(503, 'ERR_INTERNAL', message, { retryable: true, headers: { 'retry-after': '1' } });
}

/** Shorthand: 409 conflict. */
export function conflict(code: ErrorCode, message: string): ApiError {
  return new ApiError(409, code, message);
}
