import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  cardOf,
  demoPlatform,
  deviceSigner,
  incidentsOf,
  isoAt,
  json,
  payWithCode,
  qrOf,
  registerPos,
  signed,
  uploadOffline,
  walletBalance,
} from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

describe('an offline sale whose online attempt under the same out_trade_no took no money', () => {
  it('failed online (insufficient funds), then sold offline: rejected with an incident, not a duplicate of the failed order', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = await registerPos(p, 'pos-f', 10_000, 50_000);
    const t = p.clock.nowSeconds() - 5;
    const qr = await qrOf(p, 's-002', 2, t);
    const before = walletBalance(p, 's-002'); // 5 000
    // the create lands and fails, its answer is lost: the POS sells offline under the same number
    const online = await payWithCode(p, pos, 'F-1', 6_000, qr);
    expect(online.statusCode, online.body).toBe(201);
    expect(json(online)).toMatchObject({ status: 'failed', failure_code: 'ERR_INSUFFICIENT_FUNDS' });
    const sale = { seq: 1, out_trade_no: 'F-1', amount: 6_000, qr_text: qr, captured_at: isoAt(t) };
    const r = await uploadOffline(p, pos, [sale]);
    expect(r.results[0]).toEqual({
      seq: 1,
      out_trade_no: 'F-1',
      outcome: 'rejected',
      code: 'ERR_OUT_TRADE_NO_CONFLICT',
      order_id: null,
      conflict_device_id: null,
    });
    expect([r.accepted, r.duplicates, r.rejected]).toEqual([0, 0, 1]);
    // one use of the code (the same sale's): no code_used_twice; the operator follows it up
    const found = await incidentsOf(p);
    expect(found).toMatchObject([
      {
        kind: 'out_trade_no_conflict',
        source: 'offline_payment',
        card_id: cardOf(p, 's-002'),
        device_id: 'pos-f',
        seq: 1,
        amount: 6_000,
      },
    ]);
    // sent again, under the same seq or another: the same answer, no second incident
    const again = await uploadOffline(p, pos, [sale, { ...sale, seq: 2 }]);
    expect(again.results.map((x) => [x.outcome, x.code])).toEqual([
      ['duplicate', 'ERR_OUT_TRADE_NO_CONFLICT'],
      ['duplicate', 'ERR_OUT_TRADE_NO_CONFLICT'],
    ]);
    expect(await incidentsOf(p)).toHaveLength(1);
    expect(walletBalance(p, 's-002')).toBe(before);
  });

  it('reversed online, then sold offline under the same number: rejected; a booked one stays a duplicate', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = deviceSigner(p, 'pos-01');
    const t = p.clock.nowSeconds() - 5;
    const qr1 = await qrOf(p, 's-001', 2, t);
    const qr2 = await qrOf(p, 's-001', 2, t - 1);
    const before = walletBalance(p, 's-001');
    expect((await payWithCode(p, pos, 'V-1', 300, qr1)).statusCode).toBe(201);
    const rev = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/V-1/reverse', {}));
    expect(rev.statusCode, rev.body).toBe(200);
    expect((await payWithCode(p, pos, 'V-2', 200, qr2)).statusCode).toBe(201);
    const r = await uploadOffline(p, pos, [
      { seq: 1, out_trade_no: 'V-1', amount: 300, qr_text: qr1, captured_at: isoAt(t) },
      { seq: 2, out_trade_no: 'V-2', amount: 200, qr_text: qr2, captured_at: isoAt(t) },
    ]);
    expect(r.results.map((x) => [x.outcome, x.code])).toEqual([
      ['rejected', 'ERR_OUT_TRADE_NO_CONFLICT'],
      ['duplicate', null],
    ]);
    expect(await incidentsOf(p)).toMatchObject([{ kind: 'out_trade_no_conflict', seq: 1, amount: 300 }]);
    expect(walletBalance(p, 's-001')).toBe(before - 200);
  });
});

describe('another sale under a seq and out_trade_no already used (a POS numbering again)', () => {
  it('used its code at the counter: reported once (out_trade_no_conflict), and the code is then used twice on another POS', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = deviceSigner(p, 'pos-01');
    const other = await registerPos(p, 'pos-o');
    const t = p.clock.nowSeconds() - 30;
    const first = await uploadOffline(p, pos, [
      { seq: 1, out_trade_no: 'W-1', amount: 300, uid_hex: '04a1b2c3d4e5f6', captured_at: isoAt(t) },
    ]);
    expect(first.results[0]).toMatchObject({ outcome: 'accepted' });
    const qr = await qrOf(p, 's-002', 2, t);
    const again = { seq: 1, out_trade_no: 'W-1', amount: 450, qr_text: qr, captured_at: isoAt(t) };
    for (let i = 0; i < 2; i++) {
      const r = await uploadOffline(p, pos, [again]);
      expect(r.results[0]).toMatchObject({ outcome: 'rejected', code: 'ERR_OUT_TRADE_NO_CONFLICT' });
    }
    // the operator learns of the goods handed over, once however often the POS sends it
    expect(await incidentsOf(p)).toMatchObject([
      {
        kind: 'out_trade_no_conflict',
        source: 'offline_payment',
        card_id: cardOf(p, 's-002'),
        device_id: 'pos-01',
        seq: 1,
        amount: 450,
      },
    ]);
    // the code was used (docs: a sale refused for its number still used its code)
    const s2 = walletBalance(p, 's-002');
    const copy = await uploadOffline(p, other, [
      { seq: 1, out_trade_no: 'O-1', amount: 100, qr_text: qr, captured_at: isoAt(t + 1) },
    ]);
    expect(copy.results[0]).toMatchObject({
      outcome: 'rejected',
      code: 'ERR_CODE_ALREADY_USED',
      conflict_device_id: 'pos-01',
    });
    expect(walletBalance(p, 's-002')).toBe(s2);
    expect((await incidentsOf(p)).map((x) => [x.kind, x.device_id, x.first_device_id])).toEqual([
      ['out_trade_no_conflict', 'pos-01', null],
      ['code_used_twice', 'pos-o', 'pos-01'],
    ]);
  });
});

describe('captured_at at the clock tolerance', () => {
  it('300 s after now is booked; a fraction of a millisecond more is ERR_CAPTURED_AT, as for an event', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = deviceSigner(p, 'pos-01');
    const limit = new Date(p.clock.now() + 300_000).toISOString(); // …T08:15:00.000Z
    const tap = (seq: number, at: string) => ({
      seq,
      out_trade_no: `TOL-${seq}`,
      amount: 100,
      uid_hex: '04a1b2c3d4e5f6',
      captured_at: at,
    });
    const r = await uploadOffline(p, pos, [
      tap(1, limit.replace('.000Z', '.0001Z')),
      tap(2, limit.replace('.000Z', '.000000001Z')),
      tap(3, limit),
      tap(4, limit.replace('.000Z', '.0000Z')),
    ]);
    expect(r.results.map((x) => [x.seq, x.outcome, x.code])).toEqual([
      [1, 'rejected', 'ERR_CAPTURED_AT'],
      [2, 'rejected', 'ERR_CAPTURED_AT'],
      [3, 'accepted', null],
      [4, 'accepted', null],
    ]);
  });
});
