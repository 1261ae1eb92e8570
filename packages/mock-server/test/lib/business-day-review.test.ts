/**
 * Review of the per-device offline cap's day totals: sales are stored under the UTC minute of their
 * capture and a business day counts them exactly at any offset, as the POS client counts; the day
 * labels of earlier versions count towards every day they overlap; nothing is counted twice.
 */
import { businessDayOf, DAY_MS, type DayBounds } from '@campus-card/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { captureLabel, createDayTotals, dayLabel, labelBounds } from '../../src/lib/business-day.js';
import { openDatabase } from '../../src/lib/db.js';

const insert = (db: ReturnType<typeof openDatabase>) => {
  const st = db.prepare(
    'INSERT INTO offline_items (device_id, seq, out_trade_no, outcome, code, order_id, conflict_device_id, amount, day, request_hash) VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?, ?, NULL)',
  );
  let seq = 0;
  return (device: string, label: string, amount: number, outcome = 'accepted') => {
    seq += 1;
    st.run(device, seq, `RV-${seq}`, outcome, amount, label);
  };
};

describe('stored labels of offline sales', () => {
  it('a sale is stored under the UTC minute of its capture, whose span holds it', () => {
    expect(captureLabel(Date.UTC(2026, 0, 5, 15, 59, 59, 999), 480)).toBe('2026-01-05T15:59Z');
    expect(labelBounds('2026-01-05T15:59Z')).toEqual({
      start: Date.UTC(2026, 0, 5, 15, 59),
      end: Date.UTC(2026, 0, 5, 16),
    });
    expect(labelBounds('2026-02-30T00:00Z')).toBeUndefined();
    expect(labelBounds('2026-01-05T24:00Z')).toBeUndefined();
    // a year of five digits (no capture the platform takes): the business day label
    expect(captureLabel(Date.UTC(10_000, 0, 1, 3), 480)).toBe('10000-01-01+08:00');
    expect(captureLabel(Number.NaN, 480)).toBe('');
  });

  it("counts a day's minutes exactly and the older labels that overlap it, each once, for that device only", () => {
    const db = openDatabase(':memory:');
    const add = insert(db);
    const day = businessDayOf(Date.UTC(2026, 0, 6, 4), 480) as DayBounds; // the 6th in Beijing
    add('pos-a', captureLabel(day.start, 480), 1); // 00:00 in Beijing: in
    add('pos-a', captureLabel(day.start - 1, 480), 2); // 23:59:59.999 the day before: out
    add('pos-a', captureLabel(day.end - 1, 480), 4); // 23:59:59.999: in
    add('pos-a', captureLabel(day.end, 480), 8); // the next day: out
    add('pos-a', '2026-01-06+08:00', 16); // the day's own label, of the previous version: in
    add('pos-a', '2026-01-05', 32); // a UTC day of before: 16:00Z to 24:00Z is the 6th: in
    add('pos-a', '2026-01-06-05:00', 64); // 05:00Z on the 6th on: in
    add('pos-a', '2026-01-04', 128); // out
    add('pos-a', captureLabel(day.start + 3_600_000, 480), 256, 'rejected'); // refused: out
    add('pos-b', captureLabel(day.start + 3_600_000, 480), 512); // another POS: out
    expect(createDayTotals(db)('pos-a', day)).toBe(1 + 4 + 16 + 32 + 64);
    db.close();
  });

  it('equals the count of every stored label whose span overlaps the day, at any offsets', () => {
    const db = openDatabase(':memory:');
    const total = createDayTotals(db);
    const base = Date.UTC(2026, 0, 10);
    let device = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.integer({ min: -4 * DAY_MS, max: 4 * DAY_MS }),
            // undefined: a minute label; else a day label counted at that offset (or a bare UTC day)
            offset: fc.option(fc.option(fc.integer({ min: -840, max: 840 }), { nil: undefined }), {
              nil: null,
            }),
            amount: fc.integer({ min: 1, max: 1_000 }),
          }),
          { maxLength: 30 },
        ),
        fc.integer({ min: -DAY_MS, max: DAY_MS }),
        fc.integer({ min: -840, max: 840 }),
        (sales, at, offset) => {
          device += 1;
          const id = `pos-${device}`;
          const add = insert(db);
          const day = businessDayOf(base + at, offset) as DayBounds;
          let expected = 0;
          for (const s of sales) {
            const ms = base + s.at;
            const label =
              s.offset === null
                ? captureLabel(ms, 0)
                : s.offset === undefined
                  ? new Date(ms).toISOString().slice(0, 10)
                  : dayLabel(ms, s.offset);
            const span = labelBounds(label) as DayBounds;
            if (span.start < day.end && span.end > day.start) expected += s.amount;
            add(id, label, s.amount);
          }
          expect(total(id, day)).toBe(expected);
        },
      ),
      { numRuns: 300, seed: 20_260_106 },
    );
    db.close();
  });
});
