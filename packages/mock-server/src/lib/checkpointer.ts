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
 * `restartFrames` frames, the worker runs one `wal_checkpoint(RESTART)`. By then the PASSIVE
 * checkpoints have already copied almost everything, so this one copies only the tail. While
 * it runs it holds back new write transactions: the main thread's next `BEGIN IMMEDIATE` waits
 * in the busy handler for a few milliseconds. Then the WAL starts over, and `journal_size_limit`
 * truncates the file.
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
  /** WAL frames (pages) above which a RESTART checkpoint rewinds the WAL. Default 16 384 (64 MiB of 4 KiB pages). */
  readonly restartFrames?: number;
}

// Plain CommonJS for an `eval` worker: the module graph of the app is not loaded in the worker
// (it may be TypeScript source under vitest, or a bundle), only better-sqlite3 by absolute path.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 2000');
let timer;
const checkpoint = () => {
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (r && r.log > workerData.restartFrames) db.pragma('wal_checkpoint(RESTART)');
  } catch {}
};
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
    workerData: {
      path,
      driver,
      intervalMs: options.intervalMs ?? 250,
      restartFrames: options.restartFrames ?? 16_384,
    },
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
