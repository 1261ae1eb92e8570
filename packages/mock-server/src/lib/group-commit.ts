/**
 * Group commit: the SQLite work of many concurrent requests shares one transaction.
 *
 * The first write of a request opens a batch (`BEGIN IMMEDIATE`) if none is open, and schedules
 * its `COMMIT` for the end of the current event-loop turn (`setImmediate`). That covers every
 * request whose bytes arrived in the same turn. Each request's state change runs in its own
 * savepoint: better-sqlite3 nests `db.transaction()` as a savepoint inside an open
 * transaction. So a request that fails rolls back only its own changes, and the batch goes on.
 *
 * Nothing is acknowledged before it is committed. A request notes the batch that was open when
 * its last database work ended (`current()`), and its response waits for that batch's `COMMIT`.
 * The same wait covers requests that only read rows another request has not committed yet. When
 * a `COMMIT` fails, the whole batch rolls back and every response that waits on it fails with a
 * retryable 503. What is kept in memory of rows (caches) may hold rows of that batch: the
 * listeners given to `onRollback()` drop it, before anything else runs.
 *
 * With `enabled: false` (the platform's `groupCommit: false` option), `join()`
 * opens nothing. Each `db.transaction()` then commits on its own, as before.
 *
 * @module
 */
import { resolve } from 'node:path';
import type { Db } from './db.js';

/** One open batch: a promise settled by its COMMIT (or its failure). */
export interface Batch {
  /** Resolves after the batch's COMMIT, rejects when it failed (the batch was rolled back). */
  readonly committed: Promise<void>;
  /** Whether its COMMIT failed (the batch was rolled back): set before any waiter hears of it. */
  readonly failed: boolean;
}

/** The group-commit coordinator of one database connection. */
export interface GroupCommit {
  /** Whether batching is on. */
  readonly enabled: boolean;
  /** Opens a batch when none is open (call before a write). A no-op when disabled. */
  join(): void;
  /** The open batch, if any. */
  current(): Batch | undefined;
  /** Resolves when every write made so far is committed (the open batch, if any). */
  settled(): Promise<void>;
  /** Runs `fn` after the open batch commits, or now when none is open. It is skipped when the batch fails. */
  afterCommit(fn: () => void): void;
  /**
   * Runs `fn` after every failed batch's ROLLBACK, before its waiters hear of it and before
   * anything else runs: drop there what memory keeps of rows the batch may have written.
   */
  onRollback(fn: () => void): void;
  /** Commits the open batch now. */
  flush(): void;
  /** Counters: batches committed and failed, joins, largest batch, time spent in COMMIT (ms). */
  stats(): GroupCommitStats;
}

/** Counters of a {@link GroupCommit}. */
export interface GroupCommitStats {
  /** Batches committed. */
  readonly batches: number;
  /** Batches whose COMMIT failed (rolled back). */
  readonly failed: number;
  /** `join()` calls while enabled (a request joins once per write site). */
  readonly joins: number;
  /** Most joins in one batch. */
  readonly maxJoins: number;
  /** Total and longest time spent in COMMIT, ms. */
  readonly commitMs: number;
  readonly maxCommitMs: number;
  /** Total and longest time spent in BEGIN IMMEDIATE (waiting for the write lock, e.g. behind a checkpoint), ms. */
  readonly beginMs: number;
  readonly maxBeginMs: number;
}

interface OpenBatch extends Batch {
  failed: boolean;
  resolve(): void;
  reject(err: unknown): void;
  hooks: (() => void)[];
  joins: number;
}

/** Options of {@link createGroupCommit}. */
export interface GroupCommitOptions {
  /** Batch at all. Default true. */
  readonly enabled?: boolean;
  /** Called with the error of a failed COMMIT (the batch was rolled back). */
  readonly onError?: (err: unknown) => void;
  /**
   * Called after each successful COMMIT, with no transaction open, before the batch's waiters
   * resume (the platform lets its checkpointer catch the WAL up there). Errors it throws are ignored.
   */
  readonly onCommitted?: () => void;
}

const RESOLVED = Promise.resolve();

/** What a group commit shows the others of its thread on the same file (see {@link siblingsOf}). */
interface Sibling {
  readonly db: Db;
  /** Whether a batch is open (it holds the file's write lock until its COMMIT). */
  holds(): boolean;
  flush(): void;
}

/**
 * The enabled group commits of this thread, by database file. A batch holds the file's write lock
 * until its COMMIT, which runs on this thread (`setImmediate`): another connection of this thread on
 * the same file (a second platform serving it, in the same process) that waits for the lock in
 * `beginImmediate` stops the event loop, so the COMMIT it waits for can never run, and it fails with
 * `SQLITE_BUSY` after the whole busy timeout. So it commits their open batches first.
 */
const onFile = new Map<string, Set<WeakRef<Sibling>>>();

/**
 * The group commits on `db`'s file (none for a memory database). Held weakly: a platform dropped
 * without `close()` is not kept alive by it. Closed and collected ones are dropped here.
 */
function siblingsOf(db: Db): Set<WeakRef<Sibling>> | undefined {
  for (const [file, set] of onFile) {
    for (const ref of set) {
      const s = ref.deref();
      if (s === undefined || !s.db.open) set.delete(ref);
    }
    if (set.size === 0) onFile.delete(file);
  }
  if (db.memory) return undefined;
  const file = resolve(db.name);
  let set = onFile.get(file);
  if (set === undefined) {
    set = new Set();
    onFile.set(file, set);
  }
  return set;
}

/** Poll period while the write lock is held elsewhere (see `beginImmediate`), ms. */
const BUSY_POLL_MS = 0.2;

/**
 * Creates the group-commit coordinator of a connection.
 *
 * @example
 * ```ts
 * const gc = createGroupCommit(db);
 * gc.join();                        // BEGIN IMMEDIATE, COMMIT scheduled for the end of the turn
 * db.transaction(() => work())();   // a savepoint inside the batch
 * await gc.current()?.committed;    // now it is durable: answer
 * ```
 */
export function createGroupCommit(db: Db, options: GroupCommitOptions = {}): GroupCommit {
  const enabled = options.enabled ?? true;
  const busyTimeoutMs = enabled ? Number(db.pragma('busy_timeout', { simple: true })) : 0;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  let open: OpenBatch | undefined;
  const rollbackListeners: (() => void)[] = [];
  let batches = 0;
  let failed = 0;
  let joins = 0;
  let maxJoins = 0;
  let commitMs = 0;
  let maxCommitMs = 0;
  let beginMs = 0;
  let maxBeginMs = 0;

  /**
   * `BEGIN IMMEDIATE`, waiting for the write lock in steps of {@link BUSY_POLL_MS}. Another
   * connection holds it only for a `wal_checkpoint(RESTART)` (lib/checkpointer.ts), for 5 – 15 ms.
   * SQLite's own busy handler sleeps 1, 2, 5, 10 ms … between tries, so the event loop waited
   * 18 ms for a lock let go after 9: here the wait ends within 0.2 ms of the release. The
   * connection's busy timeout, as it was when the group commit was created, is set to 0 for the
   * tries and put back after; it still bounds the whole wait (then `SQLITE_BUSY` is thrown).
   */
  function beginImmediate(): void {
    if (busyTimeoutMs <= 0) {
      db.exec('BEGIN IMMEDIATE');
      return;
    }
    // exec, not a prepared statement: SQLite applies this pragma when it compiles it (1 µs the pair)
    db.exec('PRAGMA busy_timeout = 0');
    try {
      const deadline = performance.now() + busyTimeoutMs;
      let released = false;
      for (;;) {
        try {
          db.exec('BEGIN IMMEDIATE');
          return;
        } catch (err) {
          if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || performance.now() >= deadline) throw err;
          // The lock may be held on this thread, by another group commit on this file: its batch
          // is committed now (it would be at the end of this turn). A transaction of another
          // connection of this thread that is no batch (a demo loading across turns) cannot end
          // while this thread waits: fail now, not after the whole busy timeout.
          if (!released) {
            released = true;
            if (releaseSiblings()) continue;
          }
          if (siblingInTransaction()) throw err;
        }
        Atomics.wait(sleeper, 0, 0, BUSY_POLL_MS);
      }
    } finally {
      db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    }
  }

  /** Commits the open batches of the other group commits of this thread on this file; whether there were any. */
  function releaseSiblings(): boolean {
    let any = false;
    for (const ref of siblings ?? []) {
      const s = ref.deref();
      if (s === undefined || s === me || !s.db.open || !s.holds()) continue;
      s.flush();
      any = true;
    }
    return any;
  }

  function siblingInTransaction(): boolean {
    for (const ref of siblings ?? []) {
      const s = ref.deref();
      if (s !== undefined && s !== me && s.db.open && s.db.inTransaction) return true;
    }
    return false;
  }

  function flush(): void {
    const b = open;
    if (b === undefined) return;
    open = undefined;
    if (b.joins > maxJoins) maxJoins = b.joins;
    const t0 = performance.now();
    try {
      // A statement error that made SQLite roll back the whole transaction leaves none to commit.
      if (!db.inTransaction) throw new Error('the group-commit transaction was rolled back');
      db.exec('COMMIT');
    } catch (err) {
      failed++;
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // the connection may be closing
      }
      b.failed = true;
      for (const listener of rollbackListeners) {
        try {
          listener();
        } catch {
          // a listener must not break the others
        }
      }
      options.onError?.(err);
      b.reject(err);
      return;
    }
    const ms = performance.now() - t0;
    commitMs += ms;
    if (ms > maxCommitMs) maxCommitMs = ms;
    batches++;
    try {
      options.onCommitted?.();
    } catch {
      // it must not fail a committed batch
    }
    b.resolve();
    for (const hook of b.hooks) {
      try {
        hook();
      } catch {
        // a hook must not break the others
      }
    }
  }

  const me: Sibling = { db, holds: () => open !== undefined, flush };
  const siblings = enabled ? siblingsOf(db) : undefined;
  siblings?.add(new WeakRef(me));

  return {
    enabled,
    join() {
      if (!enabled) return;
      joins++;
      if (open !== undefined) {
        if (db.inTransaction) {
          open.joins++;
          return;
        }
        // SQLite rolled the whole transaction back (a statement's SQLITE_FULL or IOERR): the batch
        // is lost now, not at its COMMIT, and this write must not commit on its own in the
        // meantime while its answer waits on the lost batch. It fails, and a new batch opens.
        flush();
      }
      if (db.inTransaction) return; // a plain transaction (setup code) is running: it commits itself
      const t0 = performance.now();
      beginImmediate();
      const waited = performance.now() - t0;
      beginMs += waited;
      if (waited > maxBeginMs) maxBeginMs = waited;
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const committed = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      committed.catch(() => undefined); // waiters see the failure; nobody waiting is fine too
      open = { committed, failed: false, resolve, reject, hooks: [], joins: 1 };
      setImmediate(flush);
    },
    current: () => open,
    settled: () => open?.committed ?? RESOLVED,
    afterCommit(fn) {
      if (open === undefined) fn();
      else open.hooks.push(fn);
    },
    onRollback(fn) {
      rollbackListeners.push(fn);
    },
    flush,
    stats: () => ({ batches, failed, joins, maxJoins, commitMs, maxCommitMs, beginMs, maxBeginMs }),
  };
}
