/**
 * Recording of every request and every push as JSON lines, for conformance checks.
 *
 * @module
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

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
  /** The in-memory entries (when kept). */
  readonly entries: RecordEntry[];
  /** The entries as JSON lines. */
  toJsonLines(): string;
  /** Flushes and closes the file, if any. */
  close(): Promise<void>;
}

/** Options of {@link createRecorder}. */
export interface RecorderOptions {
  /** Append JSON lines to this file. */
  readonly file?: string;
  /** Keep entries in memory (default true), at most `maxEntries` (default 100 000; oldest dropped). */
  readonly memory?: boolean;
  readonly maxEntries?: number;
}

/** Creates a recorder. */
export function createRecorder(options: RecorderOptions = {}): Recorder {
  const entries: RecordEntry[] = [];
  const keep = options.memory !== false;
  const max = options.maxEntries ?? 100_000;
  let stream: WriteStream | undefined;
  if (options.file !== undefined) {
    mkdirSync(dirname(options.file), { recursive: true });
    stream = createWriteStream(options.file, { flags: 'a' });
  }
  return {
    entries,
    record(entry) {
      if (keep) {
        entries.push(entry);
        if (entries.length > max) entries.splice(0, entries.length - max);
      }
      stream?.write(`${JSON.stringify(entry)}\n`);
    },
    toJsonLines: () => entries.map((e) => `${JSON.stringify(e)}\n`).join(''),
    close: () =>
      new Promise<void>((resolve) => {
        if (stream === undefined) resolve();
        else stream.end(() => resolve());
      }),
  };
}
