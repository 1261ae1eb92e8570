/**
 * The trusted-time floor (issue 7 §2): the newest signed time the reader has seen.
 *
 * @module
 */

/** A monotonic floor of trusted time, unix seconds. */
export interface TimeFloor {
  /** The floor, unix seconds; 0 before any signed time was seen. */
  readonly value: number;
  /**
   * Offers a signed time seen at device time `now`. The floor moves up to it only if it is higher
   * and at most `maxFutureSignedTime` seconds ahead of `now` (a time signed far in the future never
   * counts). Returns whether the floor moved.
   */
  observe(signedTime: number, now: number): boolean;
  /** Whether the clock reading `now` lies below the floor by more than the tolerance. */
  isClockBehind(now: number): boolean;
  /** Raises the floor to `value` if higher (restore from a snapshot); never lowers it. */
  raise(value: number): void;
}

/**
 * Creates a {@link TimeFloor}.
 *
 * @param maxFutureSignedTime - Seconds a signed time may lie ahead of the device clock and still move the floor.
 * @param tolerance - Seconds the clock may read below the floor before decisions are denied.
 */
export function createTimeFloor(maxFutureSignedTime: number, tolerance: number): TimeFloor {
  let value = 0;
  return {
    get value() {
      return value;
    },
    observe(signedTime, now) {
      if (!(signedTime > value) || signedTime > now + maxFutureSignedTime) return false;
      value = signedTime;
      return true;
    },
    isClockBehind(now) {
      return now < value - tolerance;
    },
    raise(v) {
      if (Number.isFinite(v) && v > value) value = v;
    },
  };
}
