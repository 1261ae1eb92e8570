/**
 * Scan-to-pay in one call: verify the code offline, create the payment, poll a pending or unknown
 * outcome on the published schedule, reverse what cannot be confirmed, and sell offline within
 * caps when the platform is unreachable.
 *
 * @module
 */

import { DAY_MS } from '@campus-card/core';
import type { Order } from '@campus-card/core/api';
import type { ReasonCode } from '@campus-card/verifier';
import { PosClientError } from './errors.js';
import {
  answered,
  isAbort,
  isConnectFailure,
  isDefinitive,
  isNoResponse,
  isNotFound,
} from './lib/classify.js';
import type { PosContext } from './lib/context.js';
import { DEFAULT_DAY_TOTALS_MAX_AGE_S, utcDaySpan } from './lib/day-totals.js';
import { assertBusinessKey, assertFen, assertQrText, newOutTradeNo } from './lib/ids.js';
import { brokenCap } from './offline-caps.js';
import type {
  BookedTotal,
  OutboxEntry,
  OutboxPayment,
  OutboxReversal,
  OutboxStore,
} from './outbox/outbox-store.js';
import { createPayment } from './payments.js';

/** Input of {@link PosClient.scanToPay}. */
export interface ScanToPayInput {
  /** The scanned QR text: `CC1:` then Base45 (`0-9 A-Z space $%*+-./:`), 4 to 1024 characters. */
  readonly qr: string;
  /** Amount, integer fen (> 0, ≤ 1 000 000 000). */
  readonly amountFen: number;
  /**
   * Merchant order number (1–64 of `[A-Za-z0-9_.:-]`, not `.` or `..`); default a fresh one
   * (`<device>-<time>-<random>`). Reuse it to resume a sale: the create then carries the same key,
   * and a `success` the platform replays from an earlier attempt is confirmed by a query (it may
   * have been reversed since). A final outcome of the resumed sale also drops the reversals that
   * earlier attempts of the number left owed in the outbox.
   */
  readonly outTradeNo?: string;
  /** Free text shown on statements (≤ 128 characters). */
  readonly description?: string;
  /**
   * Aborts the sale. If the payment may already have been sent, a reversal is queued in the outbox
   * (when there is one) so that {@link PosClient.sync} makes the order final.
   */
  readonly signal?: AbortSignal;
}

/** A final order: `success` (paid), `failed` (e.g. `failure_code` `ERR_INSUFFICIENT_FUNDS`), `reversed` or `closed`. */
export interface ScanToPayFinal {
  readonly status: 'success' | 'failed' | 'reversed' | 'closed';
  readonly outTradeNo: string;
  readonly order: Order;
}

/** Sold offline: the sale is in the outbox and {@link PosClient.sync} uploads it. */
export interface ScanToPayOffline {
  readonly status: 'offline_accepted';
  readonly outTradeNo: string;
  readonly order: null;
  /** The outbox entry (its `seq` is the device sequence number). */
  readonly entry: OutboxPayment;
}

/** The offline verifier refused the code; nothing was sent. */
export interface ScanToPayDenied {
  readonly status: 'denied';
  readonly outTradeNo: string;
  readonly order: null;
  /** The verifier's stable reason code, e.g. `CODE_TOO_OLD`, `REVOKED`, `REPLAYED`. */
  readonly reason: ReasonCode;
  /** A human-readable explanation (not stable). */
  readonly detail: string;
}

/** The outcome of {@link PosClient.scanToPay}. Narrow on `status`. */
export type ScanToPayResult = ScanToPayFinal | ScanToPayOffline | ScanToPayDenied;

const FINAL = new Set<Order['status']>(['success', 'failed', 'reversed', 'closed']);

/**
 * The sale's outcome when `order` is final and is this sale (its out_trade_no and amount): an
 * answer about another order or amount says nothing about this one.
 */
function final(order: Order, outTradeNo: string, amountFen: number): ScanToPayFinal | undefined {
  return FINAL.has(order.status) && order.out_trade_no === outTradeNo && order.amount === amountFen
    ? { status: order.status as ScanToPayFinal['status'], outTradeNo, order }
    : undefined;
}

/**
 * The totals of offline sales the platform accepted, each over the span its sales were captured in:
 * the outbox's ({@link OutboxStore.bookedTotals}); from a store that has only the older
 * `bookedByDay`, its UTC days (each counts towards every business day it overlaps); from a store
 * that keeps none, those this client saw accepted (less those `pending` still holds), in memory.
 */
async function bookedTotals(
  ctx: PosContext,
  outbox: OutboxStore,
  pending: readonly OutboxEntry[],
): Promise<readonly BookedTotal[]> {
  if (typeof outbox.bookedTotals === 'function') return outbox.bookedTotals();
  if (typeof outbox.bookedByDay === 'function') {
    const out: BookedTotal[] = [];
    for (const [day, amountFen] of await outbox.bookedByDay()) {
      // a key that is not a UTC day: placed nowhere, so it counts towards every day (failing closed)
      const span = utcDaySpan(day) ?? { start: Number.NEGATIVE_INFINITY, end: Number.POSITIVE_INFINITY };
      out.push({ from: span.start, to: span.end, amountFen });
    }
    return out;
  }
  // kept from the latest booked capture back (see the outboxes' dayTotalsMaxAgeSeconds)
  let latest = Number.NEGATIVE_INFINITY;
  for (const e of ctx.bookedInMemory.values()) latest = Math.max(latest, e.capturedAt);
  const cutoff = latest - DEFAULT_DAY_TOTALS_MAX_AGE_S * 1000 - DAY_MS;
  const held = new Set(pending.map((e) => e.seq));
  const out: BookedTotal[] = [];
  for (const [seq, e] of ctx.bookedInMemory) {
    if (e.capturedAt < cutoff) ctx.bookedInMemory.delete(seq);
    else if (!held.has(seq)) {
      // (its whole millisecond, as its captured_at says it)
      const ms = Math.floor(e.capturedAt);
      out.push({ from: ms, to: ms + 1, amountFen: e.amountFen });
    }
  }
  return out;
}

/**
 * Appends an offline sale within the caps (serialised, so concurrent sales see each other). The
 * sale is checked like an online one first, so nothing the platform would refuse as malformed
 * enters the outbox.
 *
 * @throws `TypeError`/`RangeError` for a malformed order number, amount or QR text;
 *   {@link PosClientError} `ERR_POS_OFFLINE_DISABLED` without an outbox, `ERR_POS_OFFLINE_CAP` past a cap.
 */
export async function sellOffline(
  ctx: PosContext,
  outTradeNo: string,
  amountFen: number,
  qrText: string,
  cause?: unknown,
): Promise<ScanToPayOffline> {
  assertBusinessKey('outTradeNo', outTradeNo);
  assertFen('amountFen', amountFen);
  assertQrText('qr', qrText);
  const { outbox, caps } = ctx;
  if (outbox === undefined || caps === undefined) {
    throw new PosClientError(
      'ERR_POS_OFFLINE_DISABLED',
      'the platform is unreachable and offline mode is off',
      {
        cause,
        outTradeNo,
      },
    );
  }
  return ctx.exclusive(async () => {
    const nowMs = ctx.now();
    // pending first, then the day totals: a sync acknowledging sales in between books them at
    // once, so they are counted twice (safe), never neither pending nor booked
    const pending = await outbox.pending();
    const cap = brokenCap(caps, pending, await bookedTotals(ctx, outbox, pending), amountFen, nowMs);
    if (cap !== undefined) {
      throw new PosClientError('ERR_POS_OFFLINE_CAP', `offline sale refused: ${cap} cap reached`, {
        cause,
        outTradeNo,
        cap,
      });
    }
    const entry = (await outbox.append({
      kind: 'payment',
      outTradeNo,
      amountFen,
      qrText,
      capturedAt: nowMs,
    })) as OutboxPayment;
    return { status: 'offline_accepted', outTradeNo, order: null, entry };
  });
}

/**
 * Queues a reversal (best effort) and returns the error to throw for an unresolved payment. With
 * a write-ahead reversal (`intent`) already in the outbox, that one stays owed instead.
 */
async function unresolved(
  ctx: PosContext,
  outTradeNo: string,
  capturedAt: number,
  cause: unknown,
  intent?: OutboxReversal,
) {
  let queued = intent !== undefined;
  if (ctx.outbox !== undefined && intent === undefined) {
    try {
      await ctx.outbox.append({ kind: 'reversal', outTradeNo, capturedAt });
      queued = true;
    } catch {
      // reported below
    }
  }
  return new PosClientError(
    'ERR_POS_PAYMENT_UNKNOWN',
    queued
      ? `payment ${outTradeNo} could not be confirmed or reversed; a reversal is queued for sync()`
      : `payment ${outTradeNo} could not be confirmed or reversed; reverse it with payments.reverse()`,
    { cause, outTradeNo },
  );
}

/**
 * Runs one scan-to-pay. See {@link PosClient.scanToPay} for the contract.
 */
export async function scanToPay(ctx: PosContext, input: ScanToPayInput): Promise<ScanToPayResult> {
  // The same checks as the platform's, before anything is sent or queued: a malformed sale in the
  // outbox would be refused at upload.
  assertQrText('qr', input.qr);
  assertFen('amountFen', input.amountFen);
  if (input.outTradeNo !== undefined) assertBusinessKey('outTradeNo', input.outTradeNo);
  if (
    input.description !== undefined &&
    (typeof input.description !== 'string' || input.description.length > 128)
  )
    throw new TypeError('description must be a string of at most 128 characters');
  const outTradeNo = input.outTradeNo ?? newOutTradeNo(ctx.deviceId, ctx.now());
  const capturedAt = ctx.now();

  // 1. Offline pre-check: deny early, send nothing.
  if (ctx.verifier !== undefined) {
    const decision = await ctx.verifier.verify(input.qr, {
      now: Math.floor(ctx.now() / 1000),
      reader: ctx.reader,
    });
    if (!decision.accepted) {
      return { status: 'denied', outTradeNo, order: null, reason: decision.reason, detail: decision.detail };
    }
  }
  if (ctx.offline()) return sellOffline(ctx, outTradeNo, input.amountFen, input.qr);

  // A resumed order number may have an owed reversal that sync() is sending now: let it end first
  // (the order is then reversed, and the create's replay is confirmed by a query below).
  for (let r = ctx.reversing.get(outTradeNo); r !== undefined; r = ctx.reversing.get(outTradeNo))
    await r.catch(() => undefined);
  ctx.tradesInProgress.set(outTradeNo, (ctx.tradesInProgress.get(outTradeNo) ?? 0) + 1);
  try {
    return await payWithIntent(ctx, input, outTradeNo, capturedAt);
  } finally {
    const n = (ctx.tradesInProgress.get(outTradeNo) ?? 1) - 1;
    if (n > 0) ctx.tradesInProgress.set(outTradeNo, n);
    else ctx.tradesInProgress.delete(outTradeNo);
  }
}

/** Step 2 of {@link scanToPay}: the write-ahead reversal around {@link payOnline}. */
async function payWithIntent(
  ctx: PosContext,
  input: ScanToPayInput,
  outTradeNo: string,
  capturedAt: number,
): Promise<ScanToPayResult> {
  // 2. A write-ahead reversal, before anything is sent: should the device die (power, crash)
  // before the sale has an outcome, sync() after the restart reverses whatever the create did, and
  // the customer pays nothing for a sale the cashier never saw confirmed. It is acknowledged once
  // the sale has an outcome; it stays owed while the outcome is unknown.
  const outbox = ctx.outbox;
  const intent =
    outbox === undefined
      ? undefined
      : ((await outbox.append({ kind: 'reversal', outTradeNo, capturedAt })) as OutboxReversal);
  if (intent !== undefined) ctx.salesInProgress.add(intent.seq);
  try {
    let result: ScanToPayResult;
    try {
      result = await payOnline(ctx, input, outTradeNo, capturedAt, intent);
    } catch (e) {
      // A definitive refusal charged nothing under this key (a refused code, an out_trade_no that
      // names another sale: reversing that one would be wrong). Anything else may have charged.
      if (outbox !== undefined && intent !== undefined && isDefinitive(e))
        await outbox.ack([intent.seq]).catch(() => undefined);
      throw e;
    }
    // The outcome is reported only once the device will remember it: if this write fails, the
    // sale is not confirmed to the cashier, and sync() reverses it.
    if (outbox !== undefined && intent !== undefined) {
      const done = [intent.seq];
      if (result.order !== null) {
        // The order's final state is known and reported now: a reversal an earlier attempt of this
        // order number left owed (a crash, ERR_POS_PAYMENT_UNKNOWN) is about this very order, and
        // sync() must not undo what the cashier is now told.
        for (const e of await outbox.pending()) {
          if (
            e.kind === 'reversal' &&
            e.outTradeNo === outTradeNo &&
            e.seq !== intent.seq &&
            !ctx.salesInProgress.has(e.seq)
          )
            done.push(e.seq);
        }
      }
      await outbox.ack(done);
    }
    return result;
  } finally {
    // from now on, a reversal still owed is sync()'s to make
    if (intent !== undefined) ctx.salesInProgress.delete(intent.seq);
  }
}

/** Steps 3 to 5 of {@link scanToPay}: create, poll, reverse (or sell offline). */
async function payOnline(
  ctx: PosContext,
  input: ScanToPayInput,
  outTradeNo: string,
  capturedAt: number,
  intent: OutboxReversal | undefined,
): Promise<ScanToPayResult> {
  const { signal } = input;
  const createInput = {
    outTradeNo,
    amountFen: input.amountFen,
    qrText: input.qr,
    ...(input.description === undefined ? {} : { description: input.description }),
  };
  const sigOpt = signal === undefined ? {} : { signal };
  let reached = false; // whether the platform answered anything during this sale
  let lastError: unknown;
  let sent = false; // whether a create may have left the device
  // A caller's order number may be a resumed sale: the platform's replay of its first answer (kept
  // 24 h) shows the order as it was then, and a `success` may have been reversed since (by the
  // sync() of an earlier attempt's owed reversal). Such an answer is confirmed by a query. A
  // generated number is this call's own: a replay can only be of its own earlier attempt.
  const resumable = input.outTradeNo !== undefined;
  /** The final outcome of a create's answer, unless it needs confirming. */
  const finalOfCreate = (r: { order: Order; replayed: boolean }): ScanToPayFinal | undefined => {
    const done = final(r.order, outTradeNo, input.amountFen);
    return done?.status === 'success' && r.replayed && resumable ? undefined : done;
  };
  let schedule = ctx.pollSchedule;

  try {
    // 3. Create. The key is pay:<outTradeNo>, reused by every retry and every re-send below.
    try {
      sent = true;
      const created = await createPayment(ctx.transport, createInput, {
        ...sigOpt,
        maxRetries: ctx.createMaxRetries,
      });
      reached = true;
      const done = finalOfCreate(created);
      if (done !== undefined) return done;
      // a replayed success to confirm: query at once, then on the schedule
      if (final(created.order, outTradeNo, input.amountFen) !== undefined) schedule = [0, ...schedule];
    } catch (e) {
      if (isAbort(e, signal) || isDefinitive(e) || !(isNoResponse(e) || answered(e))) throw e;
      lastError = e;
      reached = answered(e);
      // Nothing could even connect: sell offline under the same out_trade_no (the platform dedupes
      // an offline upload against an online order with that number, so a create that did land is
      // never charged twice).
      if (isConnectFailure(e) && ctx.outbox !== undefined) {
        try {
          return await sellOffline(ctx, outTradeNo, input.amountFen, input.qr, e);
        } catch (offlineError) {
          if (!(offlineError instanceof PosClientError)) throw offlineError;
          lastError = offlineError;
        }
      }
    }

    // 4. Pending or unknown: poll on the published schedule.
    for (const delayS of schedule) {
      await ctx.sleep(delayS * 1000, signal);
      try {
        const order = await ctx.payments.query(outTradeNo, { ...sigOpt, maxRetries: 0 });
        reached = true;
        const done = final(order, outTradeNo, input.amountFen);
        if (done !== undefined) return done;
      } catch (e) {
        if (isAbort(e, signal)) throw e;
        lastError = e;
        if (answered(e)) reached = true;
        if (!isNotFound(e)) continue;
        // Not there: the create never arrived (or is still in flight). Re-send it with the same key;
        // the platform either performs it now or answers the first outcome.
        try {
          const done = finalOfCreate(
            await createPayment(ctx.transport, createInput, { ...sigOpt, maxRetries: 0 }),
          );
          if (done !== undefined) return done;
        } catch (e2) {
          if (isAbort(e2, signal) || isDefinitive(e2)) throw e2;
          lastError = e2;
        }
      }
    }

    // The platform was never reachable: sell offline under the same out_trade_no if allowed.
    if (!reached && ctx.outbox !== undefined) {
      try {
        return await sellOffline(ctx, outTradeNo, input.amountFen, input.qr, lastError);
      } catch (offlineError) {
        if (!(offlineError instanceof PosClientError)) throw offlineError;
        lastError = offlineError;
      }
    }

    // 5. Not confirmed in time: reverse it, so the order ends final and nobody pays for nothing.
    return await reverseUnconfirmed(ctx, outTradeNo, createInput, sigOpt, capturedAt, intent);
  } catch (e) {
    if (sent && isAbort(e, signal) && ctx.outbox !== undefined) {
      // The payment may have been sent: make sure it ends reversed unless it is final already.
      await unresolved(ctx, outTradeNo, capturedAt, e, intent).catch(() => undefined);
    }
    throw e;
  }
}

/**
 * Reverses a payment whose outcome is still unknown. Only two refusals mean something here: 409
 * `ERR_ORDER_STATE` (the order is final without money taken: report it) and 404 (the create never
 * landed: pin its key by re-sending it). Every other failure, 4xx included (a 401 or 403 says
 * nothing about the payment), leaves the outcome unknown: a reversal is queued and
 * `ERR_POS_PAYMENT_UNKNOWN` thrown. So is an answer that is not a final order.
 */
async function reverseUnconfirmed(
  ctx: PosContext,
  outTradeNo: string,
  createInput: Parameters<PosContext['payments']['create']>[0],
  sigOpt: { signal?: AbortSignal },
  capturedAt: number,
  intent: OutboxReversal | undefined,
): Promise<ScanToPayResult> {
  const signal = sigOpt.signal;
  for (let round = 0; round < 2; round++) {
    let order: Order;
    try {
      order = await ctx.payments.reverse(outTradeNo, { ...sigOpt, reason: 'not confirmed in time' });
    } catch (e) {
      if (isAbort(e, signal)) throw e;
      if (answered(e) && e.status === 409 && e.code === 'ERR_ORDER_STATE') {
        // It became final meanwhile (failed or closed): report that.
        let cause: unknown = e;
        try {
          const done = final(await ctx.payments.query(outTradeNo, sigOpt), outTradeNo, createInput.amountFen);
          if (done !== undefined) return done;
        } catch (q) {
          if (isAbort(q, signal)) throw q;
          cause = q;
        }
        throw await unresolved(ctx, outTradeNo, capturedAt, cause, intent);
      }
      if (isNotFound(e) && round === 0) {
        // The create never landed. Pin the outcome of its key by re-sending it: either it is refused
        // for good (nothing can be charged under this key any more) or it lands and is reversed.
        try {
          const { order: created } = await createPayment(ctx.transport, createInput, {
            ...sigOpt,
            maxRetries: 1,
          });
          const done = final(created, outTradeNo, createInput.amountFen);
          if (done !== undefined && done.status !== 'success') return done;
          continue;
        } catch (e2) {
          if (isAbort(e2, signal) || isDefinitive(e2)) throw e2;
          throw await unresolved(ctx, outTradeNo, capturedAt, e2, intent);
        }
      }
      throw await unresolved(ctx, outTradeNo, capturedAt, e, intent);
    }
    const done = final(order, outTradeNo, createInput.amountFen);
    if (done !== undefined) return done;
    // a reverse answered with an order that is not final (or not of this amount): the outcome is still unknown
    throw await unresolved(
      ctx,
      outTradeNo,
      capturedAt,
      new Error(`the reversal of ${outTradeNo} answered a ${order.status} order of ${order.amount} fen`),
      intent,
    );
  }
  throw await unresolved(ctx, outTradeNo, capturedAt, undefined, intent);
}
