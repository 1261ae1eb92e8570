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
 * One row of a {@link PassbackSnapshot}. `school` is `null` for an entry restored from a version 1
 * snapshot (school unknown: it matches a card of that id in any school until that card is recorded
 * again).
 */
export type PassbackSnapshotRow = [
  zone: string,
  school: string | null,
  cardId: string,
  inside: boolean,
  lastEntry: number | null,
  lastExit: number | null,
];

/**
 * JSON form of a {@link PassbackState} (version 2): one {@link PassbackSnapshotRow}
 * `[zone, school | null, cardId, inside, lastEntry | null, lastExit | null]` per entry, least
 * recently updated first. `restore` also reads {@link PassbackSnapshotV1}.
 */
export interface PassbackSnapshot {
  version: 2;
  entries: PassbackSnapshotRow[];
}

/**
 * The version 1 snapshot (verifier 0.1.0): rows `[zone, cardId, inside, lastEntry | null,
 * lastExit | null]`, without the school. Still accepted by `restore`, so that a device upgrading
 * keeps where its cards are.
 */
export interface PassbackSnapshotV1 {
  version: 1;
  entries: Array<[string, string, boolean, number | null, number | null]>;
}

/** Options of {@link createPassbackState}. */
export interface PassbackStateOptions {
  /** Most (zone, school, card) entries held. Default 100 000. See {@link PassbackState} for eviction. */
  maxEntries?: number;
}

/**
 * Per (zone, school, card id) anti-passback state, updated only through `record` (which
 * `evaluatePolicy`'s `commit()` calls). Card ids are unique only within a school, so the school is
 * part of the key: card `2024010001` of school 10001 and card `2024010001` of school 10002 are two
 * cards.
 *
 * **Bounded size.** At `maxEntries`, recording a new (zone, school, card) evicts the least recently
 * updated entry of a card that is *outside* its zone (forgetting it can only shorten that card's
 * re-entry delay). Entries of cards *inside* a zone are never evicted: if all entries are inside,
 * `isFull` is true and `evaluatePolicy` denies new entrants to anti-passback zones (fail closed)
 * until some leave. Size it above the total population of the zones.
 *
 * **Upgrading from a version 1 snapshot** (keyed by card id only): its entries are restored with an
 * unknown school. Such a legacy entry answers `get` for a card of that id in any school (so a card
 * inside stays inside) until a card of that id is recorded in that zone again; the entry then
 * recorded, with its school, replaces the legacy one.
 */
export interface PassbackState {
  /**
   * The entry of a card in a zone: its own, else a legacy entry of that card id (see above), else
   * `undefined`.
   *
   * @example
   * ```ts
   * passback.get('library', '10001', '2024010001')?.inside; // true while the card is inside
   * ```
   */
  get(zone: string, school: string, cardId: string): PassbackEntry | undefined;
  /**
   * Records a passage of the card `cardId` of `school` at `now` (unix seconds).
   *
   * @throws `TypeError` for a non-string zone, school or card id, or a bad direction; `RangeError`
   *   for a non-finite `now`.
   */
  record(zone: string, school: string, cardId: string, direction: Direction, now: number): void;
  /** Whether a new (zone, card) could only be added by exceeding `maxEntries` (all entries are inside). */
  readonly isFull: boolean;
  /** Entries held. */
  readonly size: number;
  /** The bound given at creation. */
  readonly maxEntries: number;
  /** A JSON-serialisable copy of the state (version 2). */
  snapshot(): PassbackSnapshot;
  /**
   * Replaces the state with a snapshot's content: a {@link PassbackSnapshot} (version 2) or a
   * {@link PassbackSnapshotV1}, whose entries become legacy entries of unknown school. Over
   * `maxEntries`, the least recently updated entries of cards *outside* their zone are dropped first;
   * entries of cards inside are always kept, even past the bound (as `record` does), so a restore
   * never lets a card that is inside enter again.
   *
   * @throws `VerifierError` `ERR_PASSBACK_SNAPSHOT_INVALID` for a malformed snapshot (state unchanged).
   */
  restore(snapshot: unknown): void;
}

interface MutableEntry {
  zone: string;
  /** `undefined` for a legacy entry (restored from a version 1 snapshot). */
  school: string | undefined;
  cardId: string;
  inside: boolean;
  lastEntry: number | undefined;
  lastExit: number | undefined;
}

const DEFAULT_MAX_ENTRIES = 100_000;

/** The map key of an entry: length-prefixed fields, so no two (zone, school, card) share one. */
function keyOf(zone: string, school: string, cardId: string): string {
  return `s${zone.length}:${zone}${school.length}:${school}${cardId}`;
}

/** The map key of a legacy entry (school unknown); never equal to a {@link keyOf}. */
function legacyKeyOf(zone: string, cardId: string): string {
  return `v1${zone.length}:${zone}${cardId}`;
}

function invalid(message: string): VerifierError {
  return new VerifierError('ERR_PASSBACK_SNAPSHOT_INVALID', `passback snapshot: ${message}`);
}

function isTime(v: unknown): v is number | null {
  return v === null || (typeof v === 'number' && Number.isFinite(v));
}

/** A snapshot row as an entry (school `undefined`: legacy), or `undefined` when it is malformed. */
function entryOfRow(row: unknown, version: 1 | 2): MutableEntry | undefined {
  if (!Array.isArray(row)) return undefined;
  if (version === 1) {
    if (row.length !== 5) return undefined;
    const [zone, cardId, inside, lastEntry, lastExit] = row as unknown[];
    if (typeof zone !== 'string' || typeof cardId !== 'string' || typeof inside !== 'boolean')
      return undefined;
    if (!isTime(lastEntry) || !isTime(lastExit)) return undefined;
    return {
      zone,
      school: undefined,
      cardId,
      inside,
      lastEntry: lastEntry ?? undefined,
      lastExit: lastExit ?? undefined,
    };
  }
  if (row.length !== 6) return undefined;
  const [zone, school, cardId, inside, lastEntry, lastExit] = row as unknown[];
  if (typeof zone !== 'string' || !(school === null || typeof school === 'string')) return undefined;
  if (typeof cardId !== 'string' || typeof inside !== 'boolean') return undefined;
  if (!isTime(lastEntry) || !isTime(lastExit)) return undefined;
  return {
    zone,
    school: school ?? undefined,
    cardId,
    inside,
    lastEntry: lastEntry ?? undefined,
    lastExit: lastExit ?? undefined,
  };
}

/**
 * Creates an empty {@link PassbackState}.
 *
 * @example
 * ```ts
 * const passback = createPassbackState({ maxEntries: 50_000 });
 * const result = evaluatePolicy(policy, subject, { now, direction: 'in', passback });
 * if (result.ok) result.commit(); // records (zone, subject.school, subject.cardId) as inside
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
  // The outside entries alone, in the same order: eviction takes the first, at once, however many
  // cards are inside (a walk of `entries` past them would cost every scan O(entries inside)).
  let outside = new Map<string, MutableEntry>();
  let insideCount = 0;
  /** Legacy entries held: while 0, `get` needs no second lookup. */
  let legacyCount = 0;

  function evictOneOutside(): boolean {
    for (const [k, e] of outside) {
      outside.delete(k);
      entries.delete(k);
      if (e.school === undefined) legacyCount--;
      return true;
    }
    return false;
  }

  return {
    get(zone, school, cardId) {
      let e = entries.get(keyOf(zone, school, cardId));
      if (e === undefined && legacyCount > 0) e = entries.get(legacyKeyOf(zone, cardId));
      if (e === undefined) return undefined;
      return {
        inside: e.inside,
        ...(e.lastEntry !== undefined && { lastEntry: e.lastEntry }),
        ...(e.lastExit !== undefined && { lastExit: e.lastExit }),
      };
    },
    record(zone, school, cardId, direction, now) {
      if (typeof zone !== 'string' || typeof school !== 'string' || typeof cardId !== 'string')
        throw new TypeError('zone, school and cardId must be strings');
      if (direction !== 'in' && direction !== 'out') throw new TypeError('"direction" must be "in" or "out"');
      if (typeof now !== 'number' || !Number.isFinite(now))
        throw new RangeError('"now" must be a finite number');
      if (legacyCount > 0) {
        // the card is recorded again: its entry, with its school, replaces the legacy one
        const lk = legacyKeyOf(zone, cardId);
        const legacy = entries.get(lk);
        if (legacy !== undefined) {
          entries.delete(lk);
          outside.delete(lk);
          legacyCount--;
          if (legacy.inside) insideCount--;
        }
      }
      const k = keyOf(zone, school, cardId);
      let e = entries.get(k);
      if (e === undefined) {
        // over the bound: evict an outside entry; if every entry is inside, grow past the bound rather
        // than forget where a card is (evaluatePolicy already denies entries while isFull)
        if (entries.size >= maxEntries) evictOneOutside();
        e = { zone, school, cardId, inside: false, lastEntry: undefined, lastExit: undefined };
      } else {
        entries.delete(k);
        outside.delete(k);
        if (e.inside) insideCount--;
      }
      if (direction === 'in') {
        e.inside = true;
        e.lastEntry = now;
        insideCount++;
      } else {
        e.inside = false;
        e.lastExit = now;
        outside.set(k, e);
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
        version: 2,
        entries: Array.from(
          entries.values(),
          (e): PassbackSnapshotRow => [
            e.zone,
            e.school ?? null,
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
      if (version !== 1 && version !== 2) throw invalid(`unsupported version ${String(version)}`);
      if (!Array.isArray(rows)) throw invalid('"entries" is not an array');
      const next = new Map<string, MutableEntry>();
      for (let i = 0; i < rows.length; i++) {
        const e = entryOfRow(rows[i], version);
        if (e === undefined) {
          throw invalid(
            version === 1
              ? `entries[${i}] is not [zone, cardId, inside, lastEntry|null, lastExit|null]`
              : `entries[${i}] is not [zone, school|null, cardId, inside, lastEntry|null, lastExit|null]`,
          );
        }
        const k = e.school === undefined ? legacyKeyOf(e.zone, e.cardId) : keyOf(e.zone, e.school, e.cardId);
        next.delete(k); // a later row of the same key wins, as the more recent
        next.set(k, e);
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
      let inside = 0;
      let legacy = 0;
      const nextOutside = new Map<string, MutableEntry>();
      for (const [k, e] of next) {
        if (e.inside) inside++;
        else nextOutside.set(k, e);
        if (e.school === undefined) legacy++;
      }
      entries = next;
      outside = nextOutside;
      insideCount = inside;
      legacyCount = legacy;
    },
  };
}
