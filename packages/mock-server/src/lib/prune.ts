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

const prunedUntil = new WeakMap<PlatformState, number>();

/**
 * The latest signature expiry (unix seconds) whose nonces were pruned: a signature expiring then or
 * before may have had its nonce forgotten, so it is refused as a replay, whatever the clock reads
 * now (the virtual clock can be set back past a pruning). 0 when nothing was pruned. Kept in the
 * database, read once per platform.
 */
export function noncesPrunedUntil(state: PlatformState): number {
  let v = prunedUntil.get(state);
  if (v === undefined) {
    const row = state.db.prepare("SELECT until_s FROM prune_marks WHERE what = 'nonces'").get() as
      | { until_s: number }
      | undefined;
    v = row?.until_s ?? 0;
    prunedUntil.set(state, v);
  }
  return v;
}

/**
 * Forgets the remembered mark of {@link noncesPrunedUntil}: it is read from the database again.
 * For a failed group-commit batch, which may have rolled back a pruning (its deletions and its mark)
 * after the mark was remembered: a mark ahead of the database's would keep the next pruning from
 * storing its own, and a restart would forget how far nonces were pruned.
 */
export function forgetNoncesPrunedUntil(state: PlatformState): void {
  prunedUntil.delete(state);
}

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
  const latest = db.prepare(
    'SELECT MAX(expires_at) AS m FROM (SELECT expires_at FROM nonces WHERE expires_at < ? ORDER BY expires_at LIMIT ?)',
  );
  const mark = db.prepare(
    "INSERT INTO prune_marks (what, until_s) VALUES ('nonces', ?) ON CONFLICT(what) DO UPDATE SET until_s = MAX(until_s, excluded.until_s)",
  );
  let until = noncesPrunedUntil(state);
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
        if (stmt === delNonces) {
          // the watermark first, in the same transaction: a nonce is never gone unremembered
          const m = (latest.get(cutoff, BATCH) as { m: number | null }).m;
          if (m !== null && m > until) {
            mark.run(m);
            until = m;
          }
        }
        const n = stmt.run(cutoff, BATCH).changes;
        add(n);
        if (n < BATCH) break;
      }
    }
  });
  // (after the transaction: a rolled-back one leaves the remembered mark as it was)
  prunedUntil.set(state, until);
  return { nonces, idempotency, more };
}
