/**
 * `pos.sync()`: uploads the outbox in idempotent batches and finishes queued reversals.
 *
 * @module
 */
import type { OfflineBatchBody, OfflineBatchResult, OfflineItemResult } from '@campus-card/core/api';
import { answered, isAbort, isNotFound } from './lib/classify.js';
import type { PosContext } from './lib/context.js';
import { batchKey, iso } from './lib/ids.js';
import type { OutboxPayment, OutboxReversal } from './outbox/outbox-store.js';
import type { RequestOptions } from './request-options.js';

/** What one {@link PosClient.sync} did. */
export interface SyncResult {
  /** Offline sales the platform accepted (charged) in this sync. */
  readonly accepted: number;
  /** Offline sales the platform already had (an earlier upload whose answer was lost, or the online order of the same out_trade_no). */
  readonly duplicates: number;
  /** Offline sales the platform refused (e.g. `ERR_OFFLINE_CAP`, `ERR_CODE_ALREADY_USED`): lost revenue to follow up. */
  readonly rejected: readonly OfflineItemResult[];
  /** Queued reversals completed (the order is final now). */
  readonly reversals: number;
  /** Entries still pending after this sync. */
  readonly remaining: number;
  /** Whether every pending entry was handled; `false` when the platform stopped answering. */
  readonly complete: boolean;
  /** The error that stopped the sync early, if any. */
  readonly error?: unknown;
}

/** Options of {@link PosClient.sync}. */
export type SyncOptions = Pick<RequestOptions, 'signal'>;

function itemOf(e: OutboxPayment): OfflineBatchBody['items'][number] {
  return {
    seq: e.seq,
    out_trade_no: e.outTradeNo,
    amount: e.amountFen,
    qr_text: e.qrText,
    captured_at: iso(e.capturedAt),
  };
}

/**
 * Uploads pending offline sales (batches of `batchSize`, each with a key derived from its content)
 * and acknowledges each answered item; then reverses queued reversals.
 *
 * Crash safety: an entry is acknowledged only after the platform answered for it. A crash between
 * upload and acknowledgement re-uploads it; the platform answers `duplicate` by `(device_id, seq)`
 * and moves no money. An item answered `duplicate` under another out_trade_no means its `seq` was
 * already used (the outbox was lost and the clock went back): it is re-queued under a new `seq`.
 */
export async function runSync(ctx: PosContext, options: SyncOptions = {}): Promise<SyncResult> {
  const { outbox } = ctx;
  if (outbox === undefined)
    return { accepted: 0, duplicates: 0, rejected: [], reversals: 0, remaining: 0, complete: true };
  const { signal } = options;
  const sigOpt = signal === undefined ? {} : { signal };
  let accepted = 0;
  let duplicates = 0;
  let reversals = 0;
  const rejected: OfflineItemResult[] = [];
  let error: unknown;

  const pending = await outbox.pending();
  const sales = pending.filter((e): e is OutboxPayment => e.kind === 'payment');
  const owed = pending.filter((e): e is OutboxReversal => e.kind === 'reversal');

  try {
    for (let i = 0; i < sales.length; i += ctx.batchSize) {
      const chunk = sales.slice(i, i + ctx.batchSize);
      const body: OfflineBatchBody = { items: chunk.map(itemOf) };
      const res = await ctx.transport.request<OfflineBatchResult>({
        method: 'POST',
        path: '/v1/payments/offline-batches',
        body,
        idempotencyKey: batchKey(ctx.deviceId, body),
        ...sigOpt,
      });
      const bySeq = new Map(chunk.map((e) => [e.seq, e]));
      const done: number[] = [];
      for (const r of res.body.results) {
        const entry = bySeq.get(r.seq);
        if (entry === undefined) continue;
        if (r.outcome === 'duplicate' && r.out_trade_no !== entry.outTradeNo) {
          // seq collision: keep the sale, under a fresh seq
          await outbox.append({
            kind: 'payment',
            outTradeNo: entry.outTradeNo,
            amountFen: entry.amountFen,
            qrText: entry.qrText,
            capturedAt: entry.capturedAt,
          });
        } else if (r.outcome === 'accepted') accepted += 1;
        else if (r.outcome === 'duplicate') duplicates += 1;
        else rejected.push(r);
        done.push(entry.seq);
      }
      await outbox.ack(done);
    }

    for (const r of owed) {
      try {
        await ctx.payments.reverse(r.outTradeNo, { ...sigOpt, reason: 'not confirmed in time' });
        reversals += 1;
        await outbox.ack([r.seq]);
      } catch (e) {
        if (isAbort(e, signal)) throw e;
        if (answered(e) && e.status === 409 && e.code === 'ERR_ORDER_STATE') {
          // failed or closed already: final
          reversals += 1;
          await outbox.ack([r.seq]);
        } else if (isNotFound(e)) {
          // Never created. Once its code is too old to be accepted, it never will be.
          if (ctx.now() - r.capturedAt > ctx.unknownOrderHorizonMs) await outbox.ack([r.seq]);
        } else {
          throw e;
        }
      }
    }
  } catch (e) {
    if (isAbort(e, signal)) throw e;
    error = e;
  }
  const remaining = (await outbox.pending()).length;
  return {
    accepted,
    duplicates,
    rejected,
    reversals,
    remaining,
    complete: error === undefined && remaining === 0,
    ...(error === undefined ? {} : { error }),
  };
}
