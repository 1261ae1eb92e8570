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
  /**
   * `request` for an API call; `push_sent` when a webhook delivery attempt starts (before the
   * subscriber answers), and `push` when it is over, with its outcome (`status`). An attempt with a
   * `push_sent` line and no `push` line is in flight, or was cut short by closing the platform.
   */
  readonly kind: 'request' | 'push_sent' | 'push';
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
  /**
   * Entries dropped from memory (the file keeps them): the oldest ones, once `maxEntries` or
   * `maxBytes` was reached, and an entry that does not fit in `maxBytes` even as a stub.
   */
  readonly dropped: number;
  /** Bytes of the entries kept in memory, as {@link recordEntrySize} counts them. */
  readonly bytes: number;
  /**
   * Why the file stopped taking entries (a failed write, e.g. `ENOSPC`), if it did. The file ends
   * there; memory goes on recording.
   */
  readonly fileError: Error | undefined;
  /**
   * Entries left out of the file because the disk fell behind: while more than `fileBufferBytes`
   * of lines wait to be written, new entries go to memory only (the file skips them, whole lines).
   */
  readonly fileDropped: number;
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
  /** Keep entries in memory (default true), within `maxEntries` and `maxBytes` (oldest dropped first). */
  readonly memory?: boolean;
  /** Most entries kept in memory; default 10 000. */
  readonly maxEntries?: number;
  /**
   * Most bytes kept in memory, each entry counted by {@link recordEntrySize} (an estimate of its
   * memory); default {@link DEFAULT_RECORD_MEMORY_BYTES}
   * (32 MiB). The oldest entries are dropped to make room. An entry larger than this on its own is
   * kept as a stub: its long strings (over 1 024 characters) and its objects become `null`, with
   * `truncated: true` and `original_bytes`; a stub that still does not fit is dropped. The file, when
   * given, has every entry whole.
   */
  readonly maxBytes?: number;
  /**
   * Most bytes of lines waiting for a slow disk; default {@link DEFAULT_RECORD_FILE_BUFFER_BYTES}
   * (16 MiB). An entry recorded while more wait is left out of the file (counted in
   * `fileDropped`), so a disk slower than the requests costs bounded memory and never blocks.
   */
  readonly fileBufferBytes?: number;
}

/** Default {@link RecorderOptions.fileBufferBytes}: 16 MiB. */
export const DEFAULT_RECORD_FILE_BUFFER_BYTES = 16 * 1024 * 1024;

/** Default of the recorder's `maxBytes` (`recordMemoryBytes` of a platform): 32 MiB. */
export const DEFAULT_RECORD_MEMORY_BYTES = 32 * 1024 * 1024;

/** Longest string an over-large entry keeps in its in-memory stub, in characters. */
const STUB_STRING_MAX = 1024;

/** The stub of an entry too large for memory: its scalars and short strings, the rest `null`. */
function stubOf(entry: RecordEntry, originalBytes: number): RecordEntry {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) {
    const short =
      v === null ||
      typeof v === 'number' ||
      typeof v === 'boolean' ||
      (typeof v === 'string' && v.length <= STUB_STRING_MAX);
    out[k] = short ? v : null;
  }
  return { ...out, kind: entry.kind, at: entry.at, truncated: true, original_bytes: originalBytes };
}

/**
 * The memory an entry is counted for by the recorder's `maxBytes`, in bytes: an estimate
 * (a JSON line of it would take the time of a request's work, recorded on every request), 2 bytes
 * for each character of its keys and strings (V8's two-byte strings; one-byte ones take half) and
 * 16 for each field, a nested object counted as its JSON text.
 */
export function recordEntrySize(entry: RecordEntry): number {
  let size = 16;
  for (const k in entry) {
    const v = entry[k];
    size += 16 + k.length * 2;
    if (typeof v === 'string') size += v.length * 2;
    else if (typeof v === 'object' && v !== null) size += (JSON.stringify(v)?.length ?? 0) * 2;
  }
  return size;
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
 * Creates a recorder. Entries kept in memory live in a ring (of at most `maxEntries` slots, grown
 * as needed), so recording costs the same with the ring full as empty (no array shifting per
 * request); dropping the oldest entries to stay within `maxBytes` is as cheap.
 */
export function createRecorder(options: RecorderOptions = {}): Recorder {
  const keep = options.memory !== false;
  const max = options.maxEntries ?? 10_000;
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('"maxEntries" must be a positive integer');
  const maxBytes = options.maxBytes ?? DEFAULT_RECORD_MEMORY_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
    throw new RangeError('"maxBytes" must be a positive integer');
  const fileBufferBytes = options.fileBufferBytes ?? DEFAULT_RECORD_FILE_BUFFER_BYTES;
  if (!Number.isSafeInteger(fileBufferBytes) || fileBufferBytes < 1)
    throw new RangeError('"fileBufferBytes" must be a positive integer');
  // the ring: `count` entries from `head`, wrapping around; `sizes` holds each one's bytes
  let ring: (RecordEntry | undefined)[] = [];
  let sizes: number[] = [];
  let head = 0;
  let count = 0;
  let bytes = 0;
  let dropped = 0;
  const dropOldest = (): void => {
    bytes -= sizes[head] as number;
    ring[head] = undefined;
    head = head + 1 === ring.length ? 0 : head + 1;
    count--;
    dropped++;
  };
  const keepEntry = (entry: RecordEntry, size: number): void => {
    while (count > 0 && (count >= max || bytes + size > maxBytes)) dropOldest();
    if (count === ring.length) {
      // full at this capacity (and under `max`): grow, oldest first from slot 0
      const capacity = Math.min(max, Math.max(16, ring.length * 2));
      const grown: (RecordEntry | undefined)[] = new Array(capacity);
      const grownSizes: number[] = new Array(capacity).fill(0);
      for (let i = 0; i < count; i++) {
        const at = (head + i) % ring.length;
        grown[i] = ring[at];
        grownSizes[i] = sizes[at] as number;
      }
      ring = grown;
      sizes = grownSizes;
      head = 0;
    }
    const at = (head + count) % ring.length;
    ring[at] = entry;
    sizes[at] = size;
    count++;
    bytes += size;
  };
  let stream: WriteStream | undefined;
  let fileError: Error | undefined;
  let fileDropped = 0;
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
  const ordered = (): RecordEntry[] => {
    const out: RecordEntry[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = ring[(head + i) % ring.length] as RecordEntry;
    return out;
  };
  return {
    get entries() {
      return ordered();
    },
    get dropped() {
      return dropped;
    },
    get bytes() {
      return bytes;
    },
    get fileError() {
      return fileError;
    },
    get fileDropped() {
      return fileDropped;
    },
    record(entry) {
      if (keep) {
        const size = recordEntrySize(entry);
        if (size <= maxBytes) keepEntry(entry, size);
        else {
          // larger than the whole bound: evicting everything would not make room for it
          const stub = stubOf(entry, size);
          const stubSize = recordEntrySize(stub);
          if (stubSize <= maxBytes) keepEntry(stub, stubSize);
          else dropped++;
        }
      }
      if (stream === undefined) return;
      // `write` only queues when the disk is behind: past the bound, the file skips the entry
      // (memory still has it) until the queue drains, instead of queueing without end
      if (stream.writableLength >= fileBufferBytes) {
        if (fileDropped++ === 0) {
          console.warn(
            `[campus-card-mock] the recording file ${options.file} falls behind (over ${fileBufferBytes} bytes waiting): entries are left out of it until it catches up (recorder.fileDropped)`,
          );
        }
        return;
      }
      stream.write(`${JSON.stringify(entry)}\n`);
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
