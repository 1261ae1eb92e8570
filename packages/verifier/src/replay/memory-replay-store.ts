/**
 * An in-process replay window: a fixed-capacity open-addressing hash table in one `Int32Array`,
 * with a one-byte tag per slot beside it.
 *
 * @module
 */
import { checkDigest, checkExpiresAt, checkNow } from './check-args.js';
import type { ReplayOutcome, ReplayStore } from './replay-store.js';
import { encodeReplaySnapshot, SNAPSHOT_ENTRY_BYTES } from './snapshot-format.js';

/** Largest `capacity` accepted: 2^26 entries (about 1.57 GB of table). */
export const MAX_MEMORY_REPLAY_CAPACITY = 2 ** 26;

/**
 * Table slots per entry of capacity: slot count = `ceil(capacity / 0.9)` (load factor at most 0.9). A
 * probe reads tags, 64 to a cache line, so the long runs of a full table cost little.
 */
const LOAD_FACTOR = 0.9;
/** Slots the background sweep examines on each `checkAndInsert`, reclaiming the expired ones. */
const SWEEP_STEP = 8;

/**
 * Called synchronously after a digest is recorded as fresh, before `checkAndInsert` returns.
 * Use it to append `encodeJournalRecord(digest, expiresAt)` to a journal and fsync it.
 *
 * If the hook throws, the entry stays recorded in memory (fail closed), the error propagates out of
 * `checkAndInsert`, and the verifier must deny.
 *
 * @param digest - the caller's 16-byte digest (do not keep a reference; copy it if needed).
 * @param expiresAt - the expiry as stored: `Math.ceil(expiresAt)`, unix seconds.
 */
export type ReplayInsertHook = (digest: Uint8Array, expiresAt: number) => void;

/** Options of {@link createMemoryReplayStore}. */
export interface MemoryReplayStoreOptions {
  /**
   * Most entries held at once, live or expired-but-not-yet-reclaimed. Integer, 1 to
   * {@link MAX_MEMORY_REPLAY_CAPACITY}. Size it as peak scans per second × window seconds, with margin.
   * The table is allocated up front: about 23.3 bytes per entry of capacity.
   */
  capacity: number;
  /** Journal hook, see {@link ReplayInsertHook}. Default: none. */
  onInsert?: ReplayInsertHook;
}

/** The in-memory {@link ReplayStore} returned by {@link createMemoryReplayStore}. */
export interface MemoryReplayStore extends ReplayStore {
  /**
   * Synchronous check-and-insert, see {@link ReplayStore.checkAndInsert}. `expiresAt` is rounded up
   * to a whole second (keeping the entry longer, never shorter) and must be at most 2^32 − 1.
   */
  checkAndInsert(digest: Uint8Array, expiresAt: number, now: number): ReplayOutcome;
  /** Entries held: live ones plus expired ones not yet reclaimed (so `size <= capacity`). */
  readonly size: number;
  /** The capacity given at creation. */
  readonly capacity: number;
  /** Bytes of the typed arrays behind the table (allocated once, never grows). */
  readonly byteLength: number;
  /**
   * Records a digest without calling `onInsert` and without reporting a replay: used to rebuild a store
   * from a snapshot or a journal. If the digest is live already, keeps the later expiry.
   *
   * @throws `RangeError` when the store is full of live entries (the capacity is too small).
   */
  restoreEntry(digest: Uint8Array, expiresAt: number, now: number): void;
  /**
   * A compact binary copy of the entries live at `now` (entries with `now < expiresAt`), with magic,
   * version, count and a SHA-256 checksum; 20 bytes per entry plus 28. Load it with
   * `restoreMemoryReplayStore`. The store is unchanged.
   *
   * @param now - unix seconds.
   */
  snapshot(now: number): Uint8Array;
}

/**
 * Creates an in-memory replay window of fixed capacity.
 *
 * - **Never forgets a live entry.** When every slot holds a live entry, `checkAndInsert` answers
 *   `'full'` (deny) instead of evicting.
 * - **Bounded memory.** `ceil(capacity / 0.9)` slots of 21 bytes (23.3 bytes per entry of capacity),
 *   allocated at creation: an `Int32Array` of 20-byte slots and a `Uint8Array` of one-byte tags.
 *   Linear probing over the tags; an expired entry is reclaimed by a sweep of 8 slots per call, or by
 *   a full sweep when the table reaches capacity (so steady-state occupancy follows scan rate ×
 *   window, not history), or reused when the same digest comes back.
 * - **Fast.** Several million `checkAndInsert` per second on one core (see `bench/replay.ts`). A probe
 *   reads only the tags (1.1 MB at a capacity of 1 000 000, mostly in cache) and reads a 20-byte slot
 *   only when its tag matches (one in 255 for another digest), so a fresh code costs a few cached
 *   reads and the stores of its slot.
 * - **Persistent** if you want: `snapshot(now)` / `restoreMemoryReplayStore`, plus a journal written
 *   through `onInsert` and read back with `replayJournal`.
 * - **No clock of its own:** time is the `now` argument. If `now` jumps forward, entries that expire
 *   before the jumped time are reclaimed; feed it a sane clock.
 *
 * @example
 * ```ts
 * const store = createMemoryReplayStore({ capacity: 1_000_000 });
 * const outcome = store.checkAndInsert(digest, t + maxAge + 1, now); // 'fresh' → open the gate
 * ```
 */
export function createMemoryReplayStore(options: MemoryReplayStoreOptions): MemoryReplayStore {
  if (typeof options !== 'object' || options === null) throw new TypeError('"options" must be an object');
  const { capacity, onInsert } = options;
  if (typeof capacity !== 'number' || !Number.isInteger(capacity)) {
    throw new TypeError('"capacity" must be an integer');
  }
  if (capacity < 1 || capacity > MAX_MEMORY_REPLAY_CAPACITY) {
    throw new RangeError(`"capacity" must be between 1 and ${MAX_MEMORY_REPLAY_CAPACITY}, got ${capacity}`);
  }
  if (onInsert !== undefined && typeof onInsert !== 'function') {
    throw new TypeError('"onInsert" must be a function');
  }
  return new HashTableReplayStore(capacity, onInsert);
}

/** Mixes digest words 1..3 into word 0's hash; see {@link keyWord}. */
function mix3(w1: number, w2: number, w3: number): number {
  return Math.imul(w1, 0x9e3779b1) ^ Math.imul(w2 ^ (w3 >>> 16), 0x85ebca6b) ^ Math.imul(w3, 0xc2b2ae35);
}

/**
 * The stored key word: `scramble(w0 ^ mix3(w1, w2, w3))`, a hash of the whole digest that is also
 * invertible given w1..w3 (see {@link wordZero}). It is stored already scrambled so that a home slot,
 * needed for every entry a delete shifts, is one multiplication.
 */
function keyWord(w0: number, w1: number, w2: number, w3: number): number {
  let h = w0 ^ mix3(w1, w2, w3);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return h ^ (h >>> 15);
}

/** Inverts {@link keyWord}: digest word 0 from the stored key word and words 1..3. */
function wordZero(k: number, w1: number, w2: number, w3: number): number {
  let h = k ^ (k >>> 15) ^ (k >>> 30);
  h = Math.imul(h, 0x1d69e2a5); // 0x7feb352d⁻¹ mod 2^32
  return h ^ (h >>> 16) ^ mix3(w1, w2, w3);
}

/**
 * A slot's tag: the key word's low 8 bits (the home slot comes from the high bits), with 0 kept for
 * an empty slot.
 */
function tagOf(k: number): number {
  return k & 0xff || 1;
}

/**
 * Maps a key word to a home slot in `[0, slots)`; `scale` is `slots / 2^32`, and `floor(k * scale)`
 * never reaches `slots` (the rounding error of the product is far below one slot).
 */
function homeSlot(k: number, scale: number): number {
  return Math.floor((k >>> 0) * scale);
}

/** Reads a little-endian word of the digest as an int32 (the tables are `Int32Array`s). */
function readWord(d: Uint8Array, o: number): number {
  // biome-ignore lint/style/noNonNullAssertion: callers pass a checked 16-byte digest
  return d[o]! | (d[o + 1]! << 8) | (d[o + 2]! << 16) | (d[o + 3]! << 24);
}

const FRESH = 'fresh';
const REPLAYED = 'replayed';
const FULL = 'full';

/**
 * Linear probing over one `Int32Array` of 5-word (20-byte) slots: `[k, expiresAt, w1, w2, w3]`, where
 * `k` is the {@link keyWord} (it alone gives the home slot, so a backward shift recomputes homes
 * with one multiplication) and `expiresAt` is a u32 stored in an int32, 0 for an empty slot. Beside
 * it, `tags[i]` is {@link tagOf} slot i's key word, 0 exactly when the slot is empty: a probe walks
 * the tags and opens a slot only on a matching tag.
 */
class HashTableReplayStore implements MemoryReplayStore {
  readonly capacity: number;
  private readonly slots: number;
  private readonly table: Int32Array;
  private readonly tags: Uint8Array;
  /** `slots / 2^32`, see {@link homeSlot}. */
  private readonly scale: number;
  private readonly onInsert: ReplayInsertHook | undefined;
  private count = 0;
  private cursor = 0;
  /** After a full sweep found nothing to reclaim: the earliest expiry held, so no sweep is due before it. */
  private fullUntil = 0;

  constructor(capacity: number, onInsert: ReplayInsertHook | undefined) {
    this.capacity = capacity;
    // slots > capacity always holds, so a probe always ends at an empty slot.
    this.slots = Math.ceil(capacity / LOAD_FACTOR);
    this.table = new Int32Array(this.slots * 5);
    this.tags = new Uint8Array(this.slots);
    this.scale = this.slots / 2 ** 32;
    this.onInsert = onInsert;
  }

  get size(): number {
    return this.count;
  }

  get byteLength(): number {
    return this.table.byteLength + this.tags.byteLength;
  }

  checkAndInsert(digest: Uint8Array, expiresAt: number, now: number): ReplayOutcome {
    checkDigest(digest);
    checkNow(now);
    checkExpiresAt(expiresAt, now);
    const e = Math.ceil(expiresAt);
    this.sweepStep(now);
    const w1 = readWord(digest, 4);
    const w2 = readWord(digest, 8);
    const w3 = readWord(digest, 12);
    const r = this.insert(keyWord(readWord(digest, 0), w1, w2, w3), w1, w2, w3, e, now, false);
    if (r === FRESH && this.onInsert !== undefined) this.onInsert(digest, e);
    return r;
  }

  restoreEntry(digest: Uint8Array, expiresAt: number, now: number): void {
    checkDigest(digest);
    checkNow(now);
    checkExpiresAt(expiresAt, now);
    const w1 = readWord(digest, 4);
    const w2 = readWord(digest, 8);
    const w3 = readWord(digest, 12);
    const r = this.insert(
      keyWord(readWord(digest, 0), w1, w2, w3),
      w1,
      w2,
      w3,
      Math.ceil(expiresAt),
      now,
      true,
    );
    if (r === FULL)
      throw new RangeError(`replay store capacity ${this.capacity} is too small for the restored entries`);
  }

  snapshot(now: number): Uint8Array {
    checkNow(now);
    const t = this.table;
    let live = 0;
    for (let b = 1; b < t.length; b += 5) if ((t[b] as number) >>> 0 > now) live++;
    const out = new Uint8Array(live * SNAPSHOT_ENTRY_BYTES);
    const view = new DataView(out.buffer);
    let o = 0;
    for (let i = 0; i < this.slots; i++) {
      const x = (t[5 * i + 1] as number) >>> 0;
      if (x <= now) continue; // empty (0) or expired
      const w1 = t[5 * i + 2] as number;
      const w2 = t[5 * i + 3] as number;
      const w3 = t[5 * i + 4] as number;
      view.setInt32(o, wordZero(t[5 * i] as number, w1, w2, w3), true);
      view.setInt32(o + 4, w1, true);
      view.setInt32(o + 8, w2, true);
      view.setInt32(o + 12, w3, true);
      view.setUint32(o + 16, x, true);
      o += SNAPSHOT_ENTRY_BYTES;
    }
    return encodeReplaySnapshot(out, live);
  }

  /**
   * Linear-probing insert over the tags. An expired entry stays where it is until a sweep reclaims it
   * (reading its expiry would cost a cache miss per slot probed), except that the same digest, come
   * back after its entry expired, takes that entry over. `upsert` (restore): a live match keeps the
   * later expiry and counts as fresh.
   */
  private insert(
    k: number,
    w1: number,
    w2: number,
    w3: number,
    e: number,
    now: number,
    upsert: boolean,
  ): ReplayOutcome {
    const { table: t, tags, slots } = this;
    const tag = tagOf(k);
    const home = homeSlot(k, this.scale);
    let i = home;
    for (;;) {
      const g = tags[i] as number;
      if (g === 0) {
        if (this.count >= this.capacity) {
          if (now < this.fullUntil || !this.reclaimAll(now)) return FULL;
          i = home; // the sweep moved entries: probe again
          continue;
        }
        tags[i] = tag;
        t[5 * i] = k;
        t[5 * i + 1] = e | 0;
        t[5 * i + 2] = w1;
        t[5 * i + 3] = w2;
        t[5 * i + 4] = w3;
        this.count++;
        return FRESH;
      }
      if (g === tag && t[5 * i] === k && t[5 * i + 2] === w1 && t[5 * i + 3] === w2 && t[5 * i + 4] === w3) {
        const x = (t[5 * i + 1] as number) >>> 0;
        if (x <= now) {
          t[5 * i + 1] = e | 0; // our own expired entry: live again
          return FRESH;
        }
        if (!upsert) return REPLAYED;
        if (e > x) t[5 * i + 1] = e | 0;
        return FRESH;
      }
      i = i + 1 === slots ? 0 : i + 1;
    }
  }

  /** Deletes slot `hole` by backward shift (Knuth's algorithm R), keeping every probe run intact. */
  private deleteAt(hole: number): void {
    const { table: t, tags, slots, scale } = this;
    let j = hole;
    let i = hole;
    for (;;) {
      i = i + 1 === slots ? 0 : i + 1;
      if (tags[i] === 0) break;
      const h = homeSlot(t[5 * i] as number, scale);
      // The entry at i may stay when its home lies cyclically in (j, i].
      if (j < i ? j < h && h <= i : j < h || h <= i) continue;
      tags[j] = tags[i] as number;
      t[5 * j] = t[5 * i] as number;
      t[5 * j + 1] = t[5 * i + 1] as number;
      t[5 * j + 2] = t[5 * i + 2] as number;
      t[5 * j + 3] = t[5 * i + 3] as number;
      t[5 * j + 4] = t[5 * i + 4] as number;
      j = i;
    }
    tags[j] = 0;
    t[5 * j + 1] = 0;
    this.count--;
  }

  /** The incremental sweep: examines {@link SWEEP_STEP} slots at the cursor, reclaiming expired ones. */
  private sweepStep(now: number): void {
    const t = this.table;
    const slots = this.slots;
    const n = Math.floor(now); // an integer x is <= now exactly when x - 1 < floor(now)
    let c = this.cursor;
    for (let k = 0; k < SWEEP_STEP; k++) {
      // 0 < x <= now in one comparison: an empty slot (x = 0) wraps to 2^32 - 1, above any now.
      if (((t[5 * c + 1] as number) - 1) >>> 0 < n) this.deleteAt(c);
      else c = c + 1 === slots ? 0 : c + 1;
    }
    this.cursor = c;
  }

  /** Full sweep. Returns whether any slot was freed; if none, sets `fullUntil` to the earliest expiry. */
  private reclaimAll(now: number): boolean {
    const { table: t, slots } = this;
    const before = this.count;
    // Start after an empty slot: no probe run crosses it, and deletions never fill it.
    let start = 0;
    while (this.tags[start] !== 0) start++;
    let min = Number.POSITIVE_INFINITY;
    let i = start + 1 === slots ? 0 : start + 1;
    for (let n = 1; n < slots; ) {
      const x = (t[5 * i + 1] as number) >>> 0;
      if (x !== 0 && x <= now) {
        this.deleteAt(i); // look at slot i again
        continue;
      }
      if (x !== 0 && x < min) min = x;
      i = i + 1 === slots ? 0 : i + 1;
      n++;
    }
    if (this.count < before) return true;
    this.fullUntil = min;
    return false;
  }
}
