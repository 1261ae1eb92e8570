/**
 * Anti-passback state: where each card is, per zone.
 *
 * @module
 */
import { VerifierError } from '../errors.js';
import type { Direction } from './policy.js';

/** The state of one card in one zone. Times are unix seconds. */
export interface PassbackEntry {
  /** Whether the card is inside the zone (last passage was `'in'`). */
  readonly inside: boolean;
  /** Time of the last entry, if any. */
  readonly lastEntry?: number;
  /** Time of the last exit, if any. */
  readonly lastExit?: number;
}

/**
 * JSON form of a {@link PassbackState}: rows `[zone, cardId, inside, lastEntry | null, lastExit | null]`,
 * least recently updated first.
 */
export interface PassbackSnapshot {
  version: 1;
  entries: Array<[string, string, boolean, number | null, number | null]>;
}

/** Options of {@link createPassbackState}. */
export interface PassbackStateOptions {
  /** Most (zone, card) entries held. Default 100 000. See {@link PassbackState} for eviction. */
  maxEntries?: number;
}

/**
 * Per (zone, card id) anti-passback state, updated only through `record` (which `evaluatePolicy`'s
 * `commit()` calls).
 *
 * **Bounded size.** At `maxEntries`, recording a new (zone, card) evicts the least recently updated
 * entry of a card that is *outside* its zone (forgetting it can only shorten that card's re-entry delay).
 * Entries of cards *inside* a zone are never evicted: if all entries are inside, `isFull` is true and
 * `evaluatePolicy` denies new entrants to anti-passback zones (fail closed) until some leave. Size it
 * above the total population of the zones.
 */
export interface PassbackState {
  /** The entry of a card in a zone, or `undefined`. */
  get(zone: string, cardId: string): PassbackEntry | undefined;
  /** Records a passage at `now` (unix seconds). */
  record(zone: string, cardId: string, direction: Direction, now: number): void;
  /** Whether a new (zone, card) could only be added by exceeding `maxEntries` (all entries are inside). */
  readonly isFull: boolean;
  /** Entries held. */
  readonly size: number;
  /** The bound given at creation. */
  readonly maxEntries: number;
  /** A JSON-serialisable copy of the state. */
  snapshot(): PassbackSnapshot;
  /**
   * Replaces the state with a snapshot's content. Over `maxEntries`, the least recently updated
   * entries of cards *outside* their zone are dropped first; entries of cards inside are always kept,
   * even past the bound (as `record` does), so a restore never lets a card that is inside enter again.
   *
   * @throws `VerifierError` `ERR_PASSBACK_SNAPSHOT_INVALID` for a malformed snapshot (state unchanged).
   */
  restore(snapshot: unknown): void;
}

interface MutableEntry {
  zone: string;
  cardId: string;
  inside: boolean;
  lastEntry: number | undefined;
  lastExit: number | undefined;
}

const DEFAULT_MAX_ENTRIES = 100_000;

function keyOf(zone: string, cardId: string): string {
  return `${zone}\u0000${cardId}`;
}

function invalid(message: string): VerifierError {
  return new VerifierError('ERR_PASSBACK_SNAPSHOT_INVALID', `passback snapshot: ${message}`);
}

function isTime(v: unknown): v is number | null {
  return v === null || (typeof v === 'number' && Number.isFinite(v));
}

/**
 * Creates an empty {@link PassbackState}.
 *
 * @example
 * ```ts
 * const passback = createPassbackState({ maxEntries: 50_000 });
 * const result = evaluatePolicy(policy, subject, { now, direction: 'in', passback });
 * ```
 */
export function createPassbackState(options: PassbackStateOptions = {}): PassbackState {
  const { maxEntries = DEFAULT_MAX_ENTRIES } = options;
  if (typeof maxEntries !== 'number' || !Number.isInteger(maxEntries)) {
    throw new TypeError('"maxEntries" must be an integer');
  }
  if (maxEntries < 1) throw new RangeError('"maxEntries" must be at least 1');
  // Map order = least recently updated first (an update deletes and re-inserts).
  let entries = new Map<string, MutableEntry>();
  let insideCount = 0;

  function evictOneOutside(): boolean {
    for (const [k, e] of entries) {
      if (!e.inside) {
        entries.delete(k);
        return true;
      }
    }
    return false;
  }

  return {
    get(zone, cardId) {
      const e = entries.get(keyOf(zone, cardId));
      if (e === undefined) return undefined;
      return {
        inside: e.inside,
        ...(e.lastEntry !== undefined && { lastEntry: e.lastEntry }),
        ...(e.lastExit !== undefined && { lastExit: e.lastExit }),
      };
    },
    record(zone, cardId, direction, now) {
      if (typeof zone !== 'string' || typeof cardId !== 'string')
        throw new TypeError('zone and cardId must be strings');
      if (direction !== 'in' && direction !== 'out') throw new TypeError('"direction" must be "in" or "out"');
      if (typeof now !== 'number' || !Number.isFinite(now))
        throw new RangeError('"now" must be a finite number');
      const k = keyOf(zone, cardId);
      let e = entries.get(k);
      if (e === undefined) {
        // over the bound: evict an outside entry; if every entry is inside, grow past the bound rather
        // than forget where a card is (evaluatePolicy already denies entries while isFull)
        if (entries.size >= maxEntries) evictOneOutside();
        e = { zone, cardId, inside: false, lastEntry: undefined, lastExit: undefined };
      } else {
        entries.delete(k);
        if (e.inside) insideCount--;
      }
      if (direction === 'in') {
        e.inside = true;
        e.lastEntry = now;
        insideCount++;
      } else {
        e.inside = false;
        e.lastExit = now;
      }
      entries.set(k, e);
    },
    get isFull() {
      return entries.size >= maxEntries && insideCount >= entries.size;
    },
    get size() {
      return entries.size;
    },
    maxEntries,
    snapshot() {
      return {
        version: 1,
        entries: Array.from(
          entries.values(),
          (e): [string, string, boolean, number | null, number | null] => [
            e.zone,
            e.cardId,
            e.inside,
            e.lastEntry ?? null,
            e.lastExit ?? null,
          ],
        ),
      };
    },
    restore(snapshot) {
      if (typeof snapshot !== 'object' || snapshot === null) throw invalid('not an object');
      const { version, entries: rows } = snapshot as { version?: unknown; entries?: unknown };
      if (version !== 1) throw invalid(`unsupported version ${String(version)}`);
      if (!Array.isArray(rows)) throw invalid('"entries" is not an array');
      const next = new Map<string, MutableEntry>();
      let inside = 0;
      for (let i = 0; i < rows.length; i++) {
        const row: unknown = rows[i];
        if (
          !Array.isArray(row) ||
          row.length !== 5 ||
          typeof row[0] !== 'string' ||
          typeof row[1] !== 'string' ||
          typeof row[2] !== 'boolean' ||
          !isTime(row[3]) ||
          !isTime(row[4])
        ) {
          throw invalid(`entries[${i}] is not [zone, cardId, inside, lastEntry|null, lastExit|null]`);
        }
        const k = keyOf(row[0], row[1]);
        const old = next.get(k);
        if (old?.inside) inside--;
        next.delete(k);
        next.set(k, {
          zone: row[0],
          cardId: row[1],
          inside: row[2],
          lastEntry: row[3] ?? undefined,
          lastExit: row[4] ?? undefined,
        });
        if (row[2]) inside++;
      }
      // over the bound: drop the least recently updated OUTSIDE entries, as record() would have;
      // never an inside one (forgetting it would let that card enter twice)
      let excess = next.size - maxEntries;
      if (excess > 0) {
        for (const [k, e] of next) {
          if (excess === 0) break;
          if (e.inside) continue;
          next.delete(k);
          excess--;
        }
      }
      entries = next;
      insideCount = inside;
    },
  };
}
