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
 * checkpoints have already copied almost everything (a second PASSIVE copies what came in during
 * the first), so this one copies only a short tail. While it runs it holds back new write
 * transactions: the main thread's next `BEGIN IMMEDIATE` waits for 5 – 15 ms (lib/group-commit.ts
 * polls for the lock every 0.2 ms). Then the WAL starts over from its beginning, in the same file:
 * the platform sets `journal_size_limit` to twice the restart size ({@link walSizeLimitBytes}), so
 * the file is not truncated and grown again at every restart, which cost the first COMMIT after it
 * 6 – 13 ms.
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
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 2000');
let timer;
const checkpoint = () => {
  try {
    const r = db.pragma('wal_checkpoint(PASSIVE)')[0];
    if (r && r.log > workerData.restartFrames) {
      // copy what came in during that checkpoint first, without the lock: RESTART holds back
      // writers while it copies its tail and fsyncs, so the shorter the tail, the shorter the wait
      db.pragma('wal_checkpoint(PASSIVE)');
      db.pragma('wal_checkpoint(RESTART)');
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
  const driver = resolveDriver();
  if (driver === undefined) {
    fail(new Error('better-sqlite3 cannot be resolved for the checkpoint worker'));
    return { close: () => Promise.resolve() };
  }
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        path,
        driver,
        intervalMs: options.intervalMs ?? 250,
        restartFrames: options.restartFrames ?? DEFAULT_RESTART_FRAMES,
      },
    });
  } catch (error) {
    fail(error);
    return { close: () => Promise.resolve() };
  }
  worker.unref();
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`checkpoint worker exited with code ${code}`)));
  return {
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
