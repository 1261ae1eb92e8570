/**
 * WAL checkpoints off the main thread. SQLite's automatic checkpoint runs inside the COMMIT
 * that crosses the threshold, on the event loop. It copies pages into the database file and
 * fsyncs, and that stalls every request for tens of milliseconds. So the main connection sets
 * `wal_autocheckpoint = 0`. A worker thread with its own connection runs
 * `PRAGMA wal_checkpoint(PASSIVE)` every `intervalMs`. A PASSIVE checkpoint never takes the
 * writer's lock and never waits, so the main thread is not blocked. When a checkpoint has
 * caught up, the writer's next transaction starts the WAL over from the beginning.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** A running checkpointer. */
export interface Checkpointer {
  /** Stops the worker after one last PASSIVE checkpoint. */
  close(): Promise<void>;
}

/** Options of {@link startCheckpointer}. */
export interface CheckpointerOptions {
  /** Checkpoint period, ms. Default 250. */
  readonly intervalMs?: number;
}

// Plain CommonJS for an `eval` worker: the module graph of the app is not loaded in the worker
// (it may be TypeScript source under vitest, or a bundle), only better-sqlite3 by absolute path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
let timer;
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {} };
const tick = () => { checkpoint(); timer = setTimeout(tick, workerData.intervalMs); };
timer = setTimeout(tick, workerData.intervalMs);
parentPort.on('message', (m) => {
  if (m !== 'stop') return;
  clearTimeout(timer);
  checkpoint();
  db.close();
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
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, driver, intervalMs: options.intervalMs ?? 250 },
  });
  worker.unref();
  worker.on('error', () => undefined);
  let closing: Promise<void> | undefined;
  return {
    close() {
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
