/**
 * `pos.sync()`: uploads the outbox in idempotent batches and finishes queued reversals.
 *
 * @module
 */
import { type OfflineBatchBody, OfflineBatchResult, type OfflineItemResult } from '@campus-card/core/api';
import type { CampusCardApiError } from '@campus-card/core/transport';
import { answered, isAbort, isNotFound } from './lib/classify.js';
import type { PosContext } from './lib/context.js';
import { batchKey, iso } from './lib/ids.js';
import type {
  OutboxPayment,
  OutboxReversal,
  QuarantinedEntry,
  QuarantineReason,
} from './outbox/outbox-store.js';
import type { RequestOptions } from './request-options.js';

/** What one {@link PosClient.sync} did. */
export interface SyncResult {
  /** Offline sales the platform accepted (charged) in this sync. */
  readonly accepted: number;
  /** Offline sales the platform already had booked (an earlier upload whose answer was lost, or the online order of the same out_trade_no). */
  readonly duplicates: number;
  /**
   * Offline sales the platform refused (e.g. `ERR_OFFLINE_CAP`, `ERR_CODE_ALREADY_USED`,
   * `ERR_REVOKED`): lost revenue to follow up. This includes a sale answered `duplicate` with a
   * `code`: an earlier upload of it was refused and that answer was lost.
   */
  readonly rejected: readonly OfflineItemResult[];
  /**
   * Offline sales set aside in this sync because the platform refuses them as malformed (400 or
   * 422 for the sale sent alone): they would otherwise fail every batch they are in. They moved no
   * money and stay in the outbox's `quarantined()` list until acknowledged: lost revenue to export
   * and follow up.
   */
  readonly quarantined: readonly QuarantinedEntry[];
  /** Queued reversals completed (the order is final now). */
  readonly reversals: number;
  /** Entries still pending after this sync (a sale in progress counts: its write-ahead reversal). */
  readonly remaining: number;
  /**
   * Whether every pending entry was handled; `false` when the platform stopped answering, or a
   * sale was in progress.
   */
  readonly complete: boolean;
  /** The error that stopped the sync early, if any. */
  readonly error?: unknown;
}

/** Options of {@link PosClient.sync}. */
export type SyncOptions = Pick<RequestOptions, 'signal'>;

type Item = OfflineBatchBody['items'][number];

/** Order states after which nothing more can happen to a payment's money but refunds. */
const FINAL = new Set(['success', 'failed', 'reversed', 'closed']);

function itemOf(e: OutboxPayment): Item {
  return {
    seq: e.seq,
    out_trade_no: e.outTradeNo,
    amount: e.amountFen,
    qr_text: e.qrText,
    captured_at: iso(e.capturedAt),
  };
}

/** Bytes of `{"items":[]}` around the items of a batch body. */
const BATCH_OVERHEAD = 12;

/** Consecutive runs of `sales` of at most `maxItems` items and `maxBytes` of JSON body (at least one item each). */
function chunksOf(sales: readonly OutboxPayment[], maxItems: number, maxBytes: number): OutboxPayment[][] {
  const out: OutboxPayment[][] = [];
  let cur: OutboxPayment[] = [];
  let bytes = BATCH_OVERHEAD;
  for (const e of sales) {
    const size = Buffer.byteLength(JSON.stringify(itemOf(e))) + 1;
    if (cur.length > 0 && (cur.length >= maxItems || bytes + size > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = BATCH_OVERHEAD;
    }
    cur.push(e);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** A 413: the request body is over the platform's limit. */
function isTooLarge(e: unknown): boolean {
  return answered(e) && e.status === 413;
}

/**
 * A refusal of the batch's content: 400 or 422 with the platform's problem body, not about the
 * idempotency key. One malformed item refuses the whole batch.
 */
function isMalformed(e: unknown): e is CampusCardApiError & { status: number } {
  return (
    answered(e) &&
    (e.status === 400 || e.status === 422) &&
    e.problem !== undefined &&
    !e.retryable &&
    !e.code.startsWith('ERR_IDEMPOTENCY')
  );
}

/**
 * Uploads pending offline sales and acknowledges each answered item; then reverses queued
 * reversals.
 *
 * Batches hold at most `batchSize` sales and `maxBatchBytes` of JSON, each with an idempotency key
 * derived from its content. A batch answered 413 is halved and each half sent (down to one sale).
 * A batch answered 400/422 (one malformed item fails the whole batch) is bisected the same way
 * until the malformed sales are alone; each is then quarantined (set aside in the outbox and
 * reported in {@link SyncResult.quarantined}) so that the others still upload. Splitting never
 * applies a sale twice: the platform dedupes items by `(device_id, seq)` whatever batch or key
 * they come in, and a refused batch stores nothing.
 *
 * The sales the platform accepted (or answers `duplicate` without a code) are booked to the
 * outbox's booked totals (by time of capture) in the same write as their acknowledgement, so the
 * offline caps go on counting them per business day as the platform does.
 *
 * Crash safety: an entry is acknowledged only after the platform answered for it. A crash between
 * upload and acknowledgement re-uploads it; the platform answers `duplicate` by `(device_id, seq)`
 * and moves no money. An item answered `duplicate` under another out_trade_no means its `seq` was
 * already used (the outbox was lost and the clock went back): it is re-queued under a new `seq`.
 */
export async function runSync(ctx: PosContext, options: SyncOptions = {}): Promise<SyncResult> {
  const outbox = ctx.outbox;
  if (outbox === undefined)
    return {
      accepted: 0,
      duplicates: 0,
      rejected: [],
      quarantined: [],
      reversals: 0,
      remaining: 0,
      complete: true,
    };
  const { signal } = options;
  const sigOpt = signal === undefined ? {} : { signal };
  let accepted = 0;
  let duplicates = 0;
  let reversals = 0;
  const rejected: OfflineItemResult[] = [];
  const quarantined: QuarantinedEntry[] = [];
  let error: unknown;

  const pending = await outbox.pending();
  const sales = pending.filter((e): e is OutboxPayment => e.kind === 'payment');
  // (a sale this client is still running owes its write-ahead reversal only if it ends unknown)
  const owed = pending.filter(
    (e): e is OutboxReversal => e.kind === 'reversal' && !ctx.salesInProgress.has(e.seq),
  );

  const store = outbox; // (narrowed for the function below)
  /** Uploads one batch, splitting it on 413 and bisecting it on 400/422. */
  async function upload(chunk: readonly OutboxPayment[]): Promise<void> {
    const body: OfflineBatchBody = { items: chunk.map(itemOf) };
    let res: { body: OfflineBatchResult };
    try {
      res = await ctx.transport.request<OfflineBatchResult>({
        method: 'POST',
        path: '/v1/payments/offline-batches',
        body,
        schema: OfflineBatchResult,
        idempotencyKey: batchKey(ctx.deviceId, body),
        ...sigOpt,
      });
    } catch (e) {
      if (isAbort(e, signal)) throw e;
      if (chunk.length > 1 && (isTooLarge(e) || isMalformed(e))) {
        const half = Math.ceil(chunk.length / 2);
        await upload(chunk.slice(0, half));
        await upload(chunk.slice(half));
        return;
      }
      if (chunk.length === 1 && isMalformed(e)) {
        const entry = chunk[0] as OutboxPayment;
        const reason: QuarantineReason = {
          code: e.code,
          status: e.status,
          message: e.message,
          at: ctx.now(),
        };
        await store.quarantine([entry.seq], reason);
        quarantined.push({ entry, reason });
        return;
      }
      throw e;
    }
    const bySeq = new Map(chunk.map((e) => [e.seq, e]));
    const done: number[] = [];
    // the sales the platform counts towards its per-device day cap: accepted now, or before (a
    // duplicate without a code; one of the same sale's online order is counted too, to be safe)
    const booked: OutboxPayment[] = [];
    for (const r of res.body.results) {
      const entry = bySeq.get(r.seq);
      if (entry === undefined) continue;
      bySeq.delete(r.seq);
      if (r.outcome === 'duplicate' && r.out_trade_no !== entry.outTradeNo) {
        // seq collision: keep the sale, under a fresh seq
        await store.append({
          kind: 'payment',
          outTradeNo: entry.outTradeNo,
          amountFen: entry.amountFen,
          qrText: entry.qrText,
          capturedAt: entry.capturedAt,
        });
      } else if (r.outcome === 'accepted') {
        accepted += 1;
        booked.push(entry);
      }
      // a duplicate carries its first answer's code: set, the first upload was refused (its answer lost)
      else if (r.outcome === 'duplicate' && r.code === null) {
        duplicates += 1;
        booked.push(entry);
      } else rejected.push(r);
      done.push(entry.seq);
    }
    // Booked and acknowledged in one durable write (a crash leaves them pending, counted as such).
    // A store that keeps no booked totals gets them kept in memory, before the ack: a sale checked
    // in between must not see them neither pending nor booked.
    if (typeof store.bookedTotals !== 'function' && typeof store.bookedByDay !== 'function')
      for (const e of booked) ctx.bookedInMemory.set(e.seq, e);
    await store.ack(done, { booked: booked.map((e) => e.seq) });
  }

  /** Reverses the owed online charges whose sale never completed (write-ahead reversals). */
  async function reverseOwed(): Promise<void> {
    for (const r of owed) {
      // A sale of this order number is running (a resumed sale): it reports the order's outcome
      // and then drops this reversal, or leaves it for the next sync.
      if (ctx.tradesInProgress.has(r.outTradeNo) || ctx.reversing.has(r.outTradeNo)) continue;
      let release!: () => void;
      ctx.reversing.set(
        r.outTradeNo,
        new Promise<void>((resolve) => {
          release = resolve;
        }),
      );
      try {
        // acknowledged since the list was taken (a resumed sale reported the order): not owed
        if (!(await store.pending()).some((e) => e.seq === r.seq)) continue;
        await reverseOne(r);
      } finally {
        ctx.reversing.delete(r.outTradeNo);
        release();
      }
    }
  }

  /** Reverses one owed reversal's order; acknowledges it once the order is final. */
  async function reverseOne(r: OutboxReversal): Promise<void> {
    try {
      const order = await ctx.payments.reverse(r.outTradeNo, {
        ...sigOpt,
        reason: 'not confirmed in time',
      });
      // an answer that is not a final order leaves the reversal owed (the next sync asks again)
      if (!FINAL.has(order.status)) return;
      reversals += 1;
      await store.ack([r.seq]);
    } catch (e) {
      if (isAbort(e, signal)) throw e;
      if (answered(e) && e.status === 409 && e.code === 'ERR_ORDER_STATE') {
        // failed or closed already: final
        reversals += 1;
        await store.ack([r.seq]);
      } else if (isNotFound(e)) {
        // Never created. Once its code is too old to be accepted, it never will be.
        if (ctx.now() - r.capturedAt > ctx.unknownOrderHorizonMs) await store.ack([r.seq]);
      } else {
        throw e;
      }
    }
  }

  try {
    for (const chunk of chunksOf(sales, ctx.batchSize, ctx.maxBatchBytes)) await upload(chunk);
  } catch (e) {
    if (isAbort(e, signal)) throw e;
    error = e;
  }
  // Owed reversals give holders their money back: a sale the platform refuses to take (a 403, a
  // lasting 5xx) must not hold them up. Only when the platform could not be reached at all are
  // they left to the next sync, rather than each waiting out its own retries now.
  if (error === undefined || answered(error)) {
    try {
      await reverseOwed();
    } catch (e) {
      if (isAbort(e, signal)) throw e;
      error ??= e;
    }
  }

  const remaining = (await outbox.pending()).length;
  return {
    accepted,
    duplicates,
    rejected,
    quarantined,
    reversals,
    remaining,
    complete: error === undefined && remaining === 0,
    ...(error === undefined ? {} : { error }),
  };
}
