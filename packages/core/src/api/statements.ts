/**
 * Statements domain (I2): a merchant's daily statement for reconciliation, published with its
 * SHA-256 hash (like a payment channel's bill download: fetch the metadata, download the file,
 * check the hash).
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import { Id, MoneyTotal, type RouteDef, SIGNED_ERRORS, strictObject, Timestamp } from './common.js';
import { UtcOffset } from './directory.js';

/**
 * A business day, `YYYY-MM-DD`: the calendar day from 00:00 to 24:00 at the platform's UTC offset
 * (`+08:00`, China Standard Time, by default; `day_utc_offset` of the statement says which).
 */
export const StatementDate = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
  description:
    "Business day, YYYY-MM-DD: 00:00 to 24:00 at the platform's UTC offset (+08:00, China Standard Time, by default), not a UTC day.",
});

/**
 * The metadata of a daily statement. The day is a business day: from 00:00 to 24:00 at the
 * platform's UTC offset (`day_utc_offset`, `+08:00` by default), i.e. the movements whose
 * `created_at` is at or after `from` and before `to`. The file (`text/csv`, UTF-8, no BOM) lists
 * every ledger movement of the merchant's account that day: header
 * `journal_id,kind,out_trade_no,ref,amount,created_at` and one line per movement, `amount` in
 * signed fen from the merchant's side (payments positive, refunds and reversals negative).
 */
export const StatementInfo = strictObject({
  merchant_id: Id,
  date: StatementDate,
  hash_type: Type.Literal('sha-256'),
  hash_value: Type.String({
    pattern: '^[0-9a-f]{64}$',
    description: 'Lowercase hex SHA-256 of the file bytes.',
  }),
  size_bytes: Type.Integer({ minimum: 0 }),
  line_count: Type.Integer({ minimum: 0, description: 'Movement lines, header excluded.' }),
  credits: MoneyTotal,
  debits: MoneyTotal,
  net: Type.Integer({ description: 'credits − debits, fen.' }),
  generated_at: Timestamp,
  from: Type.String({
    pattern: Timestamp.pattern as string,
    description: 'Start of the day (inclusive): its 00:00 at `day_utc_offset`, as an RFC 3339 UTC time.',
    examples: ['2026-01-05T16:00:00Z'],
  }),
  to: Type.String({
    pattern: Timestamp.pattern as string,
    description:
      "End of the day (exclusive): the next day's 00:00 at `day_utc_offset`, as an RFC 3339 UTC time. The statement is served once this time has passed.",
    examples: ['2026-01-06T16:00:00Z'],
  }),
  day_utc_offset: Type.String({
    pattern: UtcOffset.pattern as string,
    description: 'The UTC offset of the business day, ±HH:MM, e.g. +08:00.',
    examples: ['+08:00'],
  }),
});
/** Statement metadata. */
export type StatementInfo = Static<typeof StatementInfo>;

const dateParams = strictObject({ date: StatementDate });

/** Statement routes. */
export const statementRoutes = [
  {
    method: 'GET',
    path: '/v1/statements/{date}',
    operationId: 'getStatement',
    summary:
      "The caller's merchant's daily statement of a business day (00:00 to 24:00 at the platform's UTC offset, +08:00 by default): metadata with the file's SHA-256 and the day's bounds (only for finished days)",
    tag: 'payments',
    auth: ['device', 'merchant'],
    params: dateParams,
    responses: { 200: StatementInfo, ...SIGNED_ERRORS },
    capabilities: ['I2'],
  },
  {
    method: 'GET',
    path: '/v1/statements/{date}/file',
    operationId: 'downloadStatement',
    summary: 'The daily statement file (text/csv); check it against the published hash',
    tag: 'payments',
    auth: ['device', 'merchant'],
    params: dateParams,
    responses: { 200: Type.String({ contentMediaType: 'text/csv' }), ...SIGNED_ERRORS },
    capabilities: ['I2'],
  },
] as const satisfies readonly RouteDef[];
