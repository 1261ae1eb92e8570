import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  businessDay,
  businessDayBounds,
  businessDayOf,
  DEFAULT_DAY_UTC_OFFSET,
  formatUtcOffset,
  parseUtcOffset,
} from '../src/index.js';

const BJ = 480;

describe('business day', () => {
  it('defaults to China Standard Time', () => {
    expect(parseUtcOffset(DEFAULT_DAY_UTC_OFFSET)).toBe(BJ);
  });

  it('parses ±HH:MM within ±14:00 to minutes east of UTC, names the option in its error, and formats back', () => {
    expect(parseUtcOffset('-05:30')).toBe(-330);
    expect(parseUtcOffset('-00:00')).toBe(0);
    expect(parseUtcOffset('-14:00')).toBe(-840);
    expect(formatUtcOffset(-330)).toBe('-05:30');
    expect(formatUtcOffset(840)).toBe('+14:00');
    for (const bad of ['+8:00', '08:00', '+14:01', '+08:60', '+08:00 ', 'Z', 8, null]) {
      expect(() => parseUtcOffset(bad, 'caps.dayUtcOffset'), String(bad)).toThrow(
        /^caps\.dayUtcOffset must be a UTC offset ±HH:MM/,
      );
    }
  });

  it('a Beijing day runs from 16:00Z the day before to 16:00Z', () => {
    const b = businessDayBounds('2026-01-05', BJ);
    expect(b).toEqual({ start: Date.UTC(2026, 0, 4, 16), end: Date.UTC(2026, 0, 5, 16) });
    expect(businessDayOf(Date.UTC(2026, 0, 4, 23, 30), BJ)).toEqual(b);
    expect(businessDay(Date.UTC(2026, 0, 4, 23, 30), BJ)).toBe('2026-01-05');
    expect(businessDay(Date.UTC(2026, 0, 4, 23, 30), 0)).toBe('2026-01-04');
    expect(businessDayBounds('2026-02-30', BJ)).toBeUndefined();
    expect(businessDayBounds('2026-01-05+08:00', BJ)).toBeUndefined();
    expect(businessDayOf(Number.NaN, BJ)).toBeUndefined();
    expect(businessDay(Number.POSITIVE_INFINITY, BJ)).toBe('');
  });

  it('round trip: a time lies within its day, and the day of its date is the same day', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1970, 0, 2), max: Date.UTC(9999, 11, 30) }),
        fc.integer({ min: -840, max: 840 }),
        (ms, offset) => {
          const bounds = businessDayOf(ms, offset);
          expect(bounds !== undefined && bounds.start <= ms && ms < bounds.end).toBe(true);
          expect(businessDayBounds(businessDay(ms, offset), offset)).toEqual(bounds);
        },
      ),
      { numRuns: 1_000, seed: 20_261_201 },
    );
  });
});
