/**
 * An append-only journal of replay entries, so a reboot never reopens the replay window.
 *
 * Each record is {@link JOURNAL_RECORD_BYTES} bytes, all integers little-endian:
 *
 * | offset | size | field |
 * | --- | --- | --- |
 * | 0 | 4 | magic `"CCJ1"` |
 * | 4 | 16 | digest |
 * | 20 | 4 | `expiresAt` (u32, unix seconds) |
 * | 24 | 8 | checksum: SHA-256 of bytes 0..23, truncated to 8 bytes |
 *
 * **Durability rule: fsync the journal record BEFORE opening the gate.** Write the record from the
 * store's `onInsert` hook (synchronously: `fs.writeSync` + `fs.fsyncSync`, or your platform's
 * equivalent) or at least before the door is released. Otherwise a power cut right after a scan loses
 * the entry, and after the reboot the same code is accepted again while still inside its window.
 *
 * Typical life cycle: on boot `restoreMemoryReplayStore(snapshot)` + `replayJournal(journal)`, truncate
 * the journal to `validByteLength`, then append one record per fresh scan; from time to time write a new
 * snapshot (atomically: temp file + rename), then truncate the journal.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { VerifierError } from '../errors.js';
import { checkDigest, checkExpiresAt, checkNow, MAX_EXPIRES_AT } from './check-args.js';
import type { MemoryReplayStore } from './memory-replay-store.js';

/** Size of one journal record, bytes. */
export const JOURNAL_RECORD_BYTES = 32;
const MAGIC = [0x43, 0x43, 0x4a, 0x31]; // "CCJ1"
const SIGNED_BYTES = 24;

/**
 * Encodes one journal record for a digest recorded until `expiresAt`.
 *
 * @param digest - 16 bytes.
 * @param expiresAt - unix seconds, a whole number in `[1, 2^32 − 1]` (as passed to `onInsert`).
 * @returns {@link JOURNAL_RECORD_BYTES} bytes to append to the journal.
 *
 * @example
 * ```ts
 * const store = createMemoryReplayStore({
 *   capacity: 100_000,
 *   onInsert: (digest, expiresAt) => { writeSync(fd, encodeJournalRecord(digest, expiresAt)); fsyncSync(fd); },
 * });
 * ```
 */
export function encodeJournalRecord(digest: Uint8Array, expiresAt: number): Uint8Array {
  checkDigest(digest);
  if (typeof expiresAt !== 'number') throw new TypeError('"expiresAt" must be a number (unix seconds)');
  if (!Number.isInteger(expiresAt) || expiresAt < 1 || expiresAt > MAX_EXPIRES_AT) {
    throw new RangeError(`"expiresAt" must be an integer in [1, ${MAX_EXPIRES_AT}], got ${expiresAt}`);
  }
  const out = new Uint8Array(JOURNAL_RECORD_BYTES);
  out.set(MAGIC, 0);
  out.set(digest, 4);
  new DataView(out.buffer).setUint32(20, expiresAt, true);
  out.set(
    sha256(out.subarray(0, SIGNED_BYTES)).subarray(0, JOURNAL_RECORD_BYTES - SIGNED_BYTES),
    SIGNED_BYTES,
  );
  return out;
}

function recordIsValid(bytes: Uint8Array, o: number): boolean {
  for (let i = 0; i < MAGIC.length; i++) if (bytes[o + i] !== MAGIC[i]) return false;
  const sum = sha256(bytes.subarray(o, o + SIGNED_BYTES));
  for (let i = 0; i < JOURNAL_RECORD_BYTES - SIGNED_BYTES; i++) {
    if (bytes[o + SIGNED_BYTES + i] !== sum[i]) return false;
  }
  return true;
}

/** What {@link replayJournal} did. */
export interface ReplayJournalResult {
  /** Valid records read. */
  records: number;
  /** Records recorded in the store (the others had expired at `now`). */
  applied: number;
  /**
   * Length of the valid prefix, bytes (a multiple of {@link JOURNAL_RECORD_BYTES}). **Truncate the
   * journal file to this length before appending**, or a torn record would end up in the middle.
   */
  validByteLength: number;
  /** Bytes of the torn last record that were ignored (0 when the journal ended cleanly). */
  tornBytes: number;
  /**
   * The largest `expiresAt` among the valid records skipped as expired at `now` (unix seconds), or
   * 0 when none was skipped. A skipped record's code was used, and the store no longer knows it:
   * should the clock later read below this value (a boot clock that ran fast, corrected backwards),
   * that code would look fresh again. So refuse every code whose replay entry would expire at or
   * before this time as too old (the verifier raises its replay clock to it).
   */
  expiredUntil: number;
}

/**
 * Replays a journal into a store (after restoring the last snapshot), without calling `onInsert`.
 *
 * Only the last record may be damaged: a power cut during the final append leaves a partial record,
 * or a complete one with a bad checksum; it is ignored (that scan's gate never opened, given the fsync
 * rule in the module docs). Any bad record before the last one is corruption.
 *
 * @param bytes - the whole journal.
 * @param store - the store to fill.
 * @param now - unix seconds: records with `expiresAt <= now` are skipped; the latest such expiry is
 *   reported as `expiredUntil`, and a caller whose clock may later read earlier than `now` must refuse
 *   codes expiring by then (see {@link ReplayJournalResult.expiredUntil}).
 * @param storeClock - unix seconds, at most `now` (default `now`): the clock the store is told while
 *   the records go in, at which it may reclaim the entries it already holds (a restored snapshot's).
 *   Give a clock the window has vouched for (the latest `now` of an accepted scan) when `now` is a
 *   boot clock that may read fast: an entry the store dropped at a fast `now` would be forgotten for
 *   good, and its code accepted again once the clock is set back.
 * @throws `VerifierError` `ERR_REPLAY_JOURNAL_CORRUPT` for a bad record before the last one;
 *   `RangeError` when the store's capacity is too small.
 */
export function replayJournal(
  bytes: Uint8Array,
  store: MemoryReplayStore,
  now: number,
  storeClock: number = now,
): ReplayJournalResult {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('"bytes" must be a Uint8Array');
  if (typeof store !== 'object' || store === null || typeof store.restoreEntry !== 'function') {
    throw new TypeError('"store" must be a MemoryReplayStore');
  }
  checkNow(now);
  checkNow(storeClock);
  if (storeClock > now) throw new RangeError('"storeClock" must not be after "now"');
  const complete = Math.floor(bytes.length / JOURNAL_RECORD_BYTES);
  const partial = bytes.length % JOURNAL_RECORD_BYTES;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let records = 0;
  let applied = 0;
  let expiredUntil = 0;
  for (let k = 0; k < complete; k++) {
    const o = k * JOURNAL_RECORD_BYTES;
    if (!recordIsValid(bytes, o)) {
      if (k === complete - 1 && partial === 0) {
        return { records, applied, validByteLength: o, tornBytes: JOURNAL_RECORD_BYTES, expiredUntil };
      }
      throw new VerifierError(
        'ERR_REPLAY_JOURNAL_CORRUPT',
        `replay journal: record ${k} (offset ${o}) is corrupt and is not the last one`,
      );
    }
    records++;
    const expiresAt = view.getUint32(o + 20, true);
    if (expiresAt <= now) {
      if (expiresAt > expiredUntil) expiredUntil = expiresAt;
      continue;
    }
    checkExpiresAt(expiresAt, now);
    store.restoreEntry(bytes.subarray(o + 4, o + 20), expiresAt, storeClock);
    applied++;
  }
  return {
    records,
    applied,
    validByteLength: complete * JOURNAL_RECORD_BYTES,
    tornBytes: partial,
    expiredUntil,
  };
}
