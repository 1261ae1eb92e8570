/**
 * Payments domain (I2, S1, G3): orders and their state machine, wallets on the double-entry
 * ledger, top-ups, POS payments, reversal, refunds, fees and offline batches.
 *
 * @module
 */
import { hash as digestOf } from 'node:crypto';
import { businessDayOf, type DayBounds, parseUtcOffset } from '@campus-card/core';
import type { OfflineItemResult, Order, Refund, RouteOf } from '@campus-card/core/api';
import type { HandlerContext, Handlers, PlatformState, Principal } from '../context.js';
import { requirePrincipal } from '../context.js';
import { captureLabel, createDayTotals } from '../lib/business-day.js';
import { CLOCK_MAX_MS, iso, parseIso, parseIsoBound } from '../lib/clock.js';
import { checkRange, createListQuery } from '../lib/list-query.js';
import { ApiError, notFound } from '../lib/problem.js';
import {
  CardRefusedError,
  consumeCode,
  type Resolution,
  resolveCredentialInput,
  trustMaterialCached,
  useCode,
} from './cards.js';
import { getPersonRow, requireOwnSchool } from './directory.js';
import { type IncidentInput, incidentRecorded, recordIncident } from './incidents.js';
import { balanceOf, postJournal, walletAccount } from './ledger.js';
import { enqueueEvent } from './webhooks.js';

interface OrderRow {
  order_id: string;
  scope: string;
  out_trade_no: string;
  kind: Order['kind'];
  status: Order['status'];
  amount: number;
  refunded_amount: number;
  person_id: string;
  card_id: string | null;
  merchant_id: string | null;
  device_id: string | null;
  via: Order['via'];
  fee_type: Order['fee_type'];
  student_id: string | null;
  failure_code: string | null;
  description: string | null;
  request_hash: string;
  created_at: number;
  updated_at: number;
  confirm_at: number | null;
}

const hash = (v: unknown) => digestOf('sha256', JSON.stringify(v), 'hex');
/**
 * Order ids lead with the time (fixed-width base 36 ms), so new rows go to the right edge of
 * the primary-key index. A random key would dirty a random index page per payment.
 */
const newId = (state: PlatformState, p: string) =>
  `${p}_${Date.now().toString(36).padStart(9, '0')}${state.ids.next(8)}`;

function refundsOf(state: PlatformState, orderId: string, refundedAmount?: number): Refund[] {
  if (refundedAmount === 0) return []; // every refund adds its amount: none yet
  const rows = state.db
    .prepare('SELECT * FROM refunds WHERE order_id = ? ORDER BY created_at')
    .all(orderId) as {
    out_refund_no: string;
    out_trade_no: string;
    amount: number;
    reason: string | null;
    created_at: number;
  }[];
  return rows.map((r) => ({
    out_refund_no: r.out_refund_no,
    out_trade_no: r.out_trade_no,
    amount: r.amount,
    status: 'success',
    reason: r.reason,
    created_at: iso(r.created_at),
  }));
}

function orderOut(state: PlatformState, r: OrderRow): Order {
  return {
    order_id: r.order_id,
    out_trade_no: r.out_trade_no,
    kind: r.kind,
    status: r.status,
    amount: r.amount,
    refunded_amount: r.refunded_amount,
    person_id: r.person_id,
    card_id: r.card_id,
    merchant_id: r.merchant_id,
    device_id: r.device_id,
    via: r.via,
    fee_type: r.fee_type,
    student_id: r.student_id,
    failure_code: r.failure_code,
    description: r.description,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    refunds: refundsOf(state, r.order_id, r.refunded_amount),
  };
}

function findOrder(state: PlatformState, scope: string, outTradeNo: string): OrderRow | undefined {
  return state.db
    .prepare('SELECT * FROM orders WHERE scope = ? AND out_trade_no = ?')
    .get(scope, outTradeNo) as OrderRow | undefined;
}
function orderById(state: PlatformState, id: string): OrderRow {
  return state.db.prepare('SELECT * FROM orders WHERE order_id = ?').get(id) as OrderRow;
}

function insertOrder(
  state: PlatformState,
  o: Omit<OrderRow, 'order_id' | 'created_at' | 'updated_at' | 'refunded_amount'>,
): OrderRow {
  const id = newId(state, 'ord');
  const now = state.clock.now();
  state.db
    .prepare(
      `INSERT INTO orders (order_id, scope, out_trade_no, kind, status, amount, refunded_amount, person_id, card_id, merchant_id, device_id, via,
        fee_type, student_id, failure_code, description, request_hash, created_at, updated_at, confirm_at)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      id,
      o.scope,
      o.out_trade_no,
      o.kind,
      o.status,
      o.amount,
      o.person_id,
      o.card_id,
      o.merchant_id,
      o.device_id,
      o.via,
      o.fee_type,
      o.student_id,
      o.failure_code,
      o.description,
      o.request_hash,
      now,
      now,
      o.confirm_at,
    );
  // The row as stored: no need to read it back.
  return { ...o, order_id: id, refunded_amount: 0, created_at: now, updated_at: now };
}

function setStatus(
  state: PlatformState,
  id: string,
  status: Order['status'],
  failure: string | null = null,
  at: number = state.clock.now(),
): void {
  state.db
    .prepare(
      'UPDATE orders SET status = ?, failure_code = COALESCE(?, failure_code), updated_at = ? WHERE order_id = ?',
    )
    .run(status, failure, at, id);
}

/** The ledger account credited by a captured order. */
const creditAccount = (o: Pick<OrderRow, 'kind' | 'scope' | 'fee_type' | 'merchant_id'>): string =>
  o.kind === 'fee' ? `fees:${o.scope}:${o.fee_type}` : `merchant:${o.merchant_id ?? o.scope}`;

/** Whether the wallet can pay `amount` (always, with `allowNegative`). Inside a transaction. */
function canPay(state: PlatformState, personId: string, amount: number, allowNegative = false): boolean {
  return allowNegative || balanceOf(state, walletAccount(personId)) >= amount;
}

/**
 * Posts a captured order to the ledger, dated `at` (default now), and queues its push. `o` is in
 * its final state.
 */
function settled(state: PlatformState, o: OrderRow, at?: number): OrderRow {
  if (o.status === 'success') {
    postJournal(
      state,
      o.order_id,
      o.kind,
      [
        [walletAccount(o.person_id), -o.amount],
        [creditAccount(o), o.amount],
      ],
      at,
    );
  }
  const type = o.status === 'success' ? 'payment.succeeded' : 'payment.failed';
  enqueueEvent(state, type, () => orderOut(state, o), {
    personIds: [o.person_id],
    merchantId: o.merchant_id,
  });
  return o;
}

/**
 * Debits the wallet for a processing payment (success) or marks it failed, as of its confirmation
 * time (`confirm_at`): the money moved when the holder confirmed, not when a read or the timer
 * got to it. Inside a transaction.
 */
function capture(state: PlatformState, o: OrderRow): OrderRow {
  const at = Math.min(o.confirm_at ?? state.clock.now(), state.clock.now());
  const ok = canPay(state, o.person_id, o.amount);
  if (ok) setStatus(state, o.order_id, 'success', null, at);
  else setStatus(state, o.order_id, 'failed', 'ERR_INSUFFICIENT_FUNDS', at);
  return settled(state, orderById(state, o.order_id), at);
}

/**
 * Inserts an order that settles at once (success, or failed for lack of funds) directly in its
 * final state: one INSERT instead of INSERT, UPDATE and re-reads. Inside a transaction.
 */
function insertCaptured(
  state: PlatformState,
  o: Omit<OrderRow, 'order_id' | 'created_at' | 'updated_at' | 'refunded_amount' | 'status' | 'failure_code'>,
  creditScope: string = o.scope,
  allowNegative = false,
): OrderRow {
  const ok = canPay(state, o.person_id, o.amount, allowNegative);
  const row = insertOrder(state, {
    ...o,
    status: ok ? 'success' : 'failed',
    failure_code: ok ? null : 'ERR_INSUFFICIENT_FUNDS',
  });
  // Fees are credited to the student's school (the order's scope stays the caller).
  settled(state, creditScope === row.scope ? row : { ...row, scope: creditScope });
  return row;
}

/**
 * Confirms processing payments whose confirmation time has come, in the order they were confirmed
 * (each against the balance the earlier ones left). With `only`, nothing when that order is not
 * due; else every due order, not only it: a poll of a later one must not capture it before an
 * earlier one. Inside or outside a transaction.
 */
export function settleDue(state: PlatformState, only?: OrderRow): void {
  const now = state.clock.now();
  if (
    only !== undefined &&
    !(only.status === 'processing' && only.confirm_at !== null && only.confirm_at <= now)
  )
    return;
  const rows = state.db
    .prepare("SELECT * FROM orders WHERE status = 'processing' AND confirm_at <= ? ORDER BY confirm_at")
    .all(now) as OrderRow[];
  if (rows.length === 0) return;
  state.tx(() => {
    for (const r of rows) {
      const fresh = orderById(state, r.order_id);
      if (fresh.status === 'processing') capture(state, fresh);
    }
  });
}

function scopeOf(p: Principal): string {
  if (p.kind === 'operator') return p.id;
  if (p.merchantId === null) throw new ApiError(403, 'ERR_FORBIDDEN', 'this device belongs to no merchant');
  return p.merchantId;
}

function lookupForCaller(ctx: HandlerContext, outTradeNo: string): OrderRow {
  const p = requirePrincipal(ctx);
  // The operator numbers its own orders (top-ups, fees) in its own scope: the order it numbered so
  // comes first, not a merchant's order made earlier under the same number. Only a number it never
  // used is looked up among the merchants' orders (the oldest, when several merchants used it).
  const row =
    p.kind === 'operator'
      ? (findOrder(ctx.state, p.id, outTradeNo) ??
        (ctx.state.db
          .prepare('SELECT * FROM orders WHERE out_trade_no = ? ORDER BY created_at LIMIT 1')
          .get(outTradeNo) as OrderRow | undefined))
      : findOrder(ctx.state, scopeOf(p), outTradeNo);
  if (row === undefined) throw notFound(`order ${outTradeNo}`);
  settleDue(ctx.state, row);
  return orderById(ctx.state, row.order_id);
}

/**
 * Refuses an order that is not a payment (a top-up, a fee): only payments are reversed, closed
 * or refunded. A merchant's top-up has the merchant's scope, so its out_trade_no reaches these
 * routes; reversing it would pay the wallet a second time. Inside the transaction.
 */
function requirePayment(o: OrderRow, action: string): void {
  if (o.kind !== 'payment' && o.kind !== 'offline_payment') {
    throw new ApiError(409, 'ERR_ORDER_STATE', `a ${o.kind} order cannot be ${action}`);
  }
}

function existingOrConflict(
  state: PlatformState,
  existing: OrderRow,
  requestHash: string,
): { status: number; body: Order } {
  if (existing.request_hash !== requestHash) {
    throw new ApiError(
      409,
      'ERR_OUT_TRADE_NO_CONFLICT',
      `out_trade_no ${existing.out_trade_no} was used for a different order`,
    );
  }
  settleDue(state, existing);
  return { status: 200, body: orderOut(state, orderById(state, existing.order_id)) };
}

function refundOrder(
  state: PlatformState,
  o: OrderRow,
  amount: number,
  outRefundNo: string,
  reason: string | null,
): void {
  postJournal(state, `${o.order_id}/${outRefundNo}`, 'refund', [
    [`merchant:${o.merchant_id ?? o.scope}`, -amount],
    [walletAccount(o.person_id), amount],
  ]);
  state.db
    .prepare('UPDATE orders SET refunded_amount = refunded_amount + ?, updated_at = ? WHERE order_id = ?')
    .run(amount, state.clock.now(), o.order_id);
  state.db
    .prepare(
      'INSERT INTO refunds (scope, out_refund_no, order_id, out_trade_no, amount, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    .run(o.scope, outRefundNo, o.order_id, o.out_trade_no, amount, reason, state.clock.now());
}

interface PaymentPrefetch {
  readonly principalId: string;
  readonly qr: string;
  readonly resolution: Promise<Resolution>;
}

/**
 * Starts checking a payment's code beside the request signature (see `Prefetch`): reads only,
 * and only when the school's trust material is cached (nothing to sign or store).
 */
function prefetchPayment(state: PlatformState, p: Principal, body: unknown): PaymentPrefetch | undefined {
  const b = body as { qr_text?: unknown; uid_hex?: unknown } | null;
  if (b === null || typeof b !== 'object' || typeof b.qr_text !== 'string' || b.uid_hex !== undefined)
    return undefined;
  if (p.kind !== 'device' || p.schoolId === null || !trustMaterialCached(state, p.schoolId)) return undefined;
  const resolution = resolveCredentialInput(state, p, { qr_text: b.qr_text });
  resolution.catch(() => undefined);
  return { principalId: p.id, qr: b.qr_text, resolution };
}

/** Payment handlers. */
export const paymentHandlers: Handlers = {
  createPayment: Object.assign(
    async (ctx: HandlerContext<RouteOf<'createPayment'>>) => {
      const { state, body: b } = ctx;
      const p = requirePrincipal(ctx);
      const scope = scopeOf(p);
      const requestHash = hash([b.amount, b.qr_text ?? null, b.uid_hex ?? null]);
      const existing = findOrder(state, scope, b.out_trade_no);
      if (existing !== undefined) return existingOrConflict(state, existing, requestHash);
      const pf = ctx.prefetched as PaymentPrefetch | undefined;
      const r = await (pf !== undefined &&
      pf.principalId === p.id &&
      pf.qr === b.qr_text &&
      b.uid_hex === undefined
        ? pf.resolution
        : resolveCredentialInput(state, p, b));
      return ctx.commit(() => {
        const processing = b.amount > state.settings.confirmThreshold;
        // a payment the holder confirmed before this one is paid first
        if (!processing) settleDue(state);
        const fields = {
          scope,
          out_trade_no: b.out_trade_no,
          kind: 'payment' as const,
          amount: b.amount,
          person_id: r.card.person_id,
          card_id: r.card.card_id,
          merchant_id: scope,
          device_id: p.kind === 'device' ? p.id : null,
          via: r.source,
          fee_type: null,
          student_id: null,
          description: b.description ?? null,
          request_hash: requestHash,
        };
        let o: OrderRow;
        try {
          // The order first: the UNIQUE (scope, out_trade_no) index answers a concurrent twin, and a
          // failure below (code already used) rolls the order back with this request's savepoint.
          o = processing
            ? insertOrder(state, {
                ...fields,
                status: 'processing',
                failure_code: null,
                confirm_at: state.clock.now() + state.settings.confirmDelayS * 1000,
              })
            : insertCaptured(state, { ...fields, confirm_at: null });
        } catch (e) {
          if (
            (e as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY' &&
            (e as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE'
          )
            throw e;
          const again = findOrder(state, scope, b.out_trade_no);
          if (again === undefined) throw e;
          return existingOrConflict(state, again, requestHash);
        }
        consumeCode(state, r, p.id, 'payment'); // this POS's own resolve of the code before is one use
        return { status: 201, body: orderOut(state, o) };
      });
    },
    { prefetch: prefetchPayment },
  ),

  getPayment: (ctx) => ({
    status: 200,
    body: orderOut(ctx.state, lookupForCaller(ctx as HandlerContext, ctx.params.out_trade_no)),
  }),

  reversePayment: (ctx) => {
    const o = lookupForCaller(ctx as HandlerContext, ctx.params.out_trade_no);
    return ctx.commit(() => {
      const { state } = ctx;
      settleDue(state); // payments the holders confirmed by now are captured against what they had then
      const cur = orderById(state, o.order_id);
      requirePayment(cur, 'reversed');
      if (cur.status === 'reversed') return { status: 200, body: orderOut(state, cur) };
      if (cur.status === 'processing') {
        setStatus(state, cur.order_id, 'reversed');
      } else if (cur.status === 'success') {
        const rest = cur.amount - cur.refunded_amount;
        if (rest > 0) {
          postJournal(state, `${cur.order_id}/reverse`, 'reversal', [
            [`merchant:${cur.merchant_id ?? cur.scope}`, -rest],
            [walletAccount(cur.person_id), rest],
          ]);
          state.db.prepare('UPDATE orders SET refunded_amount = amount WHERE order_id = ?').run(cur.order_id);
        }
        setStatus(state, cur.order_id, 'reversed');
      } else {
        throw new ApiError(409, 'ERR_ORDER_STATE', `a ${cur.status} order cannot be reversed`);
      }
      const out = orderOut(state, orderById(state, cur.order_id));
      enqueueEvent(state, 'payment.reversed', out, {
        personIds: [cur.person_id],
        merchantId: cur.merchant_id,
      });
      return { status: 200, body: out };
    });
  },

  closePayment: (ctx) => {
    const o = lookupForCaller(ctx as HandlerContext, ctx.params.out_trade_no);
    return ctx.commit(() => {
      // As for a reverse: a payment its holder confirmed by now is captured, and no longer closed.
      settleDue(ctx.state);
      const cur = orderById(ctx.state, o.order_id);
      requirePayment(cur, 'closed');
      if (cur.status === 'closed') return { status: 200, body: orderOut(ctx.state, cur) };
      if (cur.status !== 'processing')
        throw new ApiError(409, 'ERR_ORDER_STATE', `a ${cur.status} order cannot be closed`);
      setStatus(ctx.state, cur.order_id, 'closed');
      // its end pushed as the other ends are: a merchant's back office or the holder's parents,
      // told of the payment waiting for its confirmation, learn it will not be captured
      const out = orderOut(ctx.state, orderById(ctx.state, cur.order_id));
      enqueueEvent(ctx.state, 'payment.closed', out, {
        personIds: [cur.person_id],
        merchantId: cur.merchant_id,
      });
      return { status: 200, body: out };
    });
  },

  createRefund: (ctx) => {
    const o = lookupForCaller(ctx as HandlerContext, ctx.params.out_trade_no);
    return ctx.commit(() => {
      const { state, body: b } = ctx;
      settleDue(state); // payments the holders confirmed by now are captured against what they had then
      const prior = state.db
        .prepare('SELECT * FROM refunds WHERE scope = ? AND out_refund_no = ?')
        .get(o.scope, b.out_refund_no) as { order_id: string; amount: number } | undefined;
      if (prior !== undefined) {
        if (prior.order_id !== o.order_id || prior.amount !== b.amount) {
          throw new ApiError(
            409,
            'ERR_CONFLICT',
            `out_refund_no ${b.out_refund_no} was used for a different refund`,
          );
        }
        const r = refundsOf(state, o.order_id).find((x) => x.out_refund_no === b.out_refund_no) as Refund;
        return { status: 200, body: r };
      }
      const cur = orderById(state, o.order_id);
      requirePayment(cur, 'refunded');
      if (cur.status === 'processing') {
        // Not yet: the holder has not confirmed it. The refusal is retryable, so it is not stored
        // under the Idempotency-Key: a POS client that numbers its key by the refund (the same
        // key on every call) can send it again once the payment is captured, instead of being
        // answered this 409 for a day.
        const wait = Math.max(
          1,
          Math.ceil(((cur.confirm_at ?? state.clock.now()) - state.clock.now()) / 1000),
        );
        throw new ApiError(
          409,
          'ERR_ORDER_STATE',
          'the payment awaits its confirmation: retry once it is captured',
          {
            retryable: true,
            headers: { 'retry-after': String(wait) },
          },
        );
      }
      if (cur.status !== 'success') {
        throw new ApiError(409, 'ERR_ORDER_STATE', `a ${cur.status} order cannot be refunded`);
      }
      if (b.amount > cur.amount - cur.refunded_amount) {
        throw new ApiError(
          409,
          'ERR_REFUND_EXCEEDS',
          `at most ${cur.amount - cur.refunded_amount} fen can be refunded`,
        );
      }
      refundOrder(state, cur, b.amount, b.out_refund_no, b.reason ?? null);
      const refund = refundsOf(state, cur.order_id).find(
        (x) => x.out_refund_no === b.out_refund_no,
      ) as Refund;
      enqueueEvent(
        state,
        'payment.refunded',
        { order: orderOut(state, orderById(state, cur.order_id)), refund },
        {
          personIds: [cur.person_id],
          merchantId: cur.merchant_id,
        },
      );
      return { status: 201, body: refund };
    });
  },

  topUpWallet: (ctx) =>
    ctx.commit(() => {
      const { state, body: b } = ctx;
      const p = requirePrincipal(ctx);
      const person = getPersonRow(state, ctx.params.person_id);
      if (person === undefined) throw notFound(`person ${ctx.params.person_id}`);
      requireOwnSchool(p, person.school_id, `person ${ctx.params.person_id}`);
      settleDue(state); // a payment the holder confirmed before this top-up is judged without it
      const requestHash = hash(['top_up', person.person_id, b.amount, b.channel]);
      const existing = findOrder(state, p.id, b.out_trade_no);
      if (existing !== undefined) return existingOrConflict(state, existing, requestHash);
      const o = insertOrder(state, {
        scope: p.id,
        out_trade_no: b.out_trade_no,
        kind: 'top_up',
        status: 'success',
        amount: b.amount,
        person_id: person.person_id,
        card_id: null,
        merchant_id: p.kind === 'merchant' ? p.id : null,
        device_id: null,
        via: 'channel',
        fee_type: null,
        student_id: null,
        failure_code: null,
        description: `top-up via ${b.channel}`,
        request_hash: requestHash,
        confirm_at: null,
      });
      postJournal(state, o.order_id, 'top_up', [
        [`channel:${b.channel}`, -b.amount],
        [walletAccount(person.person_id), b.amount],
      ]);
      const out = orderOut(state, o);
      // Queued in this transaction, as a payment's push is (see `settled`): a top-up rolled back
      // pushes nothing, and a replay (the stored answer of its Idempotency-Key, or the same
      // out_trade_no answered above) never gets here. Its recipients are a payment's: the wallet's
      // person, their parents and class teachers, and the merchant that made it, if one did.
      enqueueEvent(state, 'wallet.topped_up', out, {
        personIds: [person.person_id],
        merchantId: o.merchant_id,
      });
      return { status: 201, body: out };
    }),

  getWallet: (ctx) => {
    const person = getPersonRow(ctx.state, ctx.params.person_id);
    if (person === undefined) throw notFound(`person ${ctx.params.person_id}`);
    requireOwnSchool(requirePrincipal(ctx), person.school_id, `person ${ctx.params.person_id}`);
    settleDue(ctx.state); // a payment confirmed by now has moved its money
    const acc = walletAccount(person.person_id);
    const row = ctx.state.db.prepare('SELECT balance, updated_at FROM accounts WHERE account = ?').get(acc) as
      | { balance: number; updated_at: number }
      | undefined;
    return {
      status: 200,
      body: {
        person_id: person.person_id,
        balance: row?.balance ?? 0,
        currency: 'CNY',
        updated_at: iso(row?.updated_at ?? person.created_at),
      },
    };
  },

  getWalletSummary: (ctx) => {
    const { state } = ctx;
    const person = getPersonRow(state, ctx.params.person_id);
    if (person === undefined) throw notFound(`person ${ctx.params.person_id}`);
    requireOwnSchool(requirePrincipal(ctx), person.school_id, `person ${ctx.params.person_id}`);
    const from = parseIsoBound(ctx.query.from, 'querystring/from');
    const to = parseIsoBound(ctx.query.to, 'querystring/to');
    checkRange(from, to);
    settleDue(state);
    // From the wallet's postings, by the kind of their journal entry and when it was posted: what
    // moved, when it moved. An order that moved no money (failed, closed, reversed before capture)
    // counts nowhere, and every figure agrees with the ledger (net = the change of the balance).
    const sums = state.db
      .prepare(
        `SELECT
           COALESCE(SUM(CASE WHEN j.kind IN ('payment', 'offline_payment') THEN -p.amount END), 0) AS spent,
           COUNT(CASE WHEN j.kind IN ('payment', 'offline_payment') THEN 1 END) AS n,
           COALESCE(SUM(CASE WHEN j.kind IN ('refund', 'reversal') THEN p.amount END), 0) AS back,
           COALESCE(SUM(CASE WHEN j.kind = 'top_up' THEN p.amount END), 0) AS topped,
           COALESCE(SUM(CASE WHEN j.kind = 'fee' THEN -p.amount END), 0) AS fees,
           COALESCE(SUM(p.amount), 0) AS net
         FROM postings p JOIN journal j ON j.journal_id = p.journal_id
         WHERE p.account = ? AND j.created_at >= ? AND j.created_at < ?`,
      )
      .get(walletAccount(person.person_id), from, to) as {
      spent: number;
      n: number;
      back: number;
      topped: number;
      fees: number;
      net: number;
    };
    // every journal kind that touches a wallet is one of the above
    if (sums.net !== sums.topped + sums.back - sums.spent - sums.fees) {
      throw new Error(`wallet ${person.person_id}: a posting of an unknown journal kind`);
    }
    // A bound rounded up past the last millisecond a Timestamp can write (a fraction beyond
    // 9999-12-31T23:59:59.999Z) is answered as it was given: iso() would write a five-digit year.
    const bound = (ms: number, text: string) => (ms <= CLOCK_MAX_MS ? iso(ms) : text);
    return {
      status: 200,
      body: {
        person_id: person.person_id,
        from: bound(from, ctx.query.from),
        to: bound(to, ctx.query.to),
        spent: sums.spent,
        refunded: sums.back,
        topped_up: sums.topped,
        fees_paid: sums.fees,
        payment_count: sums.n,
        net: sums.net,
      },
    };
  },

  payFee: (ctx) =>
    ctx.commit(() => {
      const { state, body: b } = ctx;
      const p = requirePrincipal(ctx);
      const payer = getPersonRow(state, b.payer_person_id);
      const student = getPersonRow(state, b.student_person_id);
      if (payer === undefined) throw notFound(`person ${b.payer_person_id}`);
      if (student === undefined) throw notFound(`student ${b.student_person_id}`);
      if (student.kind !== 'student') {
        // a person who exists but is no student: the request names the wrong person, say which
        const message = `${b.student_person_id} is a ${student.kind}, not a student`;
        throw new ApiError(422, 'ERR_VALIDATION', message, {
          errors: [{ path: 'body/student_person_id', message }],
        });
      }
      const linked =
        payer.kind === 'parent' && (JSON.parse(payer.student_ids) as string[]).includes(student.person_id);
      if (!linked && payer.person_id !== student.person_id) {
        throw new ApiError(
          403,
          'ERR_PERMISSION_DENIED',
          'the payer is neither a parent linked to this student nor the student',
        );
      }
      const requestHash = hash(['fee', b.payer_person_id, b.student_person_id, b.fee_type, b.amount]);
      const existing = findOrder(state, p.id, b.out_trade_no);
      if (existing !== undefined) return existingOrConflict(state, existing, requestHash);
      settleDue(state); // a payment the holder confirmed before this fee is paid first
      const o = insertCaptured(
        state,
        {
          scope: p.id,
          out_trade_no: b.out_trade_no,
          kind: 'fee',
          amount: b.amount,
          person_id: payer.person_id,
          card_id: null,
          merchant_id: null,
          device_id: null,
          via: 'wallet',
          fee_type: b.fee_type,
          student_id: student.person_id,
          description: `${b.fee_type} for ${student.person_id}`,
          request_hash: requestHash,
          confirm_at: null,
        },
        student.school_id,
      );
      return { status: 201, body: orderOut(state, o) };
    }),

  listOrders: (ctx) => {
    const { state, query: q } = ctx;
    settleDue(state);
    const page = createListQuery(q)
      .eq('person_id', q.person_id)
      .range('created_at')
      .page(
        state.db,
        'orders',
        [
          ['created_at', 'integer'],
          ['order_id', 'text'],
        ],
        (r: OrderRow) => orderOut(state, r),
      );
    return { status: 200, body: page };
  },

  uploadOfflinePayments: async (ctx) => {
    const { state, body: b } = ctx;
    const p = requirePrincipal(ctx);
    const scope = scopeOf(p);
    const device = state.db
      .prepare('SELECT offline_tx_cap, offline_device_cap, created_at FROM devices WHERE device_id = ?')
      .get(p.id) as {
      offline_tx_cap: number;
      offline_device_cap: number;
      created_at: number;
    };
    // Every item's form is checked before any work: a bad one refuses the whole batch (a 400 that
    // stores nothing, so the POS can fix the item and send its seq again).
    for (const [i, item] of b.items.entries()) {
      if ((item.qr_text === undefined) === (item.uid_hex === undefined)) {
        throw new ApiError(
          400,
          'ERR_VALIDATION',
          `body/items/${i}: give exactly one of qr_text and uid_hex`,
          {
            errors: [{ path: `body/items/${i}`, message: 'exactly one of qr_text, uid_hex' }],
          },
        );
      }
    }
    const capturedAt = b.items.map((item, i) => parseIso(item.captured_at, `body/items/${i}/captured_at`));
    // A sale cannot have been captured after now, nor before the POS was registered (give or take
    // the clock tolerance of signatures): such a time would draw on a day budget of its own (a tap
    // carries no time of its own to contradict it), and judge the card at a time it never had.
    // Nor longer ago than the platform takes offline sales (`offlineMaxAgeS`): each past day has a
    // cap of its own, which backdated taps would otherwise add up.
    const tolerance = state.settings.signatureToleranceS * 1000;
    const latest = state.clock.now() + tolerance;
    const registered = device.created_at - tolerance;
    const oldest = state.clock.now() - state.settings.offlineMaxAgeS * 1000;
    // Verify every code first (async), as of its capture time: its time window, and the card's
    // status and phone key as they were then (a sale made before the card was reported lost is
    // booked); then commit all at once.
    const checked: (Resolution | ApiError)[] = [];
    for (const [i, item] of b.items.entries()) {
      const at = capturedAt[i] as number;
      // a time stored in whole milliseconds is truncated: judged so, 300.0004 s after now would
      // pass as 300 s, within the tolerance; rounded up (as an event's occurred_at), it is after it
      const after = parseIsoBound(item.captured_at, `body/items/${i}/captured_at`) > latest;
      if (after || at < registered || at < oldest) {
        const why = after
          ? 'is after now'
          : at < registered
            ? 'is before the POS was registered'
            : `is more than ${state.settings.offlineMaxAgeS} s ago, longer than the platform takes offline sales`;
        checked.push(new ApiError(422, 'ERR_CAPTURED_AT', `captured_at ${item.captured_at} ${why}`));
        continue;
      }
      try {
        checked.push(
          await resolveCredentialInput(state, p, item, {
            nowSeconds: Math.floor((capturedAt[i] as number) / 1000),
            statusAt: capturedAt[i] as number,
          }),
        );
      } catch (e) {
        checked.push(e instanceof ApiError ? e : new ApiError(422, 'ERR_CODE_INVALID', String(e)));
      }
    }
    return ctx.commit(() => {
      settleDue(state); // a payment the holder confirmed before these sales were booked is paid first
      const results: OfflineItemResult[] = [];
      const seqRow = state.db.prepare('SELECT * FROM offline_items WHERE device_id = ? AND seq = ?');
      const insSeq = state.db.prepare(
        'INSERT INTO offline_items (device_id, seq, out_trade_no, outcome, code, order_id, conflict_device_id, amount, day, request_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      // The device cap counts by the business day of captured_at: exactly, by the UTC minute of
      // capture each sale is stored under, whatever offset it was taken at (as the POS client
      // counts); rows of earlier versions by day label (see `createDayTotals`)
      const offset = parseUtcOffset(state.settings.dayUtcOffset);
      const dayTotals = createDayTotals(state.db);
      /** The accepted offline sales of this device that count towards the business day of `at`. */
      const dayTotal = (at: number): number =>
        // (captured_at passed parseIso, so the time has a date)
        dayTotals(p.id, businessDayOf(at, offset) as DayBounds);
      // items whose own online attempt still awaits its confirmation: the batch is refused, retryably
      const awaiting: { i: number; order: OrderRow }[] = [];
      // this POS's first refusal of the same sale (number, amount, code or UID) under another seq
      const sameSaleRefused = state.db.prepare(
        "SELECT code, conflict_device_id FROM offline_items WHERE device_id = ? AND out_trade_no = ? AND outcome = 'rejected' AND amount = ? AND request_hash = ? ORDER BY seq LIMIT 1",
      );
      for (const [i, item] of b.items.entries()) {
        const step = (): void => {
          const prior = seqRow.get(p.id, item.seq) as
            | {
                out_trade_no: string;
                outcome: string;
                code: string | null;
                order_id: string | null;
                conflict_device_id: string | null;
                amount: number;
                request_hash: string | null;
              }
            | undefined;
          // the same formula as an online payment's, so an item and an order compare alike
          const requestHash = hash([item.amount, item.qr_text ?? null, item.uid_hex ?? null]);
          // what every incident of this item says about it
          const about = {
            source: 'offline_payment',
            deviceId: p.id,
            seq: item.seq,
            amount: item.amount,
          } as const;
          if (
            prior !== undefined &&
            prior.out_trade_no === item.out_trade_no &&
            (prior.amount !== item.amount ||
              (prior.request_hash !== null && prior.request_hash !== requestHash))
          ) {
            // Another sale under this seq and this out_trade_no (a POS whose store was wiped numbers
            // its sales from the start again): not the one recorded, so not a duplicate that the POS
            // would count as booked. Refused as the out_trade_no's conflict it is; the seq keeps its
            // first sale, so this answer is the same every time the item is sent. The POS handed the
            // goods over and the code was used at the counter, as for any sale refused for its
            // number: the first time it is sent, the code goes into the one-use registry (a use
            // before is reported) and the operator gets the incident, which marks it as reported.
            const fingerprint = `${item.out_trade_no}\n${requestHash}`;
            if (!incidentRecorded(state, 'out_trade_no_conflict', p.id, item.seq, fingerprint)) {
              const r = checked[i];
              const valid = r !== undefined && !(r instanceof ApiError);
              if (valid) {
                const first = useCode(state, r, p.id, 'payment');
                if (first !== undefined) {
                  recordIncident(state, {
                    ...about,
                    kind: 'code_used_twice',
                    cardId: r.card.card_id,
                    firstDeviceId: first,
                  });
                }
              }
              const cardId = valid ? r.card.card_id : r instanceof CardRefusedError ? r.cardId : undefined;
              recordIncident(state, { ...about, kind: 'out_trade_no_conflict', cardId, fingerprint });
            }
            results.push({
              seq: item.seq,
              out_trade_no: item.out_trade_no,
              outcome: 'rejected',
              code: 'ERR_OUT_TRADE_NO_CONFLICT',
              order_id: null,
              conflict_device_id: null,
            });
            return;
          }
          if (prior !== undefined) {
            results.push({
              seq: item.seq,
              out_trade_no: prior.out_trade_no,
              outcome: 'duplicate',
              code: prior.code,
              order_id: prior.order_id,
              conflict_device_id: prior.conflict_device_id,
            });
            return;
          }
          const day = captureLabel(capturedAt[i] as number, offset);
          const record = (
            outcome: OfflineItemResult['outcome'],
            code: string | null,
            orderId: string | null,
            conflict: string | null,
          ) => {
            insSeq.run(
              p.id,
              item.seq,
              item.out_trade_no,
              outcome,
              code,
              orderId,
              conflict,
              item.amount,
              day,
              requestHash,
            );
            results.push({
              seq: item.seq,
              out_trade_no: item.out_trade_no,
              outcome,
              code,
              order_id: orderId,
              conflict_device_id: conflict,
            });
          };
          const r = checked[i];
          const existing = findOrder(state, scope, item.out_trade_no);
          // The same sale sent again by the POS that made it (online, or offline under another
          // seq). Another POS of the merchant that numbered its sale alike made a sale of its own:
          // its code is checked below (a copied code used on both is reported), then its number.
          const sameSale =
            existing !== undefined && existing.request_hash === requestHash && existing.device_id === p.id;
          // Only an order that took the money books the sale: one whose online attempt failed
          // (insufficient funds), was closed or reversed holds none, yet the POS, which had no
          // answer from it, handed the goods over offline. A duplicate of it would be a sale nobody
          // pays for and nobody follows up; it is refused below, with its incident.
          if (sameSale && existing.status === 'success') {
            record('duplicate', null, existing.order_id, null);
            return;
          }
          // One still awaiting its holder's confirmation (above 50 000 fen, for a POS whose offline
          // cap is higher) may yet fail, or be closed or reversed (the POS reverses the attempt it
          // had no answer to): a duplicate of it now would be acknowledged, and the sale lost with
          // no incident once the order ends without the money. Nothing is recorded for it, and the
          // batch is refused below, retryably: sent again once the order has ended, the item is a
          // duplicate of it (captured) or refused with its incident (no money taken).
          if (sameSale && existing.status === 'processing') {
            awaiting.push({ i, order: existing });
            return;
          }
          // The same sale (number, amount, code or UID) this POS had refused under another seq:
          // a duplicate of that refusal, with its code, reported once. Not judged again: a second
          // cap breach to collect, a code "used twice" by the POS that made the one sale, or a
          // booking of a sale the operator already follows up from its incident.
          const refused = sameSaleRefused.get(p.id, item.out_trade_no, item.amount, requestHash) as
            | { code: string | null; conflict_device_id: string | null }
            | undefined;
          if (refused !== undefined) {
            record('duplicate', refused.code, null, refused.conflict_device_id);
            return;
          }
          const valid = r !== undefined && !(r instanceof ApiError);
          const cardId = valid ? r.card.card_id : undefined;
          /** Refuses the sale, with its incident. */
          const refuse = (incident: IncidentInput, code: string, conflict: string | null): void => {
            recordIncident(state, incident);
            record('rejected', code, null, conflict);
          };
          if (sameSale) {
            // this sale's own online attempt, which took no money (see above): its code was used
            // once, by it, so not "used twice"; the number is taken by the order that holds nothing
            refuse(
              { ...about, kind: 'out_trade_no_conflict', cardId: existing.card_id ?? undefined },
              'ERR_OUT_TRADE_NO_CONFLICT',
              null,
            );
            return;
          }
          // The code first: a second use of it is reported whatever else refuses this sale, and a
          // sale refused below (a cap, a number conflict) still used its code, at the counter. A
          // code this POS resolved online before is this sale's one use, as online.
          if (valid) {
            const first = useCode(state, r, p.id, 'payment');
            if (first !== undefined) {
              refuse(
                { ...about, kind: 'code_used_twice', cardId, firstDeviceId: first },
                'ERR_CODE_ALREADY_USED',
                first,
              );
              return;
            }
          } else {
            // Refused for its code or card, whatever else would refuse it too (a cap, a number): the
            // code is judged first, so the operator learns why (a card lost at the sale, a forged
            // code) and whose card, not a cap breach to collect from a card nobody named. The POS
            // handed the goods over: the operator follows the refused sale up from here.
            const code = r?.code ?? 'ERR_CODE_INVALID';
            const refusedCard = r instanceof CardRefusedError ? r.cardId : undefined;
            refuse({ ...about, kind: 'offline_payment_refused', cardId: refusedCard, code }, code, null);
            return;
          }
          if (existing !== undefined) {
            // Another sale holds this out_trade_no (the POS numbered two sales alike). This one
            // happened but cannot be booked under that number: the operator reconciles it from
            // the incident, as for a cap.
            refuse({ ...about, kind: 'out_trade_no_conflict', cardId }, 'ERR_OUT_TRADE_NO_CONFLICT', null);
            return;
          }
          if (
            item.amount > device.offline_tx_cap ||
            dayTotal(capturedAt[i] as number) + item.amount > device.offline_device_cap
          ) {
            // the POS let it through offline: the operator reconciles it from the incident
            refuse({ ...about, kind: 'offline_cap_exceeded', cardId }, 'ERR_OFFLINE_CAP', null);
            return;
          }
          const o = insertCaptured(
            state,
            {
              scope,
              out_trade_no: item.out_trade_no,
              kind: 'offline_payment',
              amount: item.amount,
              person_id: r.card.person_id,
              card_id: r.card.card_id,
              merchant_id: scope,
              device_id: p.id,
              via: r.source,
              fee_type: null,
              student_id: null,
              description: `offline, captured ${item.captured_at}`,
              request_hash: requestHash,
              confirm_at: null,
            },
            scope,
            true,
          );
          record('accepted', null, o.order_id, null);
        };
        step();
      }
      if (awaiting.length > 0) {
        // Retryable, so not kept under the Idempotency-Key (the POS client sends the same batch
        // under the same key): nothing of this batch is stored, as for any refusal of a batch.
        const now = state.clock.now();
        const wait = Math.max(
          1,
          ...awaiting.map(({ order }) => Math.ceil(((order.confirm_at ?? now) - now) / 1000)),
        );
        const errors = awaiting.map(({ i, order }) => ({
          path: `body/items/${i}`,
          message: `the online payment ${order.out_trade_no} of this sale awaits its confirmation: send the batch again once it has ended`,
        }));
        throw new ApiError(
          409,
          'ERR_ORDER_STATE',
          `${errors[0]?.path}: ${errors[0]?.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
          { retryable: true, headers: { 'retry-after': String(wait) }, errors },
        );
      }
      const count = (k: OfflineItemResult['outcome']) => results.filter((r) => r.outcome === k).length;
      return {
        status: 200,
        body: {
          results,
          accepted: count('accepted'),
          duplicates: count('duplicate'),
          rejected: count('rejected'),
        },
      };
    });
  },
};
