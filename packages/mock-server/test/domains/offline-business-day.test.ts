/**
 * The per-device offline cap counts by the business day of `captured_at`: 00:00 to 24:00 at the
 * platform's UTC offset (`+08:00`, China Standard Time, by default), not the UTC day.
 */
import type { OfflineBatchResult } from '@campus-card/core/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createMockPlatform, type MockPlatform, startMockPlatform } from '../../src/index.js';
import { demoPlatform, json, operator, qrOf, registerPos, type Signer, signed, T0 } from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

/** A platform at `offset`, a POS of 1 000 fen per sale and 1 500 per day registered at T0 + 10 min. */
async function setUp(offset?: string): Promise<Signer> {
  p = await demoPlatform(offset === undefined ? {} : { dayUtcOffset: offset });
  p.clock.set(T0 + 600_000);
  return registerPos(p, 'pos-bd', 1_000, 1_500);
}

/** Uploads one sale of 1 000 fen per capture time (epoch ms), in order; the outcomes. */
async function uploadAt(pos: Signer, times: readonly number[]) {
  p.clock.set(Date.UTC(2026, 0, 7, 12));
  const items = [];
  for (const [i, at] of times.entries()) {
    items.push({
      seq: i + 1,
      out_trade_no: `BD-${i + 1}`,
      amount: 1_000,
      qr_text: await qrOf(p, 's-001', 2, Math.floor(at / 1000)),
      captured_at: new Date(at).toISOString(),
    });
  }
  const res = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/offline-batches', { items }));
  expect(res.statusCode, res.body).toBe(200);
  return json<OfflineBatchResult>(res).results.map((r) => r.code ?? r.outcome);
}

const labels = () =>
  p.state.db
    .prepare("SELECT day FROM offline_items WHERE device_id = 'pos-bd' AND outcome = 'accepted' ORDER BY seq")
    .all()
    .map((r) => (r as { day: string }).day);

describe('the offline device cap counts by the business day of captured_at', () => {
  // 23:59:59.999 on the 5th, 07:30 on the 6th and 18:00 on the 6th, in Beijing
  const beijing = [
    Date.UTC(2026, 0, 5, 15, 59, 59, 999),
    Date.UTC(2026, 0, 5, 23, 30),
    Date.UTC(2026, 0, 6, 10, 0),
  ];

  it('at +08:00 (the default), a sale at 07:30 in Beijing (23:30Z the day before) counts towards that local day', async () => {
    const pos = await setUp();
    // UTC days would have taken the first two on the 5th (the second over) and the third alone
    expect(await uploadAt(pos, beijing)).toEqual(['accepted', 'accepted', 'ERR_OFFLINE_CAP']);
    expect(labels()).toEqual(['2026-01-05T15:59Z', '2026-01-05T23:30Z']);
  });

  it('at +00:00, the same sales count by UTC day', async () => {
    const pos = await setUp('+00:00');
    expect(await uploadAt(pos, beijing)).toEqual(['accepted', 'ERR_OFFLINE_CAP', 'accepted']);
    expect(labels()).toEqual(['2026-01-05T15:59Z', '2026-01-06T10:00Z']);
  });

  it('at -05:00, 03:00Z is 22:00 the day before', async () => {
    const pos = await setUp('-05:00');
    const times = [Date.UTC(2026, 0, 5, 10), Date.UTC(2026, 0, 6, 3), Date.UTC(2026, 0, 6, 5)];
    expect(await uploadAt(pos, times)).toEqual(['accepted', 'ERR_OFFLINE_CAP', 'accepted']);
    expect(labels()).toEqual(['2026-01-05T10:00Z', '2026-01-06T05:00Z']);
  });

  it('the device resource names the offset its cap counts by', async () => {
    await setUp('-05:00');
    const d = await p.app.inject(signed(p, operator(p), 'GET', '/v1/devices/pos-bd'));
    expect(json(d)).toMatchObject({ offline_device_cap: 1_500, offline_day_utc_offset: '-05:00' });
  });

  it('sales counted under another offset (UTC days of the previous version) count towards every day they may overlap', async () => {
    const pos = await setUp();
    // what the previous version wrote: 1 000 fen accepted on the UTC day 2026-01-05
    p.state.db
      .prepare(
        "INSERT INTO offline_items (device_id, seq, out_trade_no, outcome, code, order_id, conflict_device_id, amount, day, request_hash) VALUES ('pos-bd', 100, 'OLD-1', 'accepted', NULL, NULL, NULL, 1000, '2026-01-05', NULL)",
      )
      .run();
    // 04:00 on the 6th in Beijing: the UTC day 2026-01-05 overlaps it (16:00Z to 24:00Z): over
    // 01:00 on the 7th in Beijing: the UTC day 2026-01-05 ended before it: within the cap
    expect(await uploadAt(pos, [Date.UTC(2026, 0, 5, 20), Date.UTC(2026, 0, 6, 17)])).toEqual([
      'ERR_OFFLINE_CAP',
      'accepted',
    ]);
  });
});

describe('a bad offset refuses the start', () => {
  const bad = ['+8', '08:00', '+0800', '+14:01', '+15:00', '-14:30', '+08:60', 'Z', '', '+08:00:00'];

  it('createMockPlatform and startMockPlatform reject with a RangeError naming the offset', async () => {
    for (const offset of bad) {
      await expect(createMockPlatform({ dayUtcOffset: offset }), offset).rejects.toThrow(
        new RangeError(
          `dayUtcOffset must be a UTC offset ±HH:MM from -14:00 to +14:00 (e.g. +08:00), got ${JSON.stringify(offset)}`,
        ),
      );
    }
    await expect(createMockPlatform({ settings: { dayUtcOffset: '+8' } })).rejects.toThrow(RangeError);
    await expect(startMockPlatform({ dayUtcOffset: '+15:00' })).rejects.toThrow(/dayUtcOffset/);
  });

  it('takes every offset from -14:00 to +14:00', async () => {
    for (const offset of ['-14:00', '+14:00', '+05:45', '-00:00']) {
      const q = await createMockPlatform({ dayUtcOffset: offset });
      expect(q.state.settings.dayUtcOffset).toBe(offset === '-00:00' ? '+00:00' : offset);
      await q.close();
    }
  });
});
