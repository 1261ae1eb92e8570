/**
 * Statements domain (I2): a merchant's daily statement for reconciliation, published with its
 * SHA-256 hash (like a payment channel's bill download: fetch the metadata, download the file,
 * check the hash).
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import { Id, MoneyTotal, type RouteDef, SIGNED_ERRORS, strictObject, Timestamp } from './common.js';

/** A calendar day in UTC, `YYYY-MM-DD`. */
export const StatementDate = Type.String({
  pattern: '^\\d{4}-\\d{2}-\\d{2}$',
  description: 'UTC day, YYYY-MM-DD.',
});

/**
 * The metadata of a daily statement. The file (`text/csv`, UTF-8, no BOM) lists every ledger
 * movement of the merchant's account that day: header
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
      "The caller's merchant's daily statement: metadata with the file's SHA-256 (only for finished days)",
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
