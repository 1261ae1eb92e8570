import type { OfflineBatchResult } from '@campus-card/core/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  registerPos,
  type Signer,
  signed,
  T0,
  walletBalance,
} from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

/** A demo platform 10 minutes after the demo cards were issued (codes are captured after that). */
async function platform(): Promise<MockPlatform> {
  const q = await demoPlatform();
  q.clock.advance(600);
  return q;
}

const balance = walletBalance;
const ordersOf = (p: MockPlatform, device: string): { out_trade_no: string; amount: number }[] =>
  p.state.db
    .prepare(
      "SELECT out_trade_no, amount FROM orders WHERE device_id = ? AND kind = 'offline_payment' ORDER BY out_trade_no",
    )
    .all(device) as never;

/** An offline item paid by `who` with a code made at `t` (unix seconds), captured then. */
async function item(p: MockPlatform, who: string, seq: number, no: string, amount: number, t: number) {
  return {
    seq,
    out_trade_no: no,
    amount,
    qr_text: await qrOf(p, who, 2, t),
    captured_at: new Date(t * 1000).toISOString(),
  };
}

const upload = async (p: MockPlatform, dev: Signer, items: object[]) => {
  const res = await p.app.inject(signed(p, dev, 'POST', '/v1/payments/offline-batches', { items }));
  expect(res.statusCode, res.body).toBe(200);
  return json<OfflineBatchResult>(res);
};
const outcomes = (r: OfflineBatchResult) => r.results.map((x) => [x.seq, x.outcome, x.code]);

describe('offline caps', () => {
  it('per transaction: above offline_tx_cap is rejected, exactly the cap is accepted', async () => {
    p = await platform();
    const pos = await registerPos(p, 'pos-tx', 1_000, 100_000);
    const t = p.clock.nowSeconds() - 20;
    const tx1 = await item(p, 's-001', 1, 'TX1', 1_001, t);
    const r = await upload(p, pos, [
      tx1,
      await item(p, 's-001', 2, 'TX2', 1_000, t),
      await item(p, 's-001', 3, 'TX3', 1, t),
    ]);
    expect(outcomes(r)).toEqual([
      [1, 'rejected', 'ERR_OFFLINE_CAP'],
      [2, 'accepted', null],
      [3, 'accepted', null],
    ]);
    expect([r.accepted, r.rejected, r.duplicates]).toEqual([2, 1, 0]);
    expect(r.results[0]).toMatchObject({ out_trade_no: 'TX1', order_id: null, conflict_device_id: null });
    expect(r.results[1]?.order_id).toMatch(/^ord_/);
    expect(ordersOf(p, 'pos-tx')).toEqual([
      { out_trade_no: 'TX2', amount: 1_000 },
      { out_trade_no: 'TX3', amount: 1 },
    ]);
    expect(balance(p, 's-001')).toBe(10_000 - 1_001);
    // the refusal is recorded under its seq: a re-upload is a duplicate carrying the same code
    const again = await upload(p, pos, [tx1]);
    expect(again.results).toEqual([
      {
        seq: 1,
        out_trade_no: 'TX1',
        outcome: 'duplicate',
        code: 'ERR_OFFLINE_CAP',
        order_id: null,
        conflict_device_id: null,
      },
    ]);
    expect(balance(p, 's-001')).toBe(8_999);
  });

  it('per device and day: the item that would pass offline_device_cap is rejected; others on that device and day too', async () => {
    p = await platform();
    const a = await registerPos(p, 'pos-a', 1_000, 2_500);
    const b = await registerPos(p, 'pos-b', 1_000, 2_500);
    const t = p.clock.nowSeconds() - 30; // 2026-01-05T08:09:30Z
    const r = await upload(p, a, [
      await item(p, 's-001', 1, 'A1', 1_000, t),
      await item(p, 's-002', 2, 'A2', 1_000, t),
      await item(p, 's-001', 3, 'A3', 600, t), // 2 600 > 2 500
      await item(p, 's-002', 4, 'A4', 500, t), // 2 500: exactly the cap
      await item(p, 's-001', 5, 'A5', 1, t), // 2 501
    ]);
    expect(outcomes(r)).toEqual([
      [1, 'accepted', null],
      [2, 'accepted', null],
      [3, 'rejected', 'ERR_OFFLINE_CAP'],
      [4, 'accepted', null],
      [5, 'rejected', 'ERR_OFFLINE_CAP'],
    ]);
    expect([r.accepted, r.rejected, r.duplicates]).toEqual([3, 2, 0]);
    expect(r.results.filter((x) => x.outcome === 'rejected').map((x) => x.order_id)).toEqual([null, null]);
    expect(ordersOf(p, 'pos-a').map((o) => o.out_trade_no)).toEqual(['A1', 'A2', 'A4']);
    expect([balance(p, 's-001'), balance(p, 's-002')]).toEqual([9_000, 3_500]);

    // a later batch of the same device, same day: still over
    const later = await upload(p, a, [await item(p, 's-001', 6, 'A6', 1, t + 10)]);
    expect(outcomes(later)).toEqual([[6, 'rejected', 'ERR_OFFLINE_CAP']]);

    // another device of the same merchant, same day, has its own budget
    const other = await upload(p, b, [
      await item(p, 's-001', 1, 'B1', 1_000, t),
      await item(p, 's-001', 2, 'B2', 1_000, t),
      await item(p, 's-002', 3, 'B3', 500, t),
    ]);
    expect(outcomes(other)).toEqual([
      [1, 'accepted', null],
      [2, 'accepted', null],
      [3, 'accepted', null],
    ]);
    expect(ordersOf(p, 'pos-b').map((o) => o.out_trade_no)).toEqual(['B1', 'B2', 'B3']);
    expect([balance(p, 's-001'), balance(p, 's-002')]).toEqual([7_000, 3_000]);
    expect(
      json<{ balanced: boolean }>(await p.app.inject(signed(p, operator(p), 'GET', '/v1/ledger/check')))
        .balanced,
    ).toBe(true);
  });

  it('the day is the business day (+08:00) of captured_at: a new day has a new budget, a late upload of a full day does not', async () => {
    p = await platform();
    const a = await registerPos(p, 'pos-d', 1_000, 1_500);
    const day1 = p.clock.nowSeconds() - 30;
    const first = await upload(p, a, [
      await item(p, 's-001', 1, 'D1', 1_000, day1),
      await item(p, 's-001', 2, 'D2', 600, day1),
    ]);
    expect(outcomes(first)).toEqual([
      [1, 'accepted', null],
      [2, 'rejected', 'ERR_OFFLINE_CAP'],
    ]);
    // the next day (08:10Z is 16:10 in Beijing)
    p.clock.advance(86_400);
    expect(new Date(p.clock.now()).toISOString()).toBe('2026-01-06T08:10:00.000Z');
    const day2 = p.clock.nowSeconds() - 30;
    // an item captured on day 1 and uploaded on day 2 counts against day 1 (full)
    const late = await upload(p, a, [await item(p, 's-001', 3, 'D3', 600, day1 + 5)]);
    expect(outcomes(late)).toEqual([[3, 'rejected', 'ERR_OFFLINE_CAP']]);
    const next = await upload(p, a, [
      await item(p, 's-001', 4, 'D4', 1_000, day2),
      await item(p, 's-001', 5, 'D5', 500, day2),
      await item(p, 's-001', 6, 'D6', 1, day2),
    ]);
    expect(outcomes(next)).toEqual([
      [4, 'accepted', null],
      [5, 'accepted', null],
      [6, 'rejected', 'ERR_OFFLINE_CAP'],
    ]);
    expect(balance(p, 's-001')).toBe(10_000 - 2_500);
    const days = p.state.db
      .prepare(
        "SELECT day, SUM(amount) AS s FROM offline_items WHERE device_id = 'pos-d' AND outcome = 'accepted' GROUP BY day ORDER BY day",
      )
      .all();
    expect(days).toEqual([
      // the UTC minute of capture
      { day: '2026-01-05T08:09Z', s: 1_000 },
      { day: '2026-01-06T08:09Z', s: 1_500 },
    ]);
  });

  it("the demo POS has the default caps (5 000 per payment, 50 000 per day), and its exhaustion leaves pos-02's alone", async () => {
    p = await platform();
    const pos1 = deviceSigner(p, 'pos-01');
    const pos2 = deviceSigner(p, 'pos-02');
    for (const id of ['pos-01', 'pos-02']) {
      const d = json(await p.app.inject(signed(p, operator(p), 'GET', `/v1/devices/${id}`)));
      expect([d.offline_tx_cap, d.offline_device_cap, d.offline_day_utc_offset]).toEqual([
        5_000,
        50_000,
        '+08:00',
      ]);
    }
    const t = T0 / 1000 + 560;
    // ten payments of 5 000 reach 50 000 exactly; the eleventh fen is over
    const items = [];
    for (let i = 1; i <= 10; i++) items.push(await item(p, 'p-001', i, `P${i}`, 5_000, t));
    items.push(await item(p, 'p-001', 11, 'P11', 1, t));
    items.push(await item(p, 'p-001', 12, 'P12', 5_001, t));
    const r = await upload(p, pos1, items);
    expect([r.accepted, r.rejected]).toEqual([10, 2]);
    expect(r.results.slice(10).map((x) => [x.seq, x.outcome, x.code])).toEqual([
      [11, 'rejected', 'ERR_OFFLINE_CAP'],
      [12, 'rejected', 'ERR_OFFLINE_CAP'],
    ]);
    expect(balance(p, 'p-001')).toBe(450_000);
    const o = await upload(p, pos2, [await item(p, 'p-001', 1, 'Q1', 5_000, t)]);
    expect(outcomes(o)).toEqual([[1, 'accepted', null]]);
    expect(balance(p, 'p-001')).toBe(445_000);
  });

  it('a capture time the POS cannot have had (after now, before the POS was registered) is refused: no day budget is made up', async () => {
    p = await platform();
    const a = await registerPos(p, 'pos-clock', 1_000, 1_500);
    const now = p.clock.now();
    const uid = '04a1b2c3d4e5f6'; // s-001's physical card: a tap carries no time of its own
    const tap = (seq: number, at: number, amount = 1_000) => ({
      seq,
      out_trade_no: `CK${seq}`,
      amount,
      uid_hex: uid,
      captured_at: new Date(at).toISOString(),
    });
    const day = 86_400_000;
    const r = await upload(p, a, [
      tap(1, now - 10_000),
      tap(2, now + day), // each made-up day would have had its own budget
      tap(3, now + 2 * day),
      tap(4, now - day), // before the POS existed
      tap(5, now - 365 * day),
      tap(6, now + 2 * day + 60_000),
    ]);
    expect(outcomes(r)).toEqual([
      [1, 'accepted', null],
      [2, 'rejected', 'ERR_CAPTURED_AT'],
      [3, 'rejected', 'ERR_CAPTURED_AT'],
      [4, 'rejected', 'ERR_CAPTURED_AT'],
      [5, 'rejected', 'ERR_CAPTURED_AT'],
      [6, 'rejected', 'ERR_CAPTURED_AT'],
    ]);
    expect(ordersOf(p, 'pos-clock').map((o) => o.out_trade_no)).toEqual(['CK1']);
    expect(balance(p, 's-001')).toBe(9_000);
    const incidents = json<{ data: { seq: number; code: string; kind: string }[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents?kind=offline_payment_refused')),
    ).data;
    expect(incidents.map((i) => [i.seq, i.code]).sort()).toEqual([
      [2, 'ERR_CAPTURED_AT'],
      [3, 'ERR_CAPTURED_AT'],
      [4, 'ERR_CAPTURED_AT'],
      [5, 'ERR_CAPTURED_AT'],
      [6, 'ERR_CAPTURED_AT'],
    ]);
    // a clock a little ahead or behind (within the signature tolerance) is no reason to refuse
    const skewed = await upload(p, a, [tap(7, now + 250_000, 250), tap(8, now - 250_000, 250)]);
    expect(outcomes(skewed)).toEqual([
      [7, 'accepted', null],
      [8, 'accepted', null],
    ]);
    expect(balance(p, 's-001')).toBe(8_500);
  });
});

describe('offline batches: what the platform refuses before it stores anything', () => {
  it('an item with neither or both of qr_text and uid_hex refuses the batch (400): nothing stored, its seq still free', async () => {
    p = await platform();
    const pos = deviceSigner(p, 'pos-01');
    const t = p.clock.nowSeconds() - 5;
    const at = new Date(t * 1000).toISOString();
    const qr = await qrOf(p, 's-001', 2, t);
    for (const bad of [
      { seq: 7, out_trade_no: 'OFF7', amount: 100, captured_at: at },
      { seq: 7, out_trade_no: 'OFF7', amount: 100, captured_at: at, qr_text: qr, uid_hex: '04a1b2c3d4e5f6' },
    ]) {
      const res = await p.app.inject(
        signed(p, pos, 'POST', '/v1/payments/offline-batches', { items: [bad] }),
      );
      expect(res.statusCode, res.body).toBe(400);
      expect(json(res)).toMatchObject({ code: 'ERR_VALIDATION' });
    }
    const incidents = json<{ data: unknown[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents')),
    );
    expect(incidents.data).toEqual([]);
    const r = await upload(p, pos, [
      { seq: 7, out_trade_no: 'OFF7', amount: 100, qr_text: qr, captured_at: at },
    ]);
    expect(outcomes(r)).toEqual([[7, 'accepted', null]]);
  });

  it('a code whose first use was refused (a cap) is still used: its use on a second device is reported', async () => {
    p = await platform();
    const a = await registerPos(p, 'pos-a', 1_000, 100_000);
    const b = await registerPos(p, 'pos-b', 5_000, 100_000);
    const t = p.clock.nowSeconds() - 20;
    const qr = await qrOf(p, 's-001', 2, t);
    const at = new Date(t * 1000).toISOString();
    const before = balance(p, 's-001');
    const first = await upload(p, a, [
      { seq: 1, out_trade_no: 'A-1', amount: 2_000, qr_text: qr, captured_at: at },
    ]);
    expect(outcomes(first)).toEqual([[1, 'rejected', 'ERR_OFFLINE_CAP']]);
    const second = await upload(p, b, [
      { seq: 1, out_trade_no: 'B-1', amount: 2_000, qr_text: qr, captured_at: at },
    ]);
    expect(outcomes(second)).toEqual([[1, 'rejected', 'ERR_CODE_ALREADY_USED']]);
    expect(second.results[0]?.conflict_device_id).toBe('pos-a');
    expect(balance(p, 's-001')).toBe(before); // charged neither time: the operator reconciles
    const kinds = json<{ data: { kind: string }[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents')),
    ).data.map((i) => i.kind);
    expect(kinds.sort()).toEqual(['code_used_twice', 'offline_cap_exceeded']);
    // the same sale sent again under its seq is a duplicate, not a second use
    const again = await upload(p, a, [
      { seq: 1, out_trade_no: 'A-1', amount: 2_000, qr_text: qr, captured_at: at },
    ]);
    expect(outcomes(again)).toEqual([[1, 'duplicate', 'ERR_OFFLINE_CAP']]);
  });
});
