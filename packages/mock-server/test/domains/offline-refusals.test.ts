import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  cardOf,
  demoPlatform,
  deviceSigner,
  incidentsOf,
  isoAt,
  operator,
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

describe('an offline item refused for its card or code, and also over a cap or under a used number', () => {
  it('is refused for its card (ERR_CARD_NOT_ACTIVE, offline_payment_refused with the card), not for the cap or the number', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = await registerPos(p, 'pos-r', 1_000, 1_500);
    const card = cardOf(p, 's-001');
    const uid = '04a1b2c3d4e5f6'; // s-001's physical card
    const t = p.clock.nowSeconds() - 60;
    // a sale booked under R-1 before the card was lost
    const first = await uploadOffline(p, pos, [
      { seq: 1, out_trade_no: 'R-1', amount: 1_000, uid_hex: uid, captured_at: isoAt(t) },
    ]);
    expect(first.results[0]?.outcome).toBe('accepted');
    const lost = await p.app.inject(signed(p, operator(p), 'POST', `/v1/cards/${card}/report-lost`, {}));
    expect(lost.statusCode, lost.body).toBe(200);
    const after = p.clock.nowSeconds() + 10;
    p.clock.advance(30);
    const before = walletBalance(p, 's-001');
    const r = await uploadOffline(p, pos, [
      // the lost card tapped after the report: over the per-payment cap
      { seq: 2, out_trade_no: 'R-2', amount: 1_001, uid_hex: uid, captured_at: isoAt(after) },
      // over the day's cap (1 000 + 600 > 1 500)
      { seq: 3, out_trade_no: 'R-3', amount: 600, uid_hex: uid, captured_at: isoAt(after) },
      // under a number that names another sale
      { seq: 4, out_trade_no: 'R-1', amount: 200, uid_hex: uid, captured_at: isoAt(after) },
    ]);
    expect(r.results.map((x) => [x.seq, x.outcome, x.code])).toEqual([
      [2, 'rejected', 'ERR_CARD_NOT_ACTIVE'],
      [3, 'rejected', 'ERR_CARD_NOT_ACTIVE'],
      [4, 'rejected', 'ERR_CARD_NOT_ACTIVE'],
    ]);
    expect(walletBalance(p, 's-001')).toBe(before);
    expect((await incidentsOf(p)).map((i) => [i.kind, i.seq, i.card_id, i.code, i.amount])).toEqual([
      ['offline_payment_refused', 2, card, 'ERR_CARD_NOT_ACTIVE', 1_001],
      ['offline_payment_refused', 3, card, 'ERR_CARD_NOT_ACTIVE', 600],
      ['offline_payment_refused', 4, card, 'ERR_CARD_NOT_ACTIVE', 200],
    ]);
    // sent again: the first answers, nothing new
    const again = await uploadOffline(p, pos, [
      { seq: 2, out_trade_no: 'R-2', amount: 1_001, uid_hex: uid, captured_at: isoAt(after) },
    ]);
    expect(again.results[0]).toMatchObject({ outcome: 'duplicate', code: 'ERR_CARD_NOT_ACTIVE' });
    expect(await incidentsOf(p)).toHaveLength(3);
  });

  it('a code that does not verify is refused for it (its token code), not for the cap', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = deviceSigner(p, 'pos-01'); // 5 000 per payment
    const t = p.clock.nowSeconds() - 20;
    const stale = await qrOf(p, 's-002', 2, t - 3_600); // made an hour before its capture
    const r = await uploadOffline(p, pos, [
      { seq: 1, out_trade_no: 'Z-1', amount: 5_001, qr_text: stale, captured_at: isoAt(t) },
    ]);
    expect(r.results[0]?.outcome).toBe('rejected');
    expect(r.results[0]?.code).not.toBe('ERR_OFFLINE_CAP');
    const [i] = await incidentsOf(p);
    expect(i).toMatchObject({
      kind: 'offline_payment_refused',
      seq: 1,
      amount: 5_001,
      code: r.results[0]?.code,
    });
  });
});

describe('a refused sale sent again under another seq', () => {
  it('stays refused once its reason is gone (a capture time ahead of the clock): not booked after its incident', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = deviceSigner(p, 'pos-01');
    const sale = {
      out_trade_no: 'AHEAD-1',
      amount: 300,
      uid_hex: '04a1b2c3d4e5f6',
      captured_at: isoAt(p.clock.nowSeconds() + 400), // beyond the 300 s tolerance
    };
    const first = await uploadOffline(p, pos, [{ seq: 1, ...sale }]);
    expect(first.results[0]).toMatchObject({ outcome: 'rejected', code: 'ERR_CAPTURED_AT' });
    const before = walletBalance(p, 's-001');
    p.clock.advance(200); // the capture time is now within the tolerance
    const again = await uploadOffline(p, pos, [{ seq: 2, ...sale }]);
    expect(again.results[0]).toMatchObject({ outcome: 'duplicate', code: 'ERR_CAPTURED_AT', order_id: null });
    expect(walletBalance(p, 's-001')).toBe(before);
    expect((await incidentsOf(p)).map((i) => [i.kind, i.seq, i.code])).toEqual([
      ['offline_payment_refused', 1, 'ERR_CAPTURED_AT'],
    ]);
  });

  it('is a duplicate of its refusal (same code, no second incident), for a code and for a card tap', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = await registerPos(p, 'pos-s', 1_000, 100_000);
    const other = await registerPos(p, 'pos-o', 1_000, 100_000);
    const t = p.clock.nowSeconds() - 30;
    const qr = await qrOf(p, 's-002', 2, t);
    const shared = await qrOf(p, 't-001', 2, t);
    const uid = '04a1b2c3d4e5f6';
    const sales = {
      capQr: { out_trade_no: 'S-1', amount: 1_500, qr_text: qr, captured_at: isoAt(t) },
      capTap: { out_trade_no: 'S-2', amount: 1_200, uid_hex: uid, captured_at: isoAt(t) },
      usedTwice: { out_trade_no: 'S-3', amount: 100, qr_text: shared, captured_at: isoAt(t) },
    };
    expect(
      (
        await uploadOffline(p, other, [
          { seq: 1, out_trade_no: 'O-1', amount: 100, qr_text: shared, captured_at: isoAt(t) },
        ])
      ).accepted,
    ).toBe(1);
    const first = await uploadOffline(p, pos, [
      { seq: 1, ...sales.capQr },
      { seq: 2, ...sales.capTap },
      { seq: 3, ...sales.usedTwice },
    ]);
    const answers = first.results.map((x) => [x.outcome, x.code, x.conflict_device_id]);
    expect(answers).toEqual([
      ['rejected', 'ERR_OFFLINE_CAP', null],
      ['rejected', 'ERR_OFFLINE_CAP', null],
      ['rejected', 'ERR_CODE_ALREADY_USED', 'pos-o'],
    ]);
    const reported = await incidentsOf(p);
    expect(reported.map((i) => [i.kind, i.seq])).toEqual([
      ['offline_cap_exceeded', 1],
      ['offline_cap_exceeded', 2],
      ['code_used_twice', 3],
    ]);
    const balances = [walletBalance(p, 's-002'), walletBalance(p, 's-001'), walletBalance(p, 't-001')];
    // the POS lost the answers and queued the same sales again, under new seqs (in one batch, twice)
    const again = await uploadOffline(p, pos, [
      { seq: 11, ...sales.capQr },
      { seq: 12, ...sales.capTap },
      { seq: 13, ...sales.usedTwice },
      { seq: 21, ...sales.capQr },
    ]);
    expect(
      again.results.map((x) => [x.seq, x.out_trade_no, x.outcome, x.code, x.order_id, x.conflict_device_id]),
    ).toEqual([
      [11, 'S-1', 'duplicate', 'ERR_OFFLINE_CAP', null, null],
      [12, 'S-2', 'duplicate', 'ERR_OFFLINE_CAP', null, null],
      [13, 'S-3', 'duplicate', 'ERR_CODE_ALREADY_USED', null, 'pos-o'],
      [21, 'S-1', 'duplicate', 'ERR_OFFLINE_CAP', null, null],
    ]);
    expect([again.accepted, again.duplicates, again.rejected]).toEqual([0, 4, 0]);
    // reported once: no second cap breach to collect, no code "used twice" by the POS that made the sale
    expect(await incidentsOf(p)).toEqual(reported);
    expect([walletBalance(p, 's-002'), walletBalance(p, 's-001'), walletBalance(p, 't-001')]).toEqual(
      balances,
    );
    // the new seqs answer alike when sent again
    const third = await uploadOffline(p, pos, [{ seq: 12, ...sales.capTap }]);
    expect(third.results[0]).toMatchObject({
      outcome: 'duplicate',
      code: 'ERR_OFFLINE_CAP',
      out_trade_no: 'S-2',
    });
  });

  it('another sale under the refused sale’s number (another amount or code) is judged on its own', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = await registerPos(p, 'pos-n', 1_000, 100_000);
    const t = p.clock.nowSeconds() - 30;
    const uid = '04a1b2c3d4e5f6';
    const r1 = await uploadOffline(p, pos, [
      { seq: 1, out_trade_no: 'N-1', amount: 1_500, uid_hex: uid, captured_at: isoAt(t) },
    ]);
    expect(r1.results[0]?.code).toBe('ERR_OFFLINE_CAP');
    const before = walletBalance(p, 's-001');
    const r2 = await uploadOffline(p, pos, [
      { seq: 2, out_trade_no: 'N-1', amount: 900, uid_hex: uid, captured_at: isoAt(t) },
      { seq: 3, out_trade_no: 'N-1', amount: 1_600, uid_hex: uid, captured_at: isoAt(t) },
    ]);
    expect(r2.results.map((x) => [x.seq, x.outcome, x.code])).toEqual([
      [2, 'accepted', null],
      [3, 'rejected', 'ERR_OUT_TRADE_NO_CONFLICT'],
    ]);
    expect(walletBalance(p, 's-001')).toBe(before - 900);
    expect((await incidentsOf(p)).map((i) => [i.kind, i.seq])).toEqual([
      ['offline_cap_exceeded', 1],
      ['out_trade_no_conflict', 3],
    ]);
  });
});

describe('another sale under a seq already used', () => {
  it('with the same out_trade_no (a wiped POS numbering again) is refused ERR_OUT_TRADE_NO_CONFLICT, not a duplicate; the first stays booked', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = deviceSigner(p, 'pos-01');
    const t = p.clock.nowSeconds() - 30;
    const first = await uploadOffline(p, pos, [
      { seq: 1, out_trade_no: 'W-1', amount: 300, uid_hex: '04a1b2c3d4e5f6', captured_at: isoAt(t) },
    ]);
    expect(first.results[0]).toMatchObject({ outcome: 'accepted', code: null });
    const orderId = first.results[0]?.order_id;
    const s1 = walletBalance(p, 's-001');
    const s2 = walletBalance(p, 's-002');
    // the same seq and number, another amount and another card: a sale of its own
    const other = {
      seq: 1,
      out_trade_no: 'W-1',
      amount: 450,
      qr_text: await qrOf(p, 's-002', 2, t),
      captured_at: isoAt(t),
    };
    for (let i = 0; i < 2; i++) {
      const r = await uploadOffline(p, pos, [other]);
      expect(r.results[0]).toEqual({
        seq: 1,
        out_trade_no: 'W-1',
        outcome: 'rejected',
        code: 'ERR_OUT_TRADE_NO_CONFLICT',
        order_id: null,
        conflict_device_id: null,
      });
      expect([r.accepted, r.duplicates, r.rejected]).toEqual([0, 0, 1]);
    }
    // the same amount with another card is another sale too; the first sale itself is a duplicate
    const sameAmount = await uploadOffline(p, pos, [{ ...other, amount: 300 }]);
    expect(sameAmount.results[0]).toMatchObject({ outcome: 'rejected', code: 'ERR_OUT_TRADE_NO_CONFLICT' });
    const resent = await uploadOffline(p, pos, [
      { seq: 1, out_trade_no: 'W-1', amount: 300, uid_hex: '04a1b2c3d4e5f6', captured_at: isoAt(t) },
    ]);
    expect(resent.results[0]).toMatchObject({ outcome: 'duplicate', code: null, order_id: orderId });
    expect([walletBalance(p, 's-001'), walletBalance(p, 's-002')]).toEqual([s1, s2]);
  });
});

describe('an offline sale older than the platform takes (offlineMaxAgeS)', () => {
  it('is refused ERR_CAPTURED_AT with its incident; one just within is booked; backdated days add up to nothing', async () => {
    p = await demoPlatform({ settings: { offlineMaxAgeS: 3 * 86_400 } });
    const pos = deviceSigner(p, 'pos-01');
    p.clock.advance(10 * 86_400); // the POS was registered ten days ago
    const now = p.clock.nowSeconds();
    const tap = (seq: number, t: number) => ({
      seq,
      out_trade_no: `OLD-${seq}`,
      amount: 100,
      uid_hex: '04a1b2c3d4e5f6',
      captured_at: isoAt(t),
    });
    const before = walletBalance(p, 's-001');
    // one a day for the last ten days, as a POS key spreading backdated taps would send them
    const r = await uploadOffline(
      p,
      pos,
      Array.from({ length: 10 }, (_, d) => tap(d + 1, now - d * 86_400 - 60)),
    );
    expect(r.results.map((x) => [x.seq, x.outcome, x.code])).toEqual([
      [1, 'accepted', null],
      [2, 'accepted', null],
      [3, 'accepted', null],
      ...[4, 5, 6, 7, 8, 9, 10].map((s) => [s, 'rejected', 'ERR_CAPTURED_AT']),
    ]);
    expect(walletBalance(p, 's-001')).toBe(before - 300);
    const refused = (await incidentsOf(p)).filter((i) => i.code === 'ERR_CAPTURED_AT');
    expect(refused.map((i) => [i.kind, i.seq])).toEqual(
      [4, 5, 6, 7, 8, 9, 10].map((s) => ['offline_payment_refused', s]),
    );
    // the bound to the second: 3 days ago is still taken, a second more is not
    const edge = await uploadOffline(p, pos, [tap(11, now - 3 * 86_400), tap(12, now - 3 * 86_400 - 1)]);
    expect(edge.results.map((x) => [x.outcome, x.code])).toEqual([
      ['accepted', null],
      ['rejected', 'ERR_CAPTURED_AT'],
    ]);
  });

  it('is a positive number of seconds, 7 days by default', async () => {
    for (const bad of [0, -1, Number.NaN]) {
      await expect(demoPlatform({ settings: { offlineMaxAgeS: bad } })).rejects.toThrow(RangeError);
    }
    p = await demoPlatform();
    expect(p.state.settings.offlineMaxAgeS).toBe(604_800);
  });
});
