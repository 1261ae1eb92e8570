/**
 * A durable replay journal on disk for the verifier a gate embeds (issue 3 §2: "a power cut must
 * not reopen the window").
 *
 * @module
 */
import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { encodeJournalRecord, type Verifier } from '@campus-card/verifier';

/** A replay journal, opened by {@link openReplayJournalFile}. */
export interface ReplayJournalFile {
  /** The base path; the journal is the files `<path>.<generation>`. */
  readonly path: string;
  /**
   * Pass this as the verifier's `onReplayRecord` option: it appends the record and fsyncs it
   * synchronously, before the verifier returns the acceptance (so before the door opens).
   */
  readonly onReplayRecord: (digest: Uint8Array, expiresAt: number) => void;
  /**
   * Reads every generation back into `verifier` (after its snapshot was restored), oldest first, and
   * cuts a torn last record off. Returns the number of records applied.
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
 * Opens (creating if needed) the replay journal at `path` (files `<path>.<generation>`).
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
  const generations = (): number[] =>
    readdirSync(dir)
      .filter((f) => f.startsWith(prefix) && /^\d+$/.test(f.slice(prefix.length)))
      .map((f) => Number(f.slice(prefix.length)))
      .sort((a, b) => a - b);
  let gen = generations().at(-1) ?? 0;
  let fd = openSync(`${path}.${gen}`, 'a+');
  return {
    path,
    onReplayRecord(digest, expiresAt) {
      writeSync(fd, encodeJournalRecord(digest, expiresAt));
      fsyncSync(fd);
    },
    restoreInto(verifier, now) {
      let applied = 0;
      for (const g of generations()) {
        const file = `${path}.${g}`;
        const bytes = new Uint8Array(readFileSync(file));
        const r = verifier.replayJournal(bytes, { now });
        applied += r.applied;
        if (r.validByteLength !== bytes.length) {
          const f = g === gen ? fd : openSync(file, 'r+');
          ftruncateSync(f, r.validByteLength);
          fsyncSync(f);
          if (f !== fd) closeSync(f);
        }
      }
      return applied;
    },
    rotate() {
      const old = gen;
      closeSync(fd);
      gen += 1;
      fd = openSync(`${path}.${gen}`, 'a+');
      return () => {
        for (const g of generations()) if (g <= old) rmSync(join(dir, `${prefix}${g}`), { force: true });
      };
    },
    close() {
      if (fd >= 0) closeSync(fd);
      fd = -1;
    },
  };
}
