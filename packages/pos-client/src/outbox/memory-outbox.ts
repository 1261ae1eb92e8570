/**
 * An in-memory {@link OutboxStore}: not durable, for tests and devices without storage.
 *
 * @module
 */
import { PosClientError } from '../errors.js';
import {
  assertDayTotalsMaxAge,
  createBookedLedger,
  DEFAULT_DAY_TOTALS_MAX_AGE_S,
} from '../lib/day-totals.js';
import type { NewOutboxEntry, OutboxEntry, OutboxStore, QuarantinedEntry } from './outbox-store.js';

/** Options of {@link createMemoryOutbox}. */
export interface MemoryOutboxOptions {
  /** Clock for sequence numbers, epoch ms; default `Date.now`. */
  readonly now?: () => number;
  /**
   * How long the totals of booked offline sales ({@link OutboxStore.bookedTotals}, kept by UTC
   * minute of capture) are kept, seconds, counted back from the latest booked capture, plus a day
   * (so that the business day the period begins on stays whole): older ones are dropped. Default
   * 691 200 (8 days: the platform's offline max age of 7 days, and one more).
   */
  readonly dayTotalsMaxAgeSeconds?: number;
}

/**
 * Creates an in-memory outbox (lost on restart).
 *
 * @example
 * ```ts
 * const pos = createPosClient({ ..., offline: { outbox: createMemoryOutbox(), caps } });
 * ```
 */
export function createMemoryOutbox(options: MemoryOutboxOptions = {}): OutboxStore {
  const now = options.now ?? Date.now;
  const keepS = options.dayTotalsMaxAgeSeconds ?? DEFAULT_DAY_TOTALS_MAX_AGE_S;
  assertDayTotalsMaxAge(keepS);
  const booked = createBookedLedger();
  const entries = new Map<number, OutboxEntry>();
  const aside = new Map<number, QuarantinedEntry>();
  let lastSeq = 0;
  let closed = false;
  const open = (): void => {
    if (closed) throw new PosClientError('ERR_POS_OUTBOX_CLOSED', 'the outbox is closed');
  };
  return {
    async append(entry: NewOutboxEntry) {
      open();
      lastSeq = Math.max(lastSeq + 1, Math.floor(now()));
      const full = { ...entry, seq: lastSeq } as OutboxEntry;
      entries.set(full.seq, full);
      return full;
    },
    async pending() {
      open();
      return [...entries.values()].sort((a, b) => a.seq - b.seq);
    },
    async ack(seqs, ackOptions) {
      open();
      const acked = new Set(seqs);
      for (const s of new Set(ackOptions?.booked ?? [])) {
        const e = entries.get(s);
        if (e?.kind === 'payment' && acked.has(s)) booked.add(e.capturedAt, e.amountFen);
      }
      for (const s of seqs) {
        entries.delete(s);
        aside.delete(s);
      }
    },
    async quarantine(seqs, reason) {
      open();
      for (const s of seqs) {
        const e = entries.get(s);
        if (e?.kind !== 'payment') continue;
        entries.delete(s);
        aside.set(s, { entry: e, reason: { ...reason } });
      }
    },
    async bookedTotals() {
      open();
      booked.prune(keepS * 1000);
      return booked.totals();
    },
    async bookedByDay() {
      open();
      booked.prune(keepS * 1000);
      return booked.byUtcDay();
    },
    async quarantined() {
      open();
      return [...aside.values()].sort((a, b) => a.entry.seq - b.entry.seq);
    },
    async close() {
      closed = true;
    },
  };
}
