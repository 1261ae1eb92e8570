/**
 * Offline caps: how much a POS may sell while it cannot reach the platform.
 *
 * @module
 */
import type { OfflineCap } from './errors.js';
import type { OutboxEntry } from './outbox/outbox-store.js';

/** Limits on offline sales; the platform applies its own per-device caps when they are uploaded. */
export interface OfflineCaps {
  /** Largest single offline sale, integer fen. */
  readonly perTransactionFen: number;
  /** Largest total of offline sales not yet uploaded (including this one), integer fen. */
  readonly totalFen: number;
  /** Oldest un-uploaded offline sale allowed, in seconds: past it, no more offline sales until a sync. */
  readonly maxAgeSeconds: number;
}

/**
 * Throws a RangeError unless the caps are valid: the two amounts non-negative safe integers of fen
 * (money is integer fen everywhere), the age a non-negative finite number of seconds.
 */
export function assertCaps(caps: OfflineCaps): void {
  for (const k of ['perTransactionFen', 'totalFen'] as const) {
    const v = caps?.[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      throw new RangeError(`offline.caps.${k} must be a non-negative integer number of fen`);
    }
  }
  const age = caps.maxAgeSeconds;
  if (typeof age !== 'number' || !Number.isFinite(age) || age < 0) {
    throw new RangeError('offline.caps.maxAgeSeconds must be a non-negative number of seconds');
  }
}

/**
 * The cap an offline sale of `amountFen` at `nowMs` would break, given the pending outbox entries,
 * or `undefined` when it is allowed.
 */
export function brokenCap(
  caps: OfflineCaps,
  pending: readonly OutboxEntry[],
  amountFen: number,
  nowMs: number,
): OfflineCap | undefined {
  if (amountFen > caps.perTransactionFen) return 'perTransaction';
  let total = amountFen;
  let oldest = Number.POSITIVE_INFINITY;
  for (const e of pending) {
    if (e.kind !== 'payment') continue;
    total += e.amountFen;
    oldest = Math.min(oldest, e.capturedAt);
  }
  if (total > caps.totalFen) return 'total';
  if (nowMs - oldest > caps.maxAgeSeconds * 1000) return 'maxAge';
  return undefined;
}
