/**
 * The virtual clock of the mock platform.
 *
 * @module
 */

/** A clock tests can move. Times are epoch milliseconds. */
export interface VirtualClock {
  /** Current virtual time, epoch milliseconds. */
  now(): number;
  /** Current virtual time, whole unix seconds. */
  nowSeconds(): number;
  /** Moves the clock by `seconds` (may be negative). */
  advance(seconds: number): void;
  /** Sets the clock to an absolute time (epoch ms). */
  set(epochMs: number): void;
  /** Offset from the real clock, ms (for frozen clocks: from the start). */
  offsetMs(): number;
}

/** Options of {@link createClock}. */
export interface CreateClockOptions {
  /** Start time, epoch ms (default: the real time). */
  readonly start?: number;
  /** When true the clock moves only through advance()/set() (default false: it ticks). */
  readonly frozen?: boolean;
}

/**
 * Creates a virtual clock: real time plus an offset, or frozen.
 *
 * @example
 * ```ts
 * const clock = createClock({ start: Date.UTC(2026, 0, 1), frozen: true });
 * clock.advance(60);
 * ```
 */
export function createClock(options: CreateClockOptions = {}): VirtualClock {
  const frozen = options.frozen === true;
  let offset = options.start === undefined ? 0 : options.start - Date.now();
  let frozenAt = options.start ?? Date.now();
  const now = () => (frozen ? frozenAt : Date.now() + offset);
  return {
    now,
    nowSeconds: () => Math.floor(now() / 1000),
    advance(seconds) {
      if (!Number.isFinite(seconds)) throw new RangeError('seconds must be finite');
      if (frozen) frozenAt += Math.round(seconds * 1000);
      else offset += Math.round(seconds * 1000);
    },
    set(epochMs) {
      if (!Number.isFinite(epochMs)) throw new RangeError('epochMs must be finite');
      if (frozen) frozenAt = epochMs;
      else offset = epochMs - Date.now();
    },
    offsetMs: () => (frozen ? frozenAt - Date.now() : offset),
  };
}

// The last time formatted and its text: a request formats the same instant several times (its
// record, the order's created_at and updated_at, its push), about 1 µs each.
let lastMs = Number.NaN;
let lastText = '';

/** Formats epoch ms as RFC 3339 UTC with whole seconds when possible. */
export function iso(epochMs: number): string {
  if (epochMs === lastMs) return lastText;
  const s = new Date(epochMs).toISOString();
  lastText = s.endsWith('.000Z') ? `${s.slice(0, -5)}Z` : s;
  lastMs = epochMs;
  return lastText;
}

/** Parses an RFC 3339 UTC time to epoch ms. */
export function parseIso(text: string): number {
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new RangeError(`bad time ${text}`);
  return t;
}
