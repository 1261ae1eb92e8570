/**
 * A durable replay journal on disk for the verifier a gate embeds (issue 3 §2: "a power cut must
 * not reopen the window").
 *
 * @module
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import {
  encodeJournalRecord,
  isVerifierError,
  JOURNAL_RECORD_BYTES,
  type Verifier,
} from '@campus-card/verifier';
import { fsyncDirSync, mkdirDurableSync } from './lib/fs-atomic.js';

/** A replay journal, opened by {@link openReplayJournalFile}. */
export interface ReplayJournalFile {
  /** The base path; the journal is the files `<path>.<generation>`. */
  readonly path: string;
  /**
   * Pass this as the verifier's `onReplayRecord` option: it appends the record and fsyncs it
   * synchronously, before the verifier returns the acceptance (so before the door opens). A write
   * that fails part-way (disk full) is cut off again before the error is thrown, so that the next
   * record does not land behind a partial one.
   */
  readonly onReplayRecord: (digest: Uint8Array, expiresAt: number) => void;
  /**
   * Reads every generation back into `verifier` (after its snapshot was restored), oldest first, and
   * cuts a torn last record off. Returns the number of records applied.
   *
   * @throws the verifier's `ERR_REPLAY_JOURNAL_CORRUPT` when a generation is damaged before its last
   *   record, after every intact record of every generation (those after the damage too) was
   *   applied: the damaged records' codes are the only ones forgotten.
   */
  restoreInto(verifier: Verifier, now: number): number;
  /**
   * Starts a new generation. Call it in the same synchronous step as `verifier.snapshot()`; once
   * that snapshot is safely stored, call the returned function to delete the older generations.
   */
  rotate(): () => void;
  /** Closes the current file. */
  close(): void;
}

/**
 * Applies the intact records of a damaged journal one by one, resynchronising byte by byte after
 * damage (a record cut short by an older writer shifts the ones after it). Returns the count.
 */
function salvage(verifier: Verifier, bytes: Uint8Array, now: number): number {
  let applied = 0;
  for (let o = 0; o + JOURNAL_RECORD_BYTES <= bytes.length; ) {
    const r = verifier.replayJournal(bytes.subarray(o, o + JOURNAL_RECORD_BYTES), { now });
    if (r.records === 1) {
      applied += r.applied;
      o += JOURNAL_RECORD_BYTES;
    } else o += 1;
  }
  return applied;
}

/**
 * Opens (creating it and its directory if needed) the replay journal at `path` (files
 * `<path>.<generation>`).
 *
 * @example
 * ```ts
 * const journal = openReplayJournalFile(join(dataDir, 'replay.journal'));
 * const verifier = createVerifier({ rootKeys, onReplayRecord: journal.onReplayRecord });
 * const gate = await createGateClient({ ..., verifier, dataDir, replayJournal: journal });
 * ```
 */
export function openReplayJournalFile(path: string): ReplayJournalFile {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  mkdirDurableSync(dir);
  const generations = (): number[] =>
    readdirSync(dir)
      .filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)))
      .map((f) => Number(f.slice(prefix.length)))
      .sort((a, b) => a - b);
  let gen = generations().at(-1) ?? 0;
  let fd = -1;
  /** Bytes of whole records in the current generation. */
  let size = 0;
  /** The current file could not be cut back after a failed write: the next record starts a new one. */
  let damaged = false;
  let closed = false;
  const openGeneration = (g: number): void => {
    const file = `${path}.${g}`;
    const created = !existsSync(file);
    fd = openSync(file, 'a+', 0o600);
    size = fstatSync(fd).size;
    damaged = false;
    // the new file's name must survive a power cut as its records do: a journal generation lost
    // whole would go unnoticed at the next start
    if (created) fsyncDirSync(dir);
  };
  openGeneration(gen);
  return {
    path,
    onReplayRecord(digest, expiresAt) {
      const record = encodeJournalRecord(digest, expiresAt);
      if (closed) throw new Error(`replay journal ${path} is closed`);
      if (damaged) {
        closeSync(fd);
        fd = -1;
        gen += 1;
      }
      // (no file after a rotation that could not create one: this record tries again)
      if (fd < 0) openGeneration(gen);
      try {
        for (let done = 0; done < record.length; ) done += writeSync(fd, record, done);
        fsyncSync(fd);
      } catch (err) {
        try {
          ftruncateSync(fd, size);
        } catch {
          damaged = true;
        }
        throw err;
      }
      size += record.length;
    },
    restoreInto(verifier, now) {
      let applied = 0;
      let corrupt: unknown;
      for (const g of generations()) {
        const file = `${path}.${g}`;
        const bytes = new Uint8Array(readFileSync(file));
        let r: ReturnType<Verifier['replayJournal']>;
        try {
          r = verifier.replayJournal(bytes, { now });
        } catch (err) {
          if (!isVerifierError(err, 'ERR_REPLAY_JOURNAL_CORRUPT')) throw err;
          corrupt ??= err;
          // records already applied are applied again: the window holds each digest once
          applied += salvage(verifier, bytes, now);
          continue;
        }
        applied += r.applied;
        if (r.validByteLength !== bytes.length) {
          const f = g === gen && fd >= 0 ? fd : openSync(file, 'r+');
          ftruncateSync(f, r.validByteLength);
          fsyncSync(f);
          if (f !== fd) closeSync(f);
          else size = r.validByteLength;
        }
      }
      if (corrupt !== undefined) throw corrupt;
      return applied;
    },
    rotate() {
      if (closed) throw new Error(`replay journal ${path} is closed`);
      const old = gen;
      if (fd >= 0) closeSync(fd);
      // the closed descriptor is never used again, even when the next file cannot be created (a
      // full disk): its number goes to the next file the process opens, which a record would corrupt
      fd = -1;
      gen += 1;
      openGeneration(gen);
      return () => {
        for (const g of generations()) if (g <= old) rmSync(join(dir, `${prefix}${g}`), { force: true });
      };
    },
    close() {
      closed = true;
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}
