/**
 * Recording of every request and every push as JSON lines, for conformance checks.
 *
 * @module
 */
import {
  closeSync,
  createWriteStream,
  fstatSync,
  openSync,
  readSync,
  type WriteStream,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { ensureDir } from './ensure-dir.js';

/** One recorded line. */
export interface RecordEntry {
  /** `request` for an API call, `push` for a webhook delivery attempt. */
  readonly kind: 'request' | 'push';
  /** Virtual time, RFC 3339. */
  readonly at: string;
  readonly [field: string]: unknown;
}

/** Where recordings go. */
export interface Recorder {
  /** Appends an entry. */
  record(entry: RecordEntry): void;
  /** The in-memory entries (when kept), oldest first: a fresh array on each read. */
  readonly entries: RecordEntry[];
  /** Entries dropped from memory because `maxEntries` was reached. */
  readonly dropped: number;
  /**
   * Why the file stopped taking entries (a failed write, e.g. `ENOSPC`), if it did. The file ends
   * there; memory goes on recording.
   */
  readonly fileError: Error | undefined;
  /** The entries as JSON lines. */
  toJsonLines(): string;
  /** Flushes and closes the file, if any. */
  close(): Promise<void>;
}

/** Options of {@link createRecorder}. */
export interface RecorderOptions {
  /**
   * Append JSON lines to this file (its folder is created). It is opened at once, so a path that
   * cannot be written throws here (the error of `open`, e.g. `EISDIR`, `EACCES`).
   */
  readonly file?: string;
  /** Keep entries in memory (default true), at most `maxEntries` (default 10 000; oldest dropped). */
  readonly memory?: boolean;
  readonly maxEntries?: number;
}

/**
 * Opens `file` for appending. A file whose last line was cut short (a process killed in the middle of a write, a disk that
 * filled up) gets a newline first: the entries appended after it are whole lines, and only the cut
 * line is not JSON.
 */
function openAppending(file: string): number {
  let fd: number;
  try {
    fd = openSync(file, 'a+');
  } catch (error) {
    // a file this process may write but not read: appended to as it is
    if ((error as NodeJS.ErrnoException).code === 'EACCES') return openSync(file, 'a');
    throw error;
  }
  try {
    const size = fstatSync(fd).size;
    const last = Buffer.alloc(1);
    if (size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) writeSync(fd, '\n');
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/**
 * Creates a recorder. Entries kept in memory live in a ring of `maxEntries` slots, so recording
 * costs the same with the ring full as empty (no array shifting per request).
 */
export function createRecorder(options: RecorderOptions = {}): Recorder {
  const keep = options.memory !== false;
  const max = options.maxEntries ?? 10_000;
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('"maxEntries" must be a positive integer');
  const ring: RecordEntry[] = [];
  let next = 0; // where the next entry goes once the ring is full (its oldest entry)
  let dropped = 0;
  let stream: WriteStream | undefined;
  let fileError: Error | undefined;
  if (options.file !== undefined) {
    const file = options.file;
    // (not mkdirSync's recursive mode: it spins for ever under a parent that refuses new entries)
    ensureDir(dirname(file));
    // opened here, not in the background: an 'error' of the stream with no listener is uncaught
    const fd = openAppending(file);
    const s = createWriteStream(file, { fd, flags: 'a' });
    s.on('error', (error) => {
      // a failed write (disk full) stops the file, never the process
      if (fileError !== undefined) return;
      fileError = error;
      if (stream === s) stream = undefined;
      s.destroy();
      console.warn(`[campus-card-mock] the recording file ${file} stopped taking entries:`, error.message);
    });
    stream = s;
  }
  const ordered = (): RecordEntry[] =>
    ring.length < max ? ring.slice() : [...ring.slice(next), ...ring.slice(0, next)];
  return {
    get entries() {
      return ordered();
    },
    get dropped() {
      return dropped;
    },
    get fileError() {
      return fileError;
    },
    record(entry) {
      if (keep) {
        if (ring.length < max) ring.push(entry);
        else {
          ring[next] = entry;
          next = next + 1 === max ? 0 : next + 1;
          dropped++;
        }
      }
      stream?.write(`${JSON.stringify(entry)}\n`);
    },
    toJsonLines: () =>
      ordered()
        .map((e) => `${JSON.stringify(e)}\n`)
        .join(''),
    close: () =>
      new Promise<void>((resolve) => {
        const s = stream;
        stream = undefined; // entries recorded after close stay in memory only
        if (s === undefined) resolve();
        else s.end(() => resolve());
      }),
  };
}
