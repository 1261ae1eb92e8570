/**
 * Review of the per-device offline cap by business day: the platform counts a day's accepted
 * offline sales exactly, as the POS client does (its booked totals are kept by UTC minute of
 * capture), also after the platform's offset changed. A count that took in a whole day of the old
 * offset would refuse sales the POS handed over within its caps: goods lost.
 */
import type { OfflineBatchResult } from '@campus-card/core/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, json, qrOf, registerPos, type Signer, signed, T0 } from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

/** A platform at `offset`, a POS of 1 000 fen per sale and 1 500 per day registered at T0 + 10 min. */
async function setUp(offset: string): Promise<Signer> {
  p = await demoPlatform({ dayUtcOffset: offset });
  p.clock.set(T0 + 600_000);
  return registerPos(p, 'pos-rv', 1_000, 1_500);
}

/** Uploads one sale of `amount` fen captured at `at` (epoch ms) under `seq`; its outcome. */
async function uploadAt(pos: Signer, seq: number, at: number, amount = 1_000) {
  p.clock.set(Date.UTC(2026, 0, 7, 12));
  const items = [
    {
      seq,
      out_trade_no: `RV-${seq}`,
      amount,
      qr_text: await qrOf(p, 's-001', 2, Math.floor(at / 1000)),
      captured_at: new Date(at).toISOString(),
    },
  ];
  const res = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/offline-batches', { items }));
  expect(res.statusCode, res.body).toBe(200);
  const [r] = json<OfflineBatchResult>(res).results;
  return r?.code ?? r?.outcome;
}

/** The platform restarted at another offset, over the same database. */
function restartAt(offset: string): void {
  (p.state.settings as { dayUtcOffset: string }).dayUtcOffset = offset;
}

describe('the offline device cap after the offset changed', () => {
  it('a sale of the day before in the new offset does not count towards this day (UTC to Beijing)', async () => {
    const pos = await setUp('+00:00');
    // 10:00Z on the 5th: 18:00 on the 5th in Beijing
    expect(await uploadAt(pos, 1, Date.UTC(2026, 0, 5, 10))).toBe('accepted');
    restartAt('+08:00');
    // 01:00Z on the 6th: 09:00 on the 6th in Beijing, a day with no sale yet, as the POS counts it
    expect(await uploadAt(pos, 2, Date.UTC(2026, 0, 6, 1))).toBe('accepted');
    // the 5th in Beijing (16:00Z on the 4th to 16:00Z on the 5th) holds the first: 2 000 is over
    expect(await uploadAt(pos, 3, Date.UTC(2026, 0, 5, 12))).toBe('ERR_OFFLINE_CAP');
  });

  it('nor the other way round (Beijing to -05:00), and the sales of the day itself all count', async () => {
    const pos = await setUp('+08:00');
    // 20:00Z on the 5th: 04:00 on the 6th in Beijing, 15:00 on the 5th at -05:00
    expect(await uploadAt(pos, 1, Date.UTC(2026, 0, 5, 20))).toBe('accepted');
    restartAt('-05:00');
    // 06:00Z on the 6th: 01:00 on the 6th at -05:00 (05:00Z on the 6th to 05:00Z on the 7th)
    expect(await uploadAt(pos, 2, Date.UTC(2026, 0, 6, 6))).toBe('accepted');
    // 04:59Z on the 6th is still the 5th at -05:00, with the first sale: over
    expect(await uploadAt(pos, 3, Date.UTC(2026, 0, 6, 4, 59))).toBe('ERR_OFFLINE_CAP');
    // the 6th at -05:00 holds 1 000: 500 more is the cap, 1 fen more is over
    expect(await uploadAt(pos, 4, Date.UTC(2026, 0, 7, 4, 59, 59, 999), 500)).toBe('accepted');
    expect(await uploadAt(pos, 5, Date.UTC(2026, 0, 6, 5), 1)).toBe('ERR_OFFLINE_CAP');
  });
});
