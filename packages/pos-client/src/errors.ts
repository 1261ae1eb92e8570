/**
 * Errors of `@campus-card/pos-client`: one base class, {@link PosClientError}, with a stable
 * string `code`. API failures keep the transport's classes (`CampusCardApiError` and its
 * subclasses from `@campus-card/core/transport`), which are re-exported from the package entry.
 *
 * Bad *arguments* (a negative amount, an empty device id) throw `TypeError` or `RangeError`.
 *
 * @module
 */

/**
 * Every stable error code the POS client raises itself.
 *
 * - `ERR_POS_OFFLINE_CAP`: an offline sale would exceed a cap (`cap` says which).
 * - `ERR_POS_OFFLINE_DISABLED`: the network is down and no offline outbox is configured.
 * - `ERR_POS_PAYMENT_UNKNOWN`: the platform could not be reached to confirm or reverse a
 *   payment; a reversal was queued in the outbox and {@link PosClient.sync} will finish it.
 * - `ERR_POS_STATEMENT_HASH_MISMATCH`: a downloaded statement does not match its published hash.
 * - `ERR_POS_STATEMENT_INVALID`: the statement metadata or file is malformed.
 * - `ERR_POS_OUTBOX_CORRUPT`: a journal line other than the last one is unreadable.
 * - `ERR_POS_OUTBOX_CLOSED`: the outbox was used after `close()`.
 * - `ERR_POS_OUTBOX_LOCKED`: another file outbox (this process or another) has the journal open.
 */
export type PosClientErrorCode =
  | 'ERR_POS_OFFLINE_CAP'
  | 'ERR_POS_OFFLINE_DISABLED'
  | 'ERR_POS_PAYMENT_UNKNOWN'
  | 'ERR_POS_STATEMENT_HASH_MISMATCH'
  | 'ERR_POS_STATEMENT_INVALID'
  | 'ERR_POS_OUTBOX_CORRUPT'
  | 'ERR_POS_OUTBOX_CLOSED'
  | 'ERR_POS_OUTBOX_LOCKED';

/** Which offline cap refused a sale. */
export type OfflineCap = 'perTransaction' | 'total' | 'maxAge';

/**
 * The base class of errors the POS client raises itself. Switch on `code`.
 *
 * @example
 * ```ts
 * try { await pos.scanToPay({ qr, amountFen: 1200 }); } catch (e) {
 *   if (isPosClientError(e, 'ERR_POS_OFFLINE_CAP')) showMessage('offline limit reached');
 * }
 * ```
 */
export class PosClientError extends Error {
  /** The stable machine-readable code. */
  readonly code: PosClientErrorCode;
  /** The merchant order number concerned, when there is one. */
  readonly outTradeNo: string | undefined;
  /** For `ERR_POS_OFFLINE_CAP`: the cap that refused the sale. */
  readonly cap: OfflineCap | undefined;

  constructor(
    code: PosClientErrorCode,
    message: string,
    options: { cause?: unknown; outTradeNo?: string; cap?: OfflineCap } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PosClientError';
    this.code = code;
    this.outTradeNo = options.outTradeNo;
    this.cap = options.cap;
  }
}

/** Whether `e` is a {@link PosClientError}, optionally with the given code. */
export function isPosClientError(e: unknown, code?: PosClientErrorCode): e is PosClientError {
  return e instanceof PosClientError && (code === undefined || e.code === code);
}
