/**
 * Pruning of records whose use has passed: request nonces and idempotency records. Without it
 * both tables grow with every request for as long as the platform runs.
 *
 * @module
 */
import type { PlatformState } from '../context.js';

/** Rows deleted by one statement; a call runs at most {@link MAX_BATCHES} of them. */
const BATCH = 2000;
/** Statements one call runs at most, so that one call stays short on the event loop. */
const MAX_BATCHES = 10;
/**
 * Nonces are kept this long past their signature's expiry, seconds: a `clock_skew` fault moves a
 * device's signature clock by up to a day, and its nonces must stay refused for that long.
 */
export const NONCE_MARGIN_S = 86_400;

/** What {@link pruneExpired} deleted. */
export interface PruneResult {
  /** Nonces whose signature expired more than {@link NONCE_MARGIN_S} ago. */
  readonly nonces: number;
  /** Finished idempotency records older than the retention (`settings.idempotencyTtlS`). */
  readonly idempotency: number;
  /** Whether rows were left for the next call (the batch budget ran out). */
  readonly more: boolean;
}

/**
 * Deletes request nonces that no signature can use any more and idempotency records past their
 * retention, oldest first, at most 20 000 rows a call. An expired idempotency record is already
 * ignored (the request runs again, and business keys keep it from acting twice), so pruning
 * changes no answer. Runs in a transaction (a savepoint of the open group-commit batch, if any).
 */
export function pruneExpired(state: PlatformState): PruneResult {
  const { db, clock, settings } = state;
  const nonceCutoff = clock.nowSeconds() - NONCE_MARGIN_S;
  const idemCutoff = clock.now() - settings.idempotencyTtlS * 1000;
  const delNonces = db.prepare(
    'DELETE FROM nonces WHERE rowid IN (SELECT rowid FROM nonces WHERE expires_at < ? ORDER BY expires_at LIMIT ?)',
  );
  const delIdem = db.prepare(
    "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency WHERE created_at < ? AND state = 'done' ORDER BY created_at LIMIT ?)",
  );
  let nonces = 0;
  let idempotency = 0;
  let more = false;
  state.tx(() => {
    let batches = 0;
    for (const [stmt, cutoff, add] of [
      [delNonces, nonceCutoff, (n: number) => (nonces += n)],
      [delIdem, idemCutoff, (n: number) => (idempotency += n)],
    ] as const) {
      for (;;) {
        if (batches === MAX_BATCHES) {
          more = true;
          return;
        }
        batches++;
        const n = stmt.run(cutoff, BATCH).changes;
        add(n);
        if (n < BATCH) break;
      }
    }
  });
  return { nonces, idempotency, more };
}
