import {
  businessDay,
  businessDayBounds,
  businessDayOf,
  formatUtcOffset,
  parseUtcOffset,
} from '@campus-card/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dayLabel, labelBounds, labelRange, totalOverlapping } from '../../src/lib/business-day.js';

const BJ = 480;

describe('business day', () => {
  it('parses ±HH:MM within ±14:00 to minutes, and formats them back', () => {
    expect(parseUtcOffset('+08:00')).toBe(480);
    expect(parseUtcOffset('-05:30')).toBe(-330);
    expect(parseUtcOffset('-00:00')).toBe(0);
    expect(parseUtcOffset('+14:00')).toBe(840);
    expect(formatUtcOffset(-330)).toBe('-05:30');
    expect(formatUtcOffset(0)).toBe('+00:00');
    for (const bad of ['+8:00', '+14:01', '+99:00', '+08:60', ' +08:00', 'Z', 8, undefined]) {
      expect(() => parseUtcOffset(bad, 'x'), String(bad)).toThrow(RangeError);
    }
  });

  it('07:30 in Beijing is 23:30Z the day before, and its day runs from 16:00Z to 16:00Z', () => {
    expect(businessDay(Date.UTC(2026, 0, 4, 23, 30), BJ)).toBe('2026-01-05');
    expect(businessDay(Date.UTC(2026, 0, 4, 15, 59, 59, 999), BJ)).toBe('2026-01-04');
    expect(businessDayBounds('2026-01-05', BJ)).toEqual({
      start: Date.UTC(2026, 0, 4, 16),
      end: Date.UTC(2026, 0, 5, 16),
    });
    expect(businessDayBounds('2026-02-30', BJ)).toBeUndefined();
    expect(businessDayBounds('0028-02-29', 0)?.start).toBe(Date.parse('0028-02-29T00:00:00Z'));
    expect(businessDay(Number.NaN, BJ)).toBe('');
    expect(dayLabel(Date.UTC(2026, 0, 4, 23, 30), -300)).toBe('2026-01-04-05:00');
    expect(labelBounds('2026-01-04')).toEqual({ start: Date.UTC(2026, 0, 4), end: Date.UTC(2026, 0, 5) });
    expect(labelBounds('2026-01-04-05:00')?.start).toBe(Date.UTC(2026, 0, 4, 5));
    expect(labelBounds('nonsense')).toBeUndefined();
  });

  it('a time is within the bounds of its day, whose label names it, at every offset', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: Date.parse('9999-12-31T23:59:59.999Z') }),
        fc.integer({ min: -840, max: 840 }),
        (ms, offset) => {
          const bounds = businessDayOf(ms, offset);
          expect(bounds !== undefined && bounds.start <= ms && ms < bounds.end).toBe(true);
          const day = businessDay(ms, offset);
          if (day.length === 10) expect(businessDayBounds(day, offset)).toEqual(bounds);
          expect(labelBounds(dayLabel(ms, offset))).toEqual(bounds);
        },
      ),
      { numRuns: 2_000, seed: 20_260_105 },
    );
  });

  it('every label whose span overlaps a day is within the label range of that day', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 86_400_000 * 3, max: Date.parse('9999-12-25T00:00:00Z') }),
        fc.integer({ min: -840, max: 840 }),
        fc.integer({ min: -840, max: 840 }),
        fc.integer({ min: -2 * 86_400_000, max: 2 * 86_400_000 }),
        (ms, o1, o2, shift) => {
          const bounds = businessDayOf(ms, o1);
          const label = dayLabel(ms + shift, o2);
          const span = labelBounds(label);
          if (bounds === undefined || span === undefined) throw new Error('no day');
          const range = labelRange(bounds);
          if (span.start < bounds.end && span.end > bounds.start) {
            expect(label >= range.from && label < range.to, `${label} in ${range.from}..${range.to}`).toBe(
              true,
            );
          }
        },
      ),
      { numRuns: 2_000, seed: 8 },
    );
  });

  it('counts the labels whose span overlaps the day (an unreadable one too), not the others', () => {
    const day = businessDayBounds('2026-01-06', BJ) as { start: number; end: number };
    const rows = [
      { day: '2026-01-06+08:00', s: 1 },
      { day: '2026-01-05+08:00', s: 2 },
      { day: '2026-01-07+08:00', s: 4 },
      { day: '2026-01-05', s: 8 }, // a UTC day: 16:00Z to 24:00Z of it is the 6th in Beijing
      { day: '2026-01-06', s: 16 }, // 00:00Z to 16:00Z is the 6th
      { day: '2026-01-04', s: 32 },
      { day: '2026-01-06-05:00', s: 64 }, // 05:00Z on the 6th to 05:00Z on the 7th
      { day: '???', s: 128 },
    ];
    expect(totalOverlapping(rows, day)).toBe(1 + 8 + 16 + 64 + 128);
  });
});
