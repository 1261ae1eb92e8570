import { describe, expect, it } from 'vitest';
import type { BookedTotal, OutboxEntry } from '../src/index.js';
import { brokenCap } from '../src/offline-caps.js';

const DAY = 86_400_000;
const D1 = Date.UTC(2026, 0, 5); // 2026-01-05T00:00:00Z
// these cases count UTC days; the business day at +08:00 is below
const caps = { perTransactionFen: 1_000, totalFen: 2_000, maxAgeSeconds: 3 * 86_400, dayUtcOffset: '+00:00' };
const sale = (seq: number, amountFen: number, capturedAt: number): OutboxEntry => ({
  kind: 'payment',
  seq,
  outTradeNo: `T${seq}`,
  amountFen,
  qrText: 'CC1:ABC',
  capturedAt,
});
const none: BookedTotal[] = [];
/** Booked totals of whole UTC days (`[day start, fen]`), as an old journal's. */
const utcDays = (...days: [number, number][]): BookedTotal[] =>
  days.map(([from, amountFen]) => ({ from, to: from + DAY, amountFen }));

describe('brokenCap: the per-day total of the platform, and the outstanding total (audit 4)', () => {
  it("counts the day's sales the platform accepted with the pending ones of that day", () => {
    const noon = D1 + DAY / 2;
    const booked = utcDays([D1, 1_500]);
    expect(brokenCap(caps, [], booked, 500, noon)).toBeUndefined();
    expect(brokenCap(caps, [], booked, 501, noon)).toBe('total');
    expect(brokenCap(caps, [sale(1, 400, D1 + 1)], booked, 101, noon)).toBe('total');
    expect(brokenCap(caps, [sale(1, 400, D1 + 1)], booked, 100, noon)).toBeUndefined();
  });

  it("the day is that of the sale's time at +00:00: another day's total does not count, its pending sales count as outstanding", () => {
    const booked = utcDays([D1, 2_000], [D1 + 2 * DAY, 2_000]);
    expect(brokenCap(caps, [], booked, 1, D1 + DAY - 1)).toBe('total'); // 23:59:59.999Z of the 5th
    expect(brokenCap(caps, [], booked, 1_000, D1 + DAY)).toBeUndefined(); // 00:00Z of the 6th
    // the 5th's 1 500 not yet uploaded: not of the 6th, but outstanding all the same
    const yesterday = [sale(1, 1_000, D1 + 10), sale(2, 500, D1 + 20)];
    expect(brokenCap(caps, yesterday, booked, 500, D1 + DAY)).toBeUndefined();
    expect(brokenCap(caps, yesterday, booked, 501, D1 + DAY)).toBe('total');
  });

  it('a reversal is no sale; the per-transaction cap is checked first; the age as before', () => {
    const r: OutboxEntry = { kind: 'reversal', seq: 1, outTradeNo: 'R', capturedAt: D1 - 10 * DAY };
    expect(brokenCap(caps, [r], none, 1_000, D1)).toBeUndefined();
    expect(brokenCap(caps, [], utcDays([D1, 2_000]), 1_001, D1)).toBe('perTransaction');
    expect(brokenCap(caps, [sale(1, 1, D1 - 3 * DAY - 1)], none, 1, D1)).toBe('maxAge');
  });

  it('a pending sale with a time no date has does not crash the check', () => {
    expect(brokenCap(caps, [sale(1, 100, 1e300)], none, 100, D1)).toBeUndefined();
  });
});

describe('brokenCap: the business day at dayUtcOffset (+08:00 by default)', () => {
  const beijing = { perTransactionFen: 1_000, totalFen: 2_000, maxAgeSeconds: 3 * 86_400 };
  /** A booked total of one minute. */
  const minute = (at: number, amountFen: number): BookedTotal => ({ from: at, to: at + 60_000, amountFen });
  // 07:30 on the 6th in Beijing, 23:30Z on the 5th
  const morning = D1 + 23.5 * 3_600_000;

  it('a sale at 07:30 in Beijing counts towards that local day, not the UTC day before', () => {
    // booked at 00:10 on the 6th in Beijing (16:10Z on the 5th): the same local day
    const booked = [minute(D1 + 16 * 3_600_000 + 600_000, 1_500)];
    expect(brokenCap(beijing, [], booked, 501, morning)).toBe('total');
    expect(brokenCap(beijing, [], booked, 500, morning)).toBeUndefined();
    // by UTC day the two were on different days
    expect(brokenCap({ ...beijing, dayUtcOffset: '+00:00' }, [], booked, 501, morning)).toBe('total');
    expect(
      brokenCap({ ...beijing, dayUtcOffset: '+00:00' }, [], booked, 1_000, morning + DAY),
    ).toBeUndefined();
    // booked at 23:59 on the 5th in Beijing (15:59Z): another local day, although the same UTC day
    const before = [minute(D1 + 15 * 3_600_000 + 59 * 60_000, 2_000)];
    expect(brokenCap(beijing, [], before, 1_000, morning)).toBeUndefined();
    expect(brokenCap({ ...beijing, dayUtcOffset: '+00:00' }, [], before, 1, morning)).toBe('total');
    // a pending sale at 00:00 on the 6th in Beijing (16:00Z on the 5th) is of that day too; one
    // a millisecond earlier is outstanding only
    const early = [minute(D1 + 16.5 * 3_600_000, 500)];
    expect(brokenCap(beijing, [sale(1, 1_000, D1 + 16 * 3_600_000)], early, 501, morning)).toBe('total');
    expect(brokenCap(beijing, [sale(1, 1_000, D1 + 16 * 3_600_000 - 1)], early, 501, morning)).toBe(
      undefined,
    );
  });

  it('at -05:00, 03:00Z is 22:00 the day before', () => {
    const caps5 = { ...beijing, dayUtcOffset: '-05:00' };
    const booked = [minute(D1 + 10 * 3_600_000, 2_000)]; // 05:00 on the 5th at -05:00
    expect(brokenCap(caps5, [], booked, 1, D1 + DAY + 3 * 3_600_000)).toBe('total'); // 22:00 on the 5th
    expect(brokenCap(caps5, [], booked, 1_000, D1 + DAY + 5 * 3_600_000)).toBeUndefined(); // 00:00 on the 6th
  });

  it("an old journal's UTC day counts towards each business day it overlaps", () => {
    const booked = utcDays([D1, 2_000]); // 08:00 on the 5th to 08:00 on the 6th in Beijing
    expect(brokenCap(beijing, [], booked, 1, D1 - 1)).toBe('total'); // 07:59 on the 5th in Beijing
    expect(brokenCap(beijing, [], booked, 1, morning)).toBe('total'); // 07:30 on the 6th
    expect(brokenCap(beijing, [], booked, 1, D1 + DAY + 16 * 3_600_000)).toBeUndefined(); // the 7th
  });
});
