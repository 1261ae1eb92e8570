import { describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../src/index.js';
import { brokenCap } from '../src/offline-caps.js';

const DAY = 86_400_000;
const D1 = Date.UTC(2026, 0, 5); // 2026-01-05T00:00:00Z
const caps = { perTransactionFen: 1_000, totalFen: 2_000, maxAgeSeconds: 3 * 86_400 };
const sale = (seq: number, amountFen: number, capturedAt: number): OutboxEntry => ({
  kind: 'payment',
  seq,
  outTradeNo: `T${seq}`,
  amountFen,
  qrText: 'CC1:ABC',
  capturedAt,
});
const none = new Map<string, number>();

describe('brokenCap: the per-UTC-day total of the platform, and the outstanding total (audit 4)', () => {
  it("counts the day's sales the platform accepted with the pending ones of that day", () => {
    const noon = D1 + DAY / 2;
    const booked = new Map([['2026-01-05', 1_500]]);
    expect(brokenCap(caps, [], booked, 500, noon)).toBeUndefined();
    expect(brokenCap(caps, [], booked, 501, noon)).toBe('total');
    expect(brokenCap(caps, [sale(1, 400, D1 + 1)], booked, 101, noon)).toBe('total');
    expect(brokenCap(caps, [sale(1, 400, D1 + 1)], booked, 100, noon)).toBeUndefined();
  });

  it("the day is that of the sale's time in UTC: another day's total does not count, its pending sales count as outstanding", () => {
    const booked = new Map([
      ['2026-01-05', 2_000],
      ['2026-01-07', 2_000],
    ]);
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
    expect(brokenCap(caps, [], new Map([['2026-01-05', 2_000]]), 1_001, D1)).toBe('perTransaction');
    expect(brokenCap(caps, [sale(1, 1, D1 - 3 * DAY - 1)], none, 1, D1)).toBe('maxAge');
  });

  it('a pending sale with a time no date has does not crash the check', () => {
    expect(brokenCap(caps, [sale(1, 100, 1e300)], none, 100, D1)).toBeUndefined();
  });
});
