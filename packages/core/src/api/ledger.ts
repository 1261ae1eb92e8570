/**
 * Ledger domain: the double-entry ledger under the wallets, and its consistency check.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import { type RouteDef, SIGNED_ERRORS, strictObject } from './common.js';

/** The result of a ledger consistency check. */
export const LedgerCheck = strictObject({
  balanced: Type.Boolean({
    description:
      "Every journal entry sums to zero, every cached balance matches its postings, debits equal credits, and the orders agree with the ledger on both sides: each wallet holds what its person's captured orders net, each merchant account what its captured payments net after refunds and reversals, each fee account (`fees:<school>:<type>`) the fees paid to it, and the top-up channels together what the top-ups brought in. And every journal entry is the posting of an order, once: its capture (of the order's kind), a refund its refunds record, or the reversal of a reversed payment; every account is one the platform opens (a person's wallet, a merchant's account, a school's fee account of a fee type, a top-up channel); each payment's refunds add up to what it returned.",
  }),
  journal_entries: Type.Integer({ minimum: 0 }),
  postings: Type.Integer({ minimum: 0 }),
  total_debits: Type.Integer({ minimum: 0 }),
  total_credits: Type.Integer({ minimum: 0 }),
  wallet_total: Type.Integer(),
  problems: Type.Array(Type.String(), {
    description: 'What disagrees, in words (at most 20 lines of each kind); empty when balanced.',
  }),
});
/** A ledger check. */
export type LedgerCheck = Static<typeof LedgerCheck>;

/** Ledger routes. */
export const ledgerRoutes = [
  {
    method: 'GET',
    path: '/v1/ledger/check',
    operationId: 'checkLedger',
    summary: 'Check that the double-entry ledger balances to the fen',
    tag: 'ledger',
    auth: ['operator'],
    responses: { 200: LedgerCheck, ...SIGNED_ERRORS },
    capabilities: ['S1', 'M1'],
  },
] as const satisfies readonly RouteDef[];
