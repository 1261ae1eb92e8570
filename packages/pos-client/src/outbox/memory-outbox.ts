/**
 * An in-memory {@link OutboxStore}: not durable, for tests and devices without storage.
 *
 * @module
 */
import { PosClientError } from '../errors.js';
import type { NewOutboxEntry, OutboxEntry, OutboxStore } from './outbox-store.js';

/** Options of {@link createMemoryOutbox}. */
export interface MemoryOutboxOptions {
  /** Clock for sequence numbers, epoch ms; default `Date.now`. */
  readonly now?: () => number;
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
  const entries = new Map<number, OutboxEntry>();
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
    async ack(seqs) {
      open();
      for (const s of seqs) entries.delete(s);
    },
    async close() {
      closed = true;
    },
  };
}
