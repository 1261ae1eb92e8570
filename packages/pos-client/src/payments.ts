/**
 * The payments resource: create, query, reverse, close and refund orders.
 *
 * @module
 */
import { type CreatePaymentBody, type CreateRefundBody, Order, Refund } from '@campus-card/core/api';
import { CampusCardApiError, type Transport, type TransportResponse } from '@campus-card/core/transport';
import { assertBusinessKey, assertFen, paymentKey, refundKey } from './lib/ids.js';
import { passOptions, type RequestOptions } from './request-options.js';

/** Input of {@link PaymentsResource.create}. */
export interface CreatePaymentInput {
  /** Merchant order number (1–64 of `[A-Za-z0-9_.:-]`, not `.` or `..`); the idempotency key derives from it. */
  readonly outTradeNo: string;
  /** Amount, integer fen (> 0). */
  readonly amountFen: number;
  /** The scanned QR text (`CC1:…`); give it or `uidHex`. */
  readonly qrText?: string;
  /** The UID of a tapped physical card, hex; give it or `qrText`. */
  readonly uidHex?: string;
  /** Free text shown on statements (≤ 128 characters). */
  readonly description?: string;
}

/** Input of {@link PaymentsResource.refund}. */
export interface RefundInput {
  /** Refund number (1–64 of `[A-Za-z0-9_.:-]`, not `.` or `..`): the same number is the same refund. */
  readonly outRefundNo: string;
  /** Amount to refund, integer fen (> 0, at most what is left of the order). */
  readonly amountFen: number;
  /** Reason shown to the holder (≤ 256 characters). */
  readonly reason?: string;
}

/** Options of {@link PaymentsResource.reverse} and {@link PaymentsResource.close}. */
export interface ReverseOptions extends RequestOptions {
  /** Reason recorded with the reversal (≤ 256 characters). */
  readonly reason?: string;
}

/**
 * `pos.payments`: one method per payment endpoint. Every answer is checked against the contract
 * (`Order`, `Refund`) and against the request: an order must carry the `out_trade_no` asked for
 * (and, for `create`, the amount), a refund its `out_trade_no`, `out_refund_no` and amount. A
 * success answer that is not one rejects with `ERR_RESPONSE_INVALID` (or
 * `ERR_RESPONSE_INVALID_JSON`), carrying the status; for `create`, `reverse`, `close` and `refund`
 * that means the outcome is unknown, so query the order before acting on it.
 */
export interface PaymentsResource {
  /**
   * `POST /v1/payments`: charges the holder of a scanned code or tapped card. Idempotent: the
   * `Idempotency-Key` is `pay:<outTradeNo>`, so resending the same order never charges twice. A
   * resend answers the first outcome again (for 24 h), as it was then: query the order to learn
   * its state now. Prefer {@link PosClient.scanToPay}, which also polls and reverses.
   */
  create(input: CreatePaymentInput, options?: RequestOptions): Promise<Order>;
  /** `GET /v1/payments/{out_trade_no}`: the order as the platform holds it now. */
  query(outTradeNo: string, options?: RequestOptions): Promise<Order>;
  /**
   * `POST /v1/payments/{out_trade_no}/reverse`: cancels a processing order or returns the money of
   * a successful one (state `reversed`). Idempotent: reversing a reversed order answers it again.
   */
  reverse(outTradeNo: string, options?: ReverseOptions): Promise<Order>;
  /** `POST /v1/payments/{out_trade_no}/close`: closes an unpaid (processing) order. Idempotent. */
  close(outTradeNo: string, options?: ReverseOptions): Promise<Order>;
  /**
   * `POST /v1/payments/{out_trade_no}/refunds`: refunds part of a successful order. Idempotent by
   * `outRefundNo` (and by the key `refund:<outTradeNo>:<outRefundNo>`): repeating it returns the
   * first refund and moves no money.
   */
  refund(outTradeNo: string, input: RefundInput, options?: RequestOptions): Promise<Refund>;
}

/** A success answer about something else than what was asked: the outcome of the request is unknown. */
function notAsked(res: TransportResponse<unknown>, what: string): CampusCardApiError {
  return new CampusCardApiError({
    code: 'ERR_RESPONSE_INVALID',
    message: `HTTP ${res.status} answered ${what}`,
    status: res.status,
    requestId: res.requestId,
    headers: res.headers,
  });
}

/** Returns the order of `res` if it is the order `outTradeNo` (of `amountFen` when given). */
function orderOf(res: TransportResponse<Order>, outTradeNo: string, amountFen?: number): Order {
  const o = res.body;
  if (o.out_trade_no !== outTradeNo) throw notAsked(res, `the order ${o.out_trade_no}, not ${outTradeNo}`);
  if (amountFen !== undefined && o.amount !== amountFen)
    throw notAsked(res, `order ${outTradeNo} of ${o.amount} fen, not ${amountFen}`);
  return o;
}

const tradePath = (outTradeNo: string, suffix = ''): string =>
  `/v1/payments/${encodeURIComponent(outTradeNo)}${suffix}`;

/**
 * Internal: `POST /v1/payments`, also telling whether the answer is the platform's replay of the
 * first outcome of the key `pay:<outTradeNo>` (`Idempotent-Replayed: true`). A replay shows the
 * order as it was then: a `success` replayed may have been reversed since.
 */
export async function createPayment(
  transport: Transport,
  input: CreatePaymentInput,
  options?: RequestOptions,
): Promise<{ readonly order: Order; readonly replayed: boolean }> {
  assertBusinessKey('outTradeNo', input.outTradeNo);
  assertFen('amountFen', input.amountFen);
  if ((input.qrText === undefined) === (input.uidHex === undefined))
    throw new TypeError('give exactly one of qrText and uidHex');
  const body: CreatePaymentBody = {
    out_trade_no: input.outTradeNo,
    amount: input.amountFen,
    ...(input.qrText === undefined ? {} : { qr_text: input.qrText }),
    ...(input.uidHex === undefined ? {} : { uid_hex: input.uidHex }),
    ...(input.description === undefined ? {} : { description: input.description }),
  };
  const res = await transport.request<Order>({
    method: 'POST',
    path: '/v1/payments',
    body,
    schema: Order,
    idempotencyKey: paymentKey(input.outTradeNo),
    ...passOptions(options),
  });
  return {
    order: orderOf(res, input.outTradeNo, input.amountFen),
    replayed: res.headers['idempotent-replayed']?.trim().toLowerCase() === 'true',
  };
}

/** Creates the payments resource over a transport. */
export function createPaymentsResource(transport: Transport): PaymentsResource {
  return {
    async create(input, options) {
      return (await createPayment(transport, input, options)).order;
    },
    async query(outTradeNo, options) {
      assertBusinessKey('outTradeNo', outTradeNo);
      const res = await transport.request<Order>({
        method: 'GET',
        path: tradePath(outTradeNo),
        schema: Order,
        ...passOptions(options),
      });
      return orderOf(res, outTradeNo);
    },
    async reverse(outTradeNo, options) {
      assertBusinessKey('outTradeNo', outTradeNo);
      const res = await transport.request<Order>({
        method: 'POST',
        path: tradePath(outTradeNo, '/reverse'),
        schema: Order,
        body: options?.reason === undefined ? {} : { reason: options.reason },
        ...passOptions(options),
      });
      return orderOf(res, outTradeNo);
    },
    async close(outTradeNo, options) {
      assertBusinessKey('outTradeNo', outTradeNo);
      const res = await transport.request<Order>({
        method: 'POST',
        path: tradePath(outTradeNo, '/close'),
        schema: Order,
        body: options?.reason === undefined ? {} : { reason: options.reason },
        ...passOptions(options),
      });
      return orderOf(res, outTradeNo);
    },
    async refund(outTradeNo, input, options) {
      assertBusinessKey('outTradeNo', outTradeNo);
      assertBusinessKey('outRefundNo', input.outRefundNo);
      assertFen('amountFen', input.amountFen);
      const body: CreateRefundBody = {
        out_refund_no: input.outRefundNo,
        amount: input.amountFen,
        ...(input.reason === undefined ? {} : { reason: input.reason }),
      };
      const res = await transport.request<Refund>({
        method: 'POST',
        path: tradePath(outTradeNo, '/refunds'),
        body,
        schema: Refund,
        idempotencyKey: refundKey(outTradeNo, input.outRefundNo),
        ...passOptions(options),
      });
      const r = res.body;
      if (
        r.out_trade_no !== outTradeNo ||
        r.out_refund_no !== input.outRefundNo ||
        r.amount !== input.amountFen
      )
        throw notAsked(
          res,
          `refund ${r.out_trade_no}/${r.out_refund_no} of ${r.amount} fen, not ${outTradeNo}/${input.outRefundNo} of ${input.amountFen}`,
        );
      return r;
    },
  };
}
