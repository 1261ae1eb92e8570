/**
 * WAL checkpoints off the main thread. SQLite's automatic checkpoint runs inside the COMMIT
 * that crosses the threshold, on the event loop. It copies pages into the database file and
 * fsyncs, and that stalls every request for tens of milliseconds. So the main connection sets
 * `wal_autocheckpoint = 0`. A worker thread with its own connection runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`. A PASSIVE checkpoint never takes the
 * writer's lock and never waits, so the main thread is not blocked. When a checkpoint has
 * caught up, the writer's next transaction starts the WAL over from the beginning.
 *
 * Under constant load a PASSIVE checkpoint never quite catches up, because new frames arrive
 * while it copies, so the WAL would grow without bound. Once the WAL holds more than
 * `restartFrames` frames, the worker runs a second PASSIVE checkpoint at once (it copies what came
 * in during the first) and fsyncs the database file, and then asks the writer to catch up: the
 * writer's connection, right after its next COMMIT ({@link Checkpointer.afterCommit}), with no
 * transaction open, checkpoints the short tail itself (PASSIVE: 100 – 500 frames and two fsyncs,
 * 4 – 10 ms on the bench's VM). With no frame left behind, its next transaction starts the WAL
 * over from its beginning. (Waiting for a PASSIVE checkpoint of the worker's to catch up does not
 * work: the group commit's transaction is open most of the time, and its frames always come after.)
 *
 * The fsync matters: a PASSIVE checkpoint fsyncs the database file only when it reached the WAL's
 * end, which under load it never does, so the pages copied since the last restart stay dirty in
 * the page cache, and the checkpoint that catches up would flush them all (10 – 30 ms).
 *
 * The worker used to run `wal_checkpoint(RESTART)` instead. That holds back every write
 * transaction while it copies the tail, fsyncs twice and waits for readers (its busy handler
 * sleeps 1, 2, 5, 10 ms…): the event loop's next `BEGIN IMMEDIATE` waited 15 – 28 ms, about once a
 * second at 2 000 payments/s. It is still the fallback, when the writer has not caught up by the
 * time the WAL holds twice `restartFrames` (a writer that does not call `afterCommit`, e.g. with
 * group commit off). The WAL starts over in the same file: the platform sets `journal_size_limit`
 * to twice the restart size ({@link walSizeLimitBytes}), so the file is not truncated and grown
 * again at every restart, which cost the first COMMIT after it 6 – 13 ms.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { Db } from './db.js';

/** A running checkpointer. */
export interface Checkpointer {
  /**
   * To be called by the writer right after each COMMIT, with no transaction open, on the
   * connection that writes. When the worker has asked for it (the WAL is past `restartFrames` and
   * the worker's own checkpoints have copied all but a short tail), it checkpoints that tail on
   * `db` (PASSIVE), so that `db`'s next write transaction starts the WAL over. Otherwise it costs
   * one atomic load. It never throws.
   */
  afterCommit(db: Db): void;
  /** What the writer and the worker did to keep the WAL bounded. */
  stats(): CheckpointerStats;
  /** Stops the worker after one last PASSIVE checkpoint. */
  close(): Promise<void>;
}

/** Counters of the platform's WAL checkpointer (`MockPlatform.checkpointStats()`). */
export interface CheckpointerStats {
  /** Tails the writer checkpointed right after a `COMMIT` (each lets the WAL start over). */
  readonly catchUps: number;
  /** Total time those took on the writer's thread, ms. */
  readonly catchUpMs: number;
  /** The longest of them, ms. */
  readonly maxCatchUpMs: number;
  /** RESTART checkpoints the worker fell back to (each holds back writers while it runs). */
  readonly restarts: number;
  /**
   * Whether the worker is asking the writer to catch up right now (the WAL is past
   * `restartFrames`): the writer checkpoints after its next `COMMIT`.
   */
  readonly asking: boolean;
}

/** Options of {@link startCheckpointer}. */
export interface CheckpointerOptions {
  /** Checkpoint period, ms. Default 250. */
  readonly intervalMs?: number;
  /** WAL frames (pages) above which a RESTART checkpoint rewinds the WAL. Default {@link DEFAULT_RESTART_FRAMES}. */
  readonly restartFrames?: number;
  /**
   * Called once if the worker cannot run (it failed to start, to load better-sqlite3 or to open
   * the file) or dies before `close()`. The caller should then hand checkpoints back to SQLite
   * (`wal_autocheckpoint`), or the WAL grows without bound.
   */
  readonly onFailure?: (error: unknown) => void;
}

/** Default {@link CheckpointerOptions.restartFrames}: 16 384 frames, 64 MiB of 4 KiB pages. */
export const DEFAULT_RESTART_FRAMES = 16_384;

/**
 * The `journal_size_limit` to set with a checkpointer: twice the WAL's size at a restart
 * (`restartFrames` frames of `pageSize` bytes plus their 24-byte headers), in bytes. The WAL file
 * then keeps its size from one restart to the next, and is truncated only after it grew past it
 * (a large transaction while the checkpointer lagged).
 */
export function walSizeLimitBytes(pageSize: number, restartFrames = DEFAULT_RESTART_FRAMES): number {
  return 2 * (32 + restartFrames * (pageSize + 24));
}

/**
 * The better-sqlite3 entry file for the worker: resolved from this module, else from the working
 * directory (a bundle copied elsewhere, e.g. a temporary folder, cannot resolve it from its own
 * location). `undefined` when neither finds it.
 */
function resolveDriver(): string | undefined {
  for (const from of [import.meta.url, `${process.cwd()}/`]) {
    try {
      return createRequire(from).resolve('better-sqlite3');
    } catch {
      // try the next place
    }
  }
  return undefined;
}

// Plain CommonJS for an `eval` worker: the module graph of the app is not loaded in the worker
// (it may be TypeScript source under vitest, or a bundle), only better-sqlite3 by absolute path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { closeSync, fsyncSync, openSync } = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 2000');
const dbFd = openSync(workerData.path, 'r');
// [0]: 1 while the writer is asked to checkpoint the tail; [1]: RESTART checkpoints run
const ctl = new Int32Array(workerData.ctl);
let timer;
const checkpoint = () => {
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (r && r.log > workerData.restartFrames) {
      // copy what came in during that checkpoint too: the tail left to the writer is then short
      db.pragma('wal_checkpoint(PASSIVE)');
      // what the checkpoints copied is still dirty in the page cache: flush it here, not in the
      // writer's catch-up (see the module comment)
      fsyncSync(dbFd);
      if (r.log <= 2 * workerData.restartFrames) {
        Atomics.store(ctl, 0, 1);
      } else {
        // the writer did not catch up: rewind the WAL here, holding back writers meanwhile
        db.pragma('wal_checkpoint(RESTART)');
        Atomics.add(ctl, 1, 1);
      }
    } else {
      Atomics.store(ctl, 0, 0);
    }
  } catch {}
};
const tick = () => { checkpoint(); timer = setTimeout(tick, workerData.intervalMs); };
timer = setTimeout(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearTimeout(timer);
  checkpoint();
  db.close();
  closeSync(dbFd);
  parentPort.postMessage('stopped');
  parentPort.close();
});
`;

/**
 * Starts the checkpoint worker for the database file at `path` (not for `:memory:`).
 *
 * @example
 * ```ts
 * db.pragma('wal_autocheckpoint = 0');
 * const cp = startCheckpointer('.campus-card-mock/platform.db');
 * // …
 * await cp.close();
 * ```
 */
export function startCheckpointer(path: string, options: CheckpointerOptions = {}): Checkpointer {
  let failed = false;
  let closing: Promise<void> | undefined;
  const fail = (error: unknown): void => {
    if (failed || closing !== undefined) return;
    failed = true;
    options.onFailure?.(error);
  };
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  let catchUps = 0;
  let catchUpMs = 0;
  let maxCatchUpMs = 0;
  const stats = (): CheckpointerStats => ({
    catchUps,
    catchUpMs,
    maxCatchUpMs,
    restarts: Atomics.load(ctl, 1),
    asking: Atomics.load(ctl, 0) === 1,
  });
  const inert: Checkpointer = { afterCommit: () => undefined, stats, close: () => Promise.resolve() };
  const driver = resolveDriver();
  if (driver === undefined) {
    fail(new Error('better-sqlite3 cannot be resolved for the checkpoint worker'));
    return inert;
  }
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path,
        driver,
        ctl: ctl.buffer,
        intervalMs: options.intervalMs ?? 250,
        restartFrames: options.restartFrames ?? DEFAULT_RESTART_FRAMES,
      },
    });
  } catch (error) {
    fail(error);
    return inert;
  }
  worker.unref();
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`checkpoint worker exited with code ${code}`)));
  return {
    afterCommit(db) {
      if (Atomics.load(ctl, 0) === 0 || db.inTransaction) return;
      const t0 = performance.now();
      try {
        const [r] = db.pragma('wal_checkpoint(PASSIVE)') as {
          busy: number;
          log: number;
          checkpointed: number;
        }[];
        // busy: the worker is checkpointing right now; the next COMMIT tries again
        if (r !== undefined && r.busy === 0 && r.checkpointed === r.log) {
          Atomics.store(ctl, 0, 0);
          catchUps++;
        }
      } catch {
        // (a closing connection) the worker's RESTART remains the fallback
      }
      const ms = performance.now() - t0;
      catchUpMs += ms;
      if (ms > maxCatchUpMs) maxCatchUpMs = ms;
    },
    stats,
    close() {
      if (failed) return Promise.resolve();
      closing ??= new Promise<void>((resolve) => {
        const done = () => resolve();
        worker.once('exit', done);
        worker.once('message', () => void worker.terminate().then(done, done));
        worker.postMessage('stop');
      });
      return closing;
    },
  };
}
