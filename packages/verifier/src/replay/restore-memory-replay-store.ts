/**
 * Rebuilds a memory replay store from a snapshot (after a reboot).
 *
 * @module
 */
import { checkNow } from './check-args.js';
import {
  createMemoryReplayStore,
  type MemoryReplayStore,
  type MemoryReplayStoreOptions,
} from './memory-replay-store.js';
import { decodeReplaySnapshot, SNAPSHOT_ENTRY_BYTES } from './snapshot-format.js';

/** Options of {@link restoreMemoryReplayStore}: those of `createMemoryReplayStore`, plus `now`. */
export interface RestoreMemoryReplayStoreOptions extends MemoryReplayStoreOptions {
  /**
   * The current time, unix seconds: entries already expired at `now` are dropped. Default: keep every
   * entry of the snapshot (expired ones are then reclaimed lazily, but count towards `capacity` until then).
   */
  now?: number;
}

/**
 * Creates a store holding the entries of a snapshot made by `MemoryReplayStore.snapshot`. The capacity
 * may differ from the original store's. `onInsert` is not called for restored entries.
 *
 * Boot sequence: restore the last snapshot, then `replayJournal` the journal written since, then serve.
 *
 * @param bytes - the snapshot.
 * @throws `VerifierError` `ERR_REPLAY_SNAPSHOT_CORRUPT` for a truncated or corrupt snapshot;
 *   `RangeError` when the snapshot holds more entries than `capacity`.
 *
 * @example
 * ```ts
 * const store = restoreMemoryReplayStore(await readFile(path), { capacity: 1_000_000, now });
 * ```
 */
export function restoreMemoryReplayStore(
  bytes: Uint8Array,
  options: RestoreMemoryReplayStoreOptions,
): MemoryReplayStore {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('"bytes" must be a Uint8Array');
  if (typeof options !== 'object' || options === null) throw new TypeError('"options" must be an object');
  const { now, ...storeOptions } = options;
  if (now !== undefined) checkNow(now);
  const { count, entries } = decodeReplaySnapshot(bytes);
  const store = createMemoryReplayStore(storeOptions);
  const view = new DataView(entries.buffer, entries.byteOffset, entries.byteLength);
  const at = now ?? 0;
  for (let k = 0; k < count; k++) {
    const o = k * SNAPSHOT_ENTRY_BYTES;
    const expiresAt = view.getUint32(o + 16, true);
    if (expiresAt <= at) continue;
    store.restoreEntry(entries.subarray(o, o + 16), expiresAt, at);
  }
  return store;
}
