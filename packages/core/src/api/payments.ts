/**
 * Payments domain (I2, S1, G3): wallets shared by the e-card and the physical card, top-ups
 * through a simulated channel, POS payments from a scanned code, the order state machine,
 * reversal, partial idempotent refunds, balances, per-person totals, fees paid by parents and
 * store-and-forward offline payments.
 *
 * @module
 */
import { type Static, Type } from '@sinclair/typebox';
import {
  Balance,
  BusinessKey,
  Id,
  MAX_AMOUNT_FEN,
  Money,
  MoneyTotal,
  OWN_SCHOOL_ONLY,
  Page,
  PageQuery,
  PhysicalUidHex,
  POST_ERRORS,
  PositiveMoney,
  QrText,
  type RouteDef,
  SIGNED_ERRORS,
  strictObject,
  TimeRangeQuery,
  Timestamp,
} from './common.js';

/**
 * Order states. `processing` → `success` | `failed` | `closed` | `reversed`; `success` →
 * `reversed` (full refund) or stays `success` with refunds.
 */
export const OrderStatus = Type.Union([
  Type.Literal('processing'),
  Type.Literal('success'),
  Type.Literal('failed'),
  Type.Literal('closed'),
  Type.Literal('reversed'),
]);
/** An order state. */
export type OrderStatus = Static<typeof OrderStatus>;

/** Order kinds. */
export const OrderKind = Type.Union([
  Type.Literal('payment'),
  Type.Literal('offline_payment'),
  Type.Literal('top_up'),
  Type.Literal('fee'),
]);

/** Fee types parents pay for a student (S1). */
export const FeeType = Type.Union([
  Type.Literal('tuition'),
  Type.Literal('meals'),
  Type.Literal('materials'),
  Type.Literal('courses'),
  Type.Literal('dorm'),
]);
/** A fee type. */
export type FeeType = Static<typeof FeeType>;

/** Request body: a POS payment from a scanned code or a physical card (the POS writes user and amount). */
export const CreatePaymentBody = strictObject({
  out_trade_no: BusinessKey,
  amount: PositiveMoney,
  qr_text: Type.Optional(QrText),
  uid_hex: Type.Optional(PhysicalUidHex),
  description: Type.Optional(Type.String({ maxLength: 128 })),
});
/** Create-payment body. */
export type CreatePaymentBody = Static<typeof CreatePaymentBody>;

/** A refund. */
export const Refund = strictObject({
  out_refund_no: BusinessKey,
  out_trade_no: BusinessKey,
  amount: PositiveMoney,
  status: Type.Literal('success'),
  reason: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
});
/** A refund. */
export type Refund = Static<typeof Refund>;

/** An order (payment, top-up, fee). */
export const Order = strictObject({
  order_id: Id,
  out_trade_no: BusinessKey,
  kind: OrderKind,
  status: OrderStatus,
  amount: Money,
  refunded_amount: Type.Integer({
    minimum: 0,
    maximum: MAX_AMOUNT_FEN,
    description:
      'Fen returned to the wallet: the refunds, and after a reversal of a captured payment all the rest, so then `amount`. `refunds` lists the refunds only.',
  }),
  person_id: Id,
  card_id: Type.Union([Id, Type.Null()]),
  merchant_id: Type.Union([Id, Type.Null()]),
  device_id: Type.Union([Id, Type.Null()]),
  via: Type.Union([
    Type.Literal('qr'),
    Type.Literal('physical_card'),
    Type.Literal('channel'),
    Type.Literal('wallet'),
  ]),
  fee_type: Type.Union([FeeType, Type.Null()]),
  student_id: Type.Union([Id, Type.Null()]),
  failure_code: Type.Union([Type.String(), Type.Null()]),
  description: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  refunds: Type.Array(Refund),
});
/** An order. */
export type Order = Static<typeof Order>;

/** Request body: refund part of an order, idempotent by `out_refund_no`. */
export const CreateRefundBody = strictObject({
  out_refund_no: BusinessKey,
  amount: PositiveMoney,
  reason: Type.Optional(Type.String({ maxLength: 256 })),
});
/** Create-refund body. */
export type CreateRefundBody = Static<typeof CreateRefundBody>;

/** Request body: reverse (cancel) an order. */
export const ReverseOrderBody = strictObject({ reason: Type.Optional(Type.String({ maxLength: 256 })) });

/** Request body: top up a wallet through the simulated payment channel. */
export const TopUpBody = strictObject({
  out_trade_no: BusinessKey,
  amount: PositiveMoney,
  channel: Type.Union([
    Type.Literal('bank'),
    Type.Literal('wechat'),
    Type.Literal('alipay'),
    Type.Literal('simulated'),
  ]),
});
/** Top-up body. */
export type TopUpBody = Static<typeof TopUpBody>;

/** Request body: a parent pays a student's fee from the parent's wallet. */
export const PayFeeBody = strictObject({
  out_trade_no: BusinessKey,
  payer_person_id: Id,
  student_person_id: Id,
  fee_type: FeeType,
  amount: PositiveMoney,
});
/** Pay-fee body. */
export type PayFeeBody = Static<typeof PayFeeBody>;

/** A wallet: one account per person, shared by the e-card and the physical card (C5). */
export const Wallet = strictObject({
  person_id: Id,
  balance: Balance,
  currency: Type.Literal('CNY'),
  updated_at: Timestamp,
});
/** A wallet. */
export type Wallet = Static<typeof Wallet>;

/** Query: a time range [from, to). */
export const RangeQuery = strictObject({ from: Timestamp, to: Timestamp });

/**
 * Per-person totals over a time range, without line items (I2). Every figure is read from the
 * wallet's ledger postings, by when the money moved (a payment when it was captured, a refund
 * when it was made), so an order that moved no money (failed, closed, reversed before capture)
 * counts nowhere, and `net` is the change of the balance over the range.
 */
export const WalletSummary = strictObject(
  {
    person_id: Id,
    from: Timestamp,
    to: Timestamp,
    spent: MoneyTotal,
    refunded: MoneyTotal,
    topped_up: MoneyTotal,
    fees_paid: MoneyTotal,
    payment_count: Type.Integer({ minimum: 0, description: 'Payments debited.' }),
    net: Type.Integer({
      description: 'topped_up + refunded − spent − fees_paid: the change of the balance.',
    }),
  },
  {
    description:
      "From the wallet's ledger postings, by when the money moved: an order that moved no money counts nowhere.",
  },
);
/** A wallet summary. */
export type WalletSummary = Static<typeof WalletSummary>;

/** One offline payment captured while the POS had no network. */
export const OfflinePayment = strictObject({
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  out_trade_no: BusinessKey,
  amount: PositiveMoney,
  qr_text: Type.Optional(QrText),
  uid_hex: Type.Optional(PhysicalUidHex),
  captured_at: Timestamp,
});
/** An offline payment. */
export type OfflinePayment = Static<typeof OfflinePayment>;

/** Request body: a batch of offline payments (store and forward). */
export const OfflineBatchBody = strictObject({
  items: Type.Array(OfflinePayment, {
    minItems: 1,
    maxItems: 500,
    description:
      "The request body is also bounded in bytes: 256 KiB by default (413 `ERR_BODY_TOO_LARGE`), some 450 items with QR codes. Split a batch answered 413 (the POS client halves it). A sale whose own online payment (same out_trade_no, amount, code or UID, by this POS) still awaits its holder's confirmation (`processing`) refuses the whole batch with a retryable 409 `ERR_ORDER_STATE`, `errors[]` naming each such `body/items/<i>` and `Retry-After` the seconds until the confirmation: nothing of the batch is stored, not even under its Idempotency-Key. Send it again then: the sale is a `duplicate` of the order once captured, or `rejected` `ERR_OUT_TRADE_NO_CONFLICT` with an incident if the order failed or was closed or reversed meanwhile.",
  }),
});
/** Offline-batch body. */
export type OfflineBatchBody = Static<typeof OfflineBatchBody>;

/** The outcome of one offline payment. */
export const OfflineItemResult = strictObject({
  seq: Type.Integer(),
  out_trade_no: BusinessKey,
  outcome: Type.Union([
    Type.Literal('accepted', { description: 'Booked: an order was made and the wallet debited.' }),
    Type.Literal('duplicate', {
      description:
        "Seen before: this (device, seq), or the same sale (amount, code or UID) under this out_trade_no, by an order of this POS that took its money (success; one that took none is `rejected` `ERR_OUT_TRADE_NO_CONFLICT`; one still awaiting its holder's confirmation refuses the batch, see the body). Nothing new is booked. A (device, seq) already used by a sale under another out_trade_no is answered with that sale's out_trade_no: the item is not booked, send it again under a new seq.",
    }),
    Type.Literal('rejected', { description: 'Not booked: `code` says why.' }),
  ]),
  code: Type.Union([Type.String(), Type.Null()], {
    description:
      "Why it was rejected: `ERR_OFFLINE_CAP`, `ERR_OUT_TRADE_NO_CONFLICT` (the out_trade_no names another sale, also when that sale was recorded under this very seq: a POS numbering again from the start), `ERR_CODE_ALREADY_USED`, `ERR_CARD_NOT_ACTIVE`, `ERR_CAPTURED_AT` (captured_at after now or before the POS was registered, beyond the signature clock tolerance, or longer ago than the platform takes offline sales: 7 days by default) or a token-format code (`ERR_REVOKED`, …). For a duplicate of a (device, seq), the first answer's code.",
  }),
  order_id: Type.Union([Id, Type.Null()]),
  conflict_device_id: Type.Union([Id, Type.Null()], {
    description: 'The other device, when one code was used on two.',
  }),
});
/** An offline item result. */
export type OfflineItemResult = Static<typeof OfflineItemResult>;

/** The answer to an offline batch. */
export const OfflineBatchResult = strictObject({
  results: Type.Array(OfflineItemResult),
  accepted: Type.Integer({ minimum: 0 }),
  duplicates: Type.Integer({ minimum: 0 }),
  rejected: Type.Integer({ minimum: 0 }),
});
/** An offline batch result. */
export type OfflineBatchResult = Static<typeof OfflineBatchResult>;

/** Query: list orders. */
export const ListOrdersQuery = strictObject({
  person_id: Type.Optional(Id),
  ...TimeRangeQuery,
  ...PageQuery,
});

const tradeParams = strictObject({ out_trade_no: BusinessKey });
const personParams = strictObject({ person_id: Id });
const payers = ['device', 'merchant'] as const;

/** Payment routes. */
export const paymentRoutes = [
  {
    method: 'POST',
    path: '/v1/payments',
    operationId: 'createPayment',
    summary: 'Pay from a scanned code or a physical card: the POS writes user and amount',
    description:
      'Answered after the transaction is committed. `success` or `failed` is final; amounts above the confirmation threshold stay `processing` until the holder confirms (simulated: 5 s) — poll `getPayment`.',
    tag: 'payments',
    auth: payers,
    body: CreatePaymentBody,
    responses: { 200: Order, 201: Order, ...POST_ERRORS },
    capabilities: ['I2', 'G2', 'S1', 'S7'],
  },
  {
    method: 'GET',
    path: '/v1/payments/{out_trade_no}',
    operationId: 'getPayment',
    summary: "Query an order by the merchant's order number (passive)",
    description:
      "A device or merchant gets its merchant's order. The operator gets the top-up or fee it numbered so; a number it never used is looked up among the merchants' orders (the oldest, when several merchants used it: `GET /v1/orders` lists them all).",
    tag: 'payments',
    auth: ['device', 'merchant', 'operator'],
    params: tradeParams,
    responses: { 200: Order, ...SIGNED_ERRORS },
    capabilities: ['I2'],
  },
  {
    method: 'POST',
    path: '/v1/payments/{out_trade_no}/reverse',
    operationId: 'reversePayment',
    summary: 'Reverse (cancel) a payment: processing → reversed; success → reversed with the money returned',
    description:
      'Only payments (kind `payment` or `offline_payment`): a top-up or a fee, like a failed or closed payment, is 409 `ERR_ORDER_STATE`. A reversed payment is answered again (200).',
    tag: 'payments',
    auth: payers,
    params: tradeParams,
    body: ReverseOrderBody,
    responses: { 200: Order, ...POST_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/payments/{out_trade_no}/close',
    operationId: 'closePayment',
    summary: 'Close an unpaid (processing) payment',
    description:
      'Only a `processing` payment; a closed one is answered again (200). Any other order, a top-up or a fee included, is 409 `ERR_ORDER_STATE`.',
    tag: 'payments',
    auth: payers,
    params: tradeParams,
    body: ReverseOrderBody,
    responses: { 200: Order, ...POST_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/payments/{out_trade_no}/refunds',
    operationId: 'createRefund',
    summary: 'Refund part of a successful payment; idempotent by out_refund_no',
    description:
      'Only a `success` payment (kind `payment` or `offline_payment`): any other order, a top-up or a fee included, is 409 `ERR_ORDER_STATE`; more than the rest of the amount is 409 `ERR_REFUND_EXCEEDS`. A payment still `processing` is a retryable 409 `ERR_ORDER_STATE` with `Retry-After` (the seconds to its confirmation), not stored under the Idempotency-Key: send the same request again once it is captured. An `out_refund_no` the merchant already used answers its refund (200) when it names the same order and amount, even after a later reversal, and is 409 `ERR_CONFLICT` otherwise.',
    tag: 'payments',
    auth: payers,
    params: tradeParams,
    body: CreateRefundBody,
    responses: { 200: Refund, 201: Refund, ...POST_ERRORS },
  },
  {
    method: 'POST',
    path: '/v1/payments/offline-batches',
    operationId: 'uploadOfflinePayments',
    summary: 'Upload offline payments (store and forward), idempotent by (device_id, seq) and out_trade_no',
    description:
      'Each item is answered on its own. A (device_id, seq) seen before is a `duplicate` with the first answer. An out_trade_no the merchant already used is a `duplicate` when it names the same sale (amount, code or UID), else `rejected` with `ERR_OUT_TRADE_NO_CONFLICT` and an `out_trade_no_conflict` incident: the sale is never dropped silently.',
    tag: 'payments',
    auth: ['device'],
    body: OfflineBatchBody,
    responses: { 200: OfflineBatchResult, ...POST_ERRORS },
    capabilities: ['C3', 'I2'],
  },
  {
    method: 'GET',
    path: '/v1/orders',
    operationId: 'listOrders',
    summary: 'List orders (school finance sees all flows)',
    description:
      "A fee's order is the payer's (`person_id`), its student in `student_id`: `person_id=<parent>` lists the fees a parent paid, whichever student they were for (there is no `student_id` filter: filter the page on it).",
    tag: 'payments',
    auth: ['operator'],
    query: ListOrdersQuery,
    responses: {
      200: Page(Order),
      ...SIGNED_ERRORS,
    },
    capabilities: ['S1', 'M1'],
  },
  {
    method: 'POST',
    path: '/v1/wallets/{person_id}/top-ups',
    operationId: 'topUpWallet',
    summary: 'Top up a wallet through the (simulated) payment channel',
    description: `${OWN_SCHOOL_ONLY} Pushes \`wallet.topped_up\` (the order) once, when it commits: to the person, their parents and class teachers, and to the merchant that made it.`,
    tag: 'payments',
    auth: ['operator', 'merchant'],
    params: personParams,
    body: TopUpBody,
    responses: { 200: Order, 201: Order, ...POST_ERRORS },
    capabilities: ['S1', 'G3'],
  },
  {
    method: 'GET',
    path: '/v1/wallets/{person_id}',
    operationId: 'getWallet',
    summary: 'Balance of the wallet shared by the e-card and the physical card',
    description: OWN_SCHOOL_ONLY,
    tag: 'payments',
    auth: ['device', 'merchant', 'operator'],
    params: personParams,
    responses: { 200: Wallet, ...SIGNED_ERRORS },
    capabilities: ['I2', 'C5'],
  },
  {
    method: 'GET',
    path: '/v1/wallets/{person_id}/summary',
    operationId: 'getWalletSummary',
    summary: 'Per-person totals over a time range, without line items',
    description: `${OWN_SCHOOL_ONLY} The totals are of this person's own wallet: a fee a parent pays for a student counts in the parent's \`fees_paid\`, not the student's. The range is \`from\` inclusive, \`to\` exclusive; a \`to\` before \`from\` is a 400.`,
    tag: 'payments',
    auth: ['device', 'merchant', 'operator'],
    params: personParams,
    query: RangeQuery,
    responses: { 200: WalletSummary, ...SIGNED_ERRORS },
    capabilities: ['I2'],
  },
  {
    method: 'POST',
    path: '/v1/fees',
    operationId: 'payFee',
    summary: "A parent pays a linked student's fee (tuition, meals, materials, courses, dorm)",
    description:
      "The payer's wallet pays the student's school's fee account. The payer is a parent linked to the student, or the student themself (from their own wallet); anyone else is a 403 `ERR_PERMISSION_DENIED`. A `student_person_id` that names a person who is no student is a 422 `ERR_VALIDATION` saying what they are. The order is the payer's (`person_id`; the student in `student_id`): it counts in the payer's wallet summary and order list, not the student's.",
    tag: 'payments',
    auth: ['operator'],
    body: PayFeeBody,
    responses: { 200: Order, 201: Order, ...POST_ERRORS },
    capabilities: ['S1', 'C1'],
  },
] as const satisfies readonly RouteDef[];
