/**
 * The statements resource: download a daily statement and check it against its published hash.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { businessDay, DEFAULT_DAY_UTC_OFFSET, parseUtcOffset } from '@campus-card/core';
import { StatementInfo } from '@campus-card/core/api';
import { CampusCardApiError, type Transport } from '@campus-card/core/transport';
import { PosClientError } from './errors.js';
import { passOptions, type RequestOptions } from './request-options.js';

/** One movement line of a statement. */
export interface StatementLine {
  /** Ledger journal id. */
  readonly journalId: number;
  /** Movement kind: `payment`, `offline_payment`, `refund`, `reversal`, … */
  readonly kind: string;
  /** The order's merchant order number ('' when not an order movement). */
  readonly outTradeNo: string;
  /** The journal reference (order id, `<order id>/<refund no>`, `<order id>/reverse`). */
  readonly ref: string;
  /** Signed amount, integer fen, from the merchant's side (refunds and reversals negative). */
  readonly amountFen: number;
  /** RFC 3339 UTC time of the movement. */
  readonly createdAt: string;
}

/** A downloaded, hash-checked statement. */
export interface Statement {
  /** The published metadata (hash, totals). */
  readonly info: StatementInfo;
  /** The exact file bytes whose SHA-256 matched `info.hash_value`. */
  readonly bytes: Uint8Array;
  /** The parsed movement lines. */
  readonly lines: readonly StatementLine[];
}

/**
 * Largest statement file {@link StatementsResource.download} accepts: 64 MiB (67 108 864 bytes),
 * about 700 000 movement lines. The file request is also capped at the size the metadata publishes.
 */
export const MAX_STATEMENT_BYTES = 64 * 1024 * 1024;

/** `pos.statements`: daily statements for reconciliation. */
export interface StatementsResource {
  /**
   * Downloads the statement of a finished business day: `GET /v1/statements/{date}` (metadata with
   * the SHA-256, the day's bounds `from`/`to` and the platform's `day_utc_offset`) then
   * `GET /v1/statements/{date}/file`, and checks size, hash, line count and totals. The platform's
   * day runs from 00:00 to 24:00 at its UTC offset (`+08:00`, China Standard Time, by default),
   * and is served once over.
   *
   * The file is read as bytes (at most the published `size_bytes`, and never more than
   * {@link MAX_STATEMENT_BYTES}) and hashed as received, then decoded as UTF-8.
   *
   * @param date - the business day, `YYYY-MM-DD` (sent as given), or a `Date`: the business day
   *   it falls on at the client's offset (`dayUtcOffset` of {@link PosClientOptions}, by default
   *   that of the offline caps, else `+08:00`), which must then lie within the statement's
   *   `from`/`to` (else `ERR_POS_STATEMENT_INVALID`: the platform counts days at another offset).
   * @throws {@link PosClientError} `ERR_POS_STATEMENT_HASH_MISMATCH` when the file does not match
   *   its hash or size, `ERR_POS_STATEMENT_INVALID` when it is malformed (an amount or journal id
   *   that is not an integer numeral), not UTF-8, over {@link MAX_STATEMENT_BYTES} or its totals
   *   disagree (line count, credits, debits, net), or a `Date` outside the day the statement
   *   covers; `InvalidRequestError` 404 when the day is not over yet; `ERR_RESPONSE_INVALID` when
   *   the metadata is not a statement.
   */
  download(date: string | Date, options?: RequestOptions): Promise<Statement>;
}

const HEADER = 'journal_id,kind,out_trade_no,ref,amount,created_at';
const INTEGER = /^-?[0-9]+$/;

function parse(text: string): StatementLine[] {
  const rows = text.split('\n');
  if (rows[0] !== HEADER || rows[rows.length - 1] !== '')
    throw new PosClientError('ERR_POS_STATEMENT_INVALID', 'unexpected statement header or ending');
  return rows.slice(1, -1).map((row, i) => {
    const f = row.split(',');
    // integer numerals only: Number() reads '' and ' ' as 0 and '0x10' as 16
    const amount = INTEGER.test(f[4] ?? '') ? Number(f[4]) : Number.NaN;
    if (
      f.length !== 6 ||
      !Number.isSafeInteger(amount) ||
      !INTEGER.test(f[0] ?? '') ||
      !Number.isSafeInteger(Number(f[0]))
    )
      throw new PosClientError('ERR_POS_STATEMENT_INVALID', `statement line ${i + 2} is malformed`);
    return {
      journalId: Number(f[0]),
      kind: f[1] as string,
      outTradeNo: f[2] as string,
      ref: f[3] as string,
      amountFen: amount,
      createdAt: f[5] as string,
    };
  });
}

/**
 * Creates the statements resource over a transport.
 *
 * @param dayUtcOffset - the business day's UTC offset a `Date` is read at, `±HH:MM`; default
 *   `+08:00`. A RangeError when it is not an offset from -14:00 to +14:00.
 */
export function createStatementsResource(
  transport: Transport,
  merchantId?: string,
  dayUtcOffset: string = DEFAULT_DAY_UTC_OFFSET,
): StatementsResource {
  const offset = parseUtcOffset(dayUtcOffset, 'dayUtcOffset');
  return {
    async download(date, options) {
      const day = date instanceof Date ? businessDay(date.getTime(), offset) : date;
      if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day))
        throw new TypeError('date must be YYYY-MM-DD or a Date');
      const path = `/v1/statements/${encodeURIComponent(day)}`;
      const info = (
        await transport.request<StatementInfo>({
          method: 'GET',
          path,
          schema: StatementInfo,
          ...passOptions(options),
        })
      ).body;
      if (merchantId !== undefined && info.merchant_id !== merchantId) {
        throw new PosClientError(
          'ERR_POS_STATEMENT_INVALID',
          `statement is for merchant ${info.merchant_id}, not ${merchantId}`,
        );
      }
      if (date instanceof Date) {
        const at = date.getTime();
        if (!(Date.parse(info.from) <= at && at < Date.parse(info.to))) {
          throw new PosClientError(
            'ERR_POS_STATEMENT_INVALID',
            `statement ${day} covers ${info.from} to ${info.to} (a day at ${info.day_utc_offset}), not ${date.toISOString()}: set dayUtcOffset to the platform's`,
          );
        }
      }
      if (info.size_bytes > MAX_STATEMENT_BYTES) {
        throw new PosClientError(
          'ERR_POS_STATEMENT_INVALID',
          `statement ${day} of ${info.size_bytes} bytes is over the limit of ${MAX_STATEMENT_BYTES}`,
        );
      }
      let bytes: Uint8Array;
      try {
        const file = await transport.request<Uint8Array>({
          method: 'GET',
          path: `${path}/file`,
          responseType: 'bytes',
          maxResponseBytes: Math.max(1, info.size_bytes),
          ...passOptions(options),
        });
        bytes = file.body;
      } catch (e) {
        if (e instanceof CampusCardApiError && e.code === 'ERR_RESPONSE_TOO_LARGE') {
          throw new PosClientError(
            'ERR_POS_STATEMENT_HASH_MISMATCH',
            `statement ${day}: the file is larger than the published ${info.size_bytes} bytes`,
            { cause: e },
          );
        }
        throw e;
      }
      const hash = createHash('sha256').update(bytes).digest('hex');
      if (bytes.length !== info.size_bytes || hash !== info.hash_value) {
        throw new PosClientError(
          'ERR_POS_STATEMENT_HASH_MISMATCH',
          `statement ${day}: sha-256 ${hash} (${bytes.length} bytes) ≠ published ${info.hash_value} (${info.size_bytes} bytes)`,
        );
      }
      let text: string;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch (e) {
        throw new PosClientError('ERR_POS_STATEMENT_INVALID', `statement ${day} is not UTF-8`, { cause: e });
      }
      const lines = parse(text);
      let credits = 0;
      let debits = 0;
      for (const l of lines) {
        if (l.amountFen >= 0) credits += l.amountFen;
        else debits -= l.amountFen;
      }
      if (
        lines.length !== info.line_count ||
        credits !== info.credits ||
        debits !== info.debits ||
        info.net !== credits - debits
      ) {
        throw new PosClientError(
          'ERR_POS_STATEMENT_INVALID',
          `statement ${day}: lines or totals disagree with its metadata`,
        );
      }
      return { info, bytes, lines };
    },
  };
}
