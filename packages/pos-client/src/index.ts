/**
 * `@campus-card/pos-client`: the typed POS terminal client of the campus card platform.
 * Scan-to-pay in one call (offline pre-check, idempotent create, polling on a published schedule,
 * reversal of what cannot be confirmed), refunds, balances and totals, hash-checked daily
 * statements, and an offline mode with a durable fsync'd outbox synced in idempotent batches.
 *
 * Node only (undici, node:fs, node:crypto).
 *
 * @example
 * ```ts
 * import { createFileOutbox, createPosClient } from '@campus-card/pos-client';
 * const pos = createPosClient({ baseUrl, deviceId: 'pos-01', privateKey: jwk,
 *   offline: { outbox: await createFileOutbox('outbox.jsonl'), caps: { perTransactionFen: 5000, totalFen: 100_000, maxAgeSeconds: 86_400 } } });
 * const r = await pos.scanToPay({ qr, amountFen: 1250 });
 * ```
 *
 * @module
 */
export {
  ApiServerError,
  AuthenticationError,
  CampusCardApiError,
  ConflictError,
  ConnectionError,
  IdempotencyError,
  InvalidRequestError,
  PermissionError,
  RateLimitError,
  TimeoutError,
} from '@campus-card/core/transport';
export {
  createPosClient,
  type OfflineOptions,
  type PosClient,
  type PosClientOptions,
} from './create-pos-client.js';
export { isPosClientError, type OfflineCap, PosClientError, type PosClientErrorCode } from './errors.js';
export type { OfflineVerifier } from './lib/context.js';
export type { OfflineCaps } from './offline-caps.js';
export { createFileOutbox, type FileOutboxOptions } from './outbox/file-outbox.js';
export { createMemoryOutbox, type MemoryOutboxOptions } from './outbox/memory-outbox.js';
export type {
  AckOptions,
  BookedTotal,
  NewOutboxEntry,
  OutboxEntry,
  OutboxPayment,
  OutboxReversal,
  OutboxStore,
  QuarantinedEntry,
  QuarantineReason,
} from './outbox/outbox-store.js';
export type {
  CreatePaymentInput,
  PaymentsResource,
  RefundInput,
  ReverseOptions,
} from './payments.js';
export { DEFAULT_POLL_SCHEDULE } from './poll-schedule.js';
export type { RequestOptions } from './request-options.js';
export type {
  ScanToPayDenied,
  ScanToPayFinal,
  ScanToPayInput,
  ScanToPayOffline,
  ScanToPayResult,
} from './scan-to-pay.js';
export {
  MAX_STATEMENT_BYTES,
  type Statement,
  type StatementLine,
  type StatementsResource,
} from './statements.js';
export type { SyncOptions, SyncResult } from './sync.js';
export type { TimeInput, WalletsResource } from './wallets.js';
