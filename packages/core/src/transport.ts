/**
 * `@campus-card/core/transport`: the Node-only HTTP client core (undici) shared by
 * `@campus-card/pos-client` and `@campus-card/gate-client`, and helpers to verify platform
 * pushes on Node, raw-body frameworks (fastify, express) and fetch-style runtimes.
 *
 * @module
 */
export { type BackoffOptions, computeBackoff, parseRetryAfter } from './transport/backoff.js';
export {
  createTransport,
  type HttpMethod,
  type QueryValue,
  type Transport,
  type TransportOptions,
  type TransportRequest,
  type TransportResponse,
} from './transport/create-transport.js';
export {
  ApiServerError,
  AuthenticationError,
  CampusCardApiError,
  type CampusCardApiErrorInit,
  ConflictError,
  ConnectionError,
  errorFromResponse,
  IdempotencyError,
  InvalidRequestError,
  PermissionError,
  RateLimitError,
  TimeoutError,
} from './transport/errors.js';
export {
  DEFAULT_MAX_PUSH_BYTES,
  type PushReceiverOptions,
  type PushTooLarge,
  type RawPush,
  type ReceivedPushResult,
  verifyPushFromNodeRequest,
  verifyPushFromRawBody,
  verifyPushFromWebRequest,
} from './transport/push-receiver.js';
export { createSharedRun, type SharedRun, type SharedRunStart } from './transport/shared-run.js';
export { type SleepFn, sleep } from './transport/sleep.js';
