import { exportJwk, generateKeyPair } from '@campus-card/core';
import type { Incident } from '@campus-card/core/api';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  signed,
  tableDigests,
} from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

type Order = {
  status: string;
  amount: number;
  refunded_amount: number;
  failure_code: string | null;
  order_id: string;
};
const pay = async (p: MockPlatform, no: string, amount: number, who = 's-001', device = 'pos-01') =>
  p.app.inject(
    signed(p, deviceSigner(p, device), 'POST', '/v1/payments', {
      out_trade_no: no,
      amount,
      qr_text: await qrOf(p, who, 2),
    }),
  );
const balance = async (p: MockPlatform, who: string) =>
  json<{ balance: number }>(await p.app.inject(signed(p, operator(p), 'GET', `/v1/wallets/${who}`))).balance;
const ledgerOk = async (p: MockPlatform) =>
  json<{ balanced: boolean; problems: string[] }>(
    await p.app.inject(signed(p, operator(p), 'GET', '/v1/ledger/check')),
  );

describe('payments', () => {
  it('fails for insufficient funds, with no debit', async () => {
    p = await demoPlatform();
    const r = await pay(p, 'X1', 20_000);
    expect(json<Order>(r)).toMatchObject({ status: 'failed', failure_code: 'ERR_INSUFFICIENT_FUNDS' });
    expect(await balance(p, 's-001')).toBe(10_000);
  });

  it('processing → success after confirmation; the POS polls; reverse returns the money', async () => {
    p = await demoPlatform();
    const r = await pay(p, 'BIG1', 60_000, 'p-001');
    expect(json<Order>(r).status).toBe('processing');
    const pos = deviceSigner(p, 'pos-01');
    expect(json<Order>(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/BIG1'))).status).toBe(
      'processing',
    );
    p.clock.advance(6);
    expect(json<Order>(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/BIG1'))).status).toBe(
      'success',
    );
    expect(await balance(p, 'p-001')).toBe(440_000);
    const rev = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIG1/reverse', {}));
    expect(json<Order>(rev).status).toBe('reversed');
    expect(await balance(p, 'p-001')).toBe(500_000);
    const close = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIG1/close', {}));
    expect([close.statusCode, json(close).code]).toEqual([409, 'ERR_ORDER_STATE']);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('closes an unpaid processing order', async () => {
    p = await demoPlatform();
    await pay(p, 'BIG2', 60_000, 'p-001');
    const r = await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments/BIG2/close', {}));
    expect(json<Order>(r).status).toBe('closed');
    p.clock.advance(10);
    expect(
      json<Order>(await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'GET', '/v1/payments/BIG2')))
        .status,
    ).toBe('closed');
    expect(await balance(p, 'p-001')).toBe(500_000);
  });

  it('processing → reversed before confirmation: no money moves, and it never settles', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    expect(json<Order>(await pay(p, 'BIG3', 60_000, 'p-001')).status).toBe('processing');
    const rev = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIG3/reverse', {}));
    expect([rev.statusCode, json<Order>(rev).status, json<Order>(rev).refunded_amount]).toEqual([
      200,
      'reversed',
      0,
    ]);
    // reversing again answers the same order; closing a reversed order is refused
    const again = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIG3/reverse', {}));
    expect([again.statusCode, json<Order>(again).status]).toEqual([200, 'reversed']);
    const close = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIG3/close', {}));
    expect([close.statusCode, json(close).code]).toEqual([409, 'ERR_ORDER_STATE']);
    p.clock.advance(10);
    expect(json<Order>(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/BIG3'))).status).toBe(
      'reversed',
    );
    expect(await balance(p, 'p-001')).toBe(500_000);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('a payment confirmed before money came in is judged without it, whatever first touches the wallet', async () => {
    // s-001 holds 10 000; 60 000 waits for the holder's confirmation (at +5 s) and is due later
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    expect(json<Order>(await pay(p, 'BIG-TU', 60_000)).status).toBe('processing');
    p.clock.advance(10);
    // a top-up after the confirmation time must not pay for it
    const tu = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/wallets/s-001/top-ups', {
        out_trade_no: 'TU-late',
        amount: 100_000,
        channel: 'simulated',
      }),
    );
    expect(tu.statusCode, tu.body).toBe(201);
    const big = json<Order>(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/BIG-TU')));
    expect([big.status, big.failure_code]).toEqual(['failed', 'ERR_INSUFFICIENT_FUNDS']);
    expect(await balance(p, 's-001')).toBe(110_000);
    expect((await ledgerOk(p)).balanced).toBe(true);

    // the same for a refund or a reversal of another order, which give money back
    expect(json<Order>(await pay(p, 'SMALL', 9_000)).status).toBe('success'); // 101 000 left
    expect(json<Order>(await pay(p, 'BIG-RF', 105_000)).status).toBe('processing');
    p.clock.advance(10);
    const rf = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments/SMALL/refunds', { out_refund_no: 'RF-late', amount: 9_000 }),
    );
    expect(rf.statusCode, rf.body).toBe(201);
    const big2 = json<Order>(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/BIG-RF')));
    expect([big2.status, big2.failure_code]).toEqual(['failed', 'ERR_INSUFFICIENT_FUNDS']);
    expect(await balance(p, 's-001')).toBe(110_000);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('processing → failed at confirmation when the money went meanwhile; a failed order cannot be reversed or closed', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    // 400 000 of 500 000 waits for confirmation; a 20 000 payment (below the threshold) settles at once
    expect(json<Order>(await pay(p, 'BIG4', 400_000, 'p-001')).status).toBe('processing');
    expect(json<Order>(await pay(p, 'NOW1', 20_000, 'p-001')).status).toBe('success');
    const top = await p.app.inject(signed(p, operator(p), 'GET', '/v1/wallets/p-001'));
    expect(json<{ balance: number }>(top).balance).toBe(480_000);
    expect(json<Order>(await pay(p, 'BIG5', 100_000, 'p-001')).status).toBe('processing');
    p.clock.advance(6);
    // BIG4 confirms first (400 000 of 480 000), then BIG5 finds 80 000 and fails
    const big4 = json<Order>(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/BIG4')));
    const big5 = json<Order>(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/BIG5')));
    expect([big4.status, big5.status, big5.failure_code]).toEqual([
      'success',
      'failed',
      'ERR_INSUFFICIENT_FUNDS',
    ]);
    expect(await balance(p, 'p-001')).toBe(80_000);
    for (const action of ['reverse', 'close']) {
      const r = await p.app.inject(signed(p, pos, 'POST', `/v1/payments/BIG5/${action}`, {}));
      expect([action, r.statusCode, json(r).code]).toEqual([action, 409, 'ERR_ORDER_STATE']);
    }
    // a closed order cannot be reversed either
    expect(json<Order>(await pay(p, 'BIG6', 60_000, 'p-001')).status).toBe('processing');
    expect(
      json<Order>(await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIG6/close', {}))).status,
    ).toBe('closed');
    const rev = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIG6/reverse', {}));
    expect([rev.statusCode, json(rev).code]).toEqual([409, 'ERR_ORDER_STATE']);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('refunds partially, idempotently by out_refund_no, never beyond the amount', async () => {
    p = await demoPlatform();
    await pay(p, 'R1', 1_000);
    const pos = deviceSigner(p, 'pos-01');
    const refund = (no: string, amount: number) =>
      p.app.inject(signed(p, pos, 'POST', '/v1/payments/R1/refunds', { out_refund_no: no, amount }));
    expect((await refund('RF1', 300)).statusCode).toBe(201);
    expect((await refund('RF1', 300)).statusCode).toBe(200);
    expect(json(await refund('RF1', 400)).code).toBe('ERR_CONFLICT');
    expect(json(await refund('RF2', 800)).code).toBe('ERR_REFUND_EXCEEDS');
    expect((await refund('RF2', 700)).statusCode).toBe(201);
    const o = json<Order>(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/R1')));
    expect([o.status, o.refunded_amount]).toEqual(['success', 1_000]);
    expect(await balance(p, 's-001')).toBe(10_000);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('the physical card pays from the same wallet as the e-card (C5, G1)', async () => {
    p = await demoPlatform();
    await pay(p, 'E1', 1_000);
    const r = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
        out_trade_no: 'P1',
        amount: 500,
        uid_hex: '04a1b2c3d4e5f6',
      }),
    );
    expect(json<Order & { via: string }>(r)).toMatchObject({ status: 'success', via: 'physical_card' });
    expect(await balance(p, 's-001')).toBe(8_500);
  });

  it('business keys: same out_trade_no with another body is 409, the same body returns the order', async () => {
    p = await demoPlatform();
    const qr = await qrOf(p, 's-001', 2);
    const pos = deviceSigner(p, 'pos-01');
    const a = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', { out_trade_no: 'D1', amount: 100, qr_text: qr }),
    );
    const b = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', { out_trade_no: 'D1', amount: 100, qr_text: qr }),
    );
    const c = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', { out_trade_no: 'D1', amount: 200, qr_text: qr }),
    );
    expect([a.statusCode, b.statusCode, c.statusCode]).toEqual([201, 200, 409]);
    expect(json<Order>(b).order_id).toBe(json<Order>(a).order_id);
    expect(await balance(p, 's-001')).toBe(9_900);
  });

  it('parents pay a linked student fee; others may not', async () => {
    p = await demoPlatform();
    const op = operator(p);
    const ok = await p.app.inject(
      signed(p, op, 'POST', '/v1/fees', {
        out_trade_no: 'F1',
        payer_person_id: 'p-001',
        student_person_id: 's-001',
        fee_type: 'tuition',
        amount: 300_000,
      }),
    );
    expect(json<Order>(ok).status).toBe('success');
    const no = await p.app.inject(
      signed(p, op, 'POST', '/v1/fees', {
        out_trade_no: 'F2',
        payer_person_id: 'p-001',
        student_person_id: 's-002',
        fee_type: 'meals',
        amount: 1,
      }),
    );
    expect(no.statusCode).toBe(403);
    const sum = json(
      await p.app.inject(
        signed(p, op, 'GET', '/v1/wallets/p-001/summary?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z'),
      ),
    );
    expect(sum).toMatchObject({ fees_paid: 300_000, topped_up: 500_000, spent: 0 });
  });

  it('offline batches: dedupe by (device, seq), caps, one code on two devices detected', async () => {
    p = await demoPlatform();
    const t = p.clock.nowSeconds();
    const qr = await qrOf(p, 's-002', 2, t - 10);
    const at = new Date((t - 10) * 1000).toISOString();
    const item = (seq: number, no: string, amount: number, q = qr) => ({
      seq,
      out_trade_no: no,
      amount,
      qr_text: q,
      captured_at: at,
    });
    const qr2 = await qrOf(p, 's-002', 2, t - 5);
    const up = (device: string, items: object[]) =>
      p.app.inject(signed(p, deviceSigner(p, device), 'POST', '/v1/payments/offline-batches', { items }));
    const first = json<{ accepted: number; rejected: number; results: { code: string | null }[] }>(
      await up('pos-01', [item(1, 'O1', 300), item(2, 'O2', 6_000, qr2)]),
    );
    expect([first.accepted, first.rejected, first.results[1]?.code]).toEqual([1, 1, 'ERR_OFFLINE_CAP']);
    const dup = json<{ duplicates: number }>(await up('pos-01', [item(1, 'O1', 300)]));
    expect(dup.duplicates).toBe(1);
    const other = json<{ results: { code: string | null; conflict_device_id: string | null }[] }>(
      await up('pos-02', [item(1, 'Q1', 300)]),
    );
    expect(other.results[0]).toMatchObject({ code: 'ERR_CODE_ALREADY_USED', conflict_device_id: 'pos-01' });
    expect(await balance(p, 's-002')).toBe(4_700);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('the ledger balances to the fen after a random sequence of operations (fast-check, seed 42)', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const op = operator(p);
    let n = 0;
    const opArb = fc.oneof(
      fc.record({
        k: fc.constant('pay' as const),
        amount: fc.integer({ min: 1, max: 70_000 }),
        who: fc.constantFrom('s-001', 's-002', 't-001', 'p-002'),
      }),
      fc.record({
        k: fc.constant('topup' as const),
        amount: fc.integer({ min: 1, max: 20_000 }),
        who: fc.constantFrom('s-001', 's-002'),
      }),
      fc.record({ k: fc.constant('refund' as const), amount: fc.integer({ min: 1, max: 3_000 }) }),
      fc.record({ k: fc.constant('reverse' as const) }),
      fc.record({ k: fc.constant('tick' as const), s: fc.integer({ min: 1, max: 10 }) }),
    );
    const paid: string[] = [];
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 5, maxLength: 25 }), async (ops) => {
        for (const o of ops) {
          n++;
          if (o.k === 'pay') {
            const r = await pay(p, `FC${n}`, o.amount, o.who);
            if (r.statusCode === 201) paid.push(`FC${n}`);
          } else if (o.k === 'topup') {
            await p.app.inject(
              signed(p, op, 'POST', `/v1/wallets/${o.who}/top-ups`, {
                out_trade_no: `FT${n}`,
                amount: o.amount,
                channel: 'bank',
              }),
            );
          } else if (o.k === 'refund' && paid.length > 0) {
            const no = paid[n % paid.length]!;
            await p.app.inject(
              signed(p, pos, 'POST', `/v1/payments/${no}/refunds`, {
                out_refund_no: `RF${n}`,
                amount: o.amount,
              }),
            );
          } else if (o.k === 'reverse' && paid.length > 0) {
            await p.app.inject(
              signed(p, pos, 'POST', `/v1/payments/${paid[(n * 7) % paid.length]}/reverse`, {}),
            );
          } else if (o.k === 'tick') {
            p.clock.advance(o.s);
          }
        }
        const check = await ledgerOk(p);
        expect(check.problems).toEqual([]);
        expect(check.balanced).toBe(true);
        // the summary since the demo top-ups agrees with the ledger: net is the balance
        for (const who of ['s-001', 's-002', 't-001', 'p-002']) {
          const s = json<{ net: number; spent: number; refunded: number }>(
            await p.app.inject(
              signed(
                p,
                op,
                'GET',
                `/v1/wallets/${who}/summary?from=2026-01-01T00:00:00Z&to=2027-01-01T00:00:00Z`,
              ),
            ),
          );
          expect([who, s.net]).toEqual([who, await balance(p, who)]);
          expect(s.refunded).toBeLessThanOrEqual(s.spent);
        }
      }),
      { numRuns: 8, seed: 42 },
    );
  }, 120_000);
});

describe('only payments are reversed, closed or refunded', () => {
  const topUp = (p: MockPlatform, no: string, amount = 1_000) =>
    p.app.inject(
      signed(p, deviceSigner(p, 'm-canteen-s'), 'POST', '/v1/wallets/s-001/top-ups', {
        out_trade_no: no,
        amount,
        channel: 'wechat',
      }),
    );

  it('reversing a top-up must not credit the wallet again: 409 ERR_ORDER_STATE, nothing changes', async () => {
    p = await demoPlatform();
    const m = deviceSigner(p, 'm-canteen-s');
    const before = await balance(p, 's-001');
    expect((await topUp(p, 'TU1')).statusCode).toBe(201);
    const skip = new Set(['nonces', 'idempotency']);
    const tables = tableDigests(p, skip);
    const rev = await p.app.inject(signed(p, m, 'POST', '/v1/payments/TU1/reverse', {}));
    expect([rev.statusCode, json(rev).code]).toEqual([409, 'ERR_ORDER_STATE']);
    expect(rev.headers['content-type']).toContain('application/problem+json');
    expect(changedTables(tables, tableDigests(p, skip))).toEqual([]);
    expect(await balance(p, 's-001')).toBe(before + 1_000);
    expect(json<Order>(await p.app.inject(signed(p, m, 'GET', '/v1/payments/TU1'))).status).toBe('success');
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('a top-up cannot be closed or refunded either; a fee cannot be reached by a merchant', async () => {
    p = await demoPlatform();
    const m = deviceSigner(p, 'm-canteen-s');
    expect((await topUp(p, 'TU2')).statusCode).toBe(201);
    const skip = new Set(['nonces', 'idempotency']);
    const tables = tableDigests(p, skip);
    const close = await p.app.inject(signed(p, m, 'POST', '/v1/payments/TU2/close', {}));
    expect([close.statusCode, json(close).code]).toEqual([409, 'ERR_ORDER_STATE']);
    const refund = await p.app.inject(
      signed(p, m, 'POST', '/v1/payments/TU2/refunds', { out_refund_no: 'RTU2', amount: 1 }),
    );
    expect([refund.statusCode, json(refund).code]).toEqual([409, 'ERR_ORDER_STATE']);
    expect(changedTables(tables, tableDigests(p, skip))).toEqual([]);
    // an operator's fee has the operator's scope: a merchant or POS does not find it
    const fee = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/fees', {
        out_trade_no: 'FEE1',
        payer_person_id: 'p-001',
        student_person_id: 's-001',
        fee_type: 'meals',
        amount: 100,
      }),
    );
    expect(fee.statusCode).toBe(201);
    for (const who of [m, deviceSigner(p, 'pos-01')]) {
      const r = await p.app.inject(signed(p, who, 'POST', '/v1/payments/FEE1/reverse', {}));
      expect([who.id, r.statusCode, json(r).code]).toEqual([who.id, 404, 'ERR_NOT_FOUND']);
    }
    expect((await ledgerOk(p)).balanced).toBe(true);
  });
});

describe('offline items and business keys', () => {
  type Result = { outcome: string; code: string | null; order_id: string | null };
  const upload = async (p: MockPlatform, items: object[]) => {
    const r = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments/offline-batches', { items }),
    );
    expect(r.statusCode, r.body).toBe(200);
    return json<{ results: Result[]; accepted: number; duplicates: number; rejected: number }>(r);
  };

  it('an item whose out_trade_no is already used for another order is rejected (not a duplicate), with an incident', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const t = p.clock.nowSeconds();
    const online = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', {
        out_trade_no: 'O-1',
        amount: 100,
        qr_text: await qrOf(p, 's-002', 2),
      }),
    );
    expect(online.statusCode).toBe(201);
    const item = {
      seq: 1,
      out_trade_no: 'O-1',
      amount: 2_500,
      qr_text: await qrOf(p, 's-001', 2, t - 5),
      captured_at: new Date((t - 5) * 1000).toISOString(),
    };
    const before = await balance(p, 's-001');
    const up = await upload(p, [item]);
    expect(up.results[0]).toMatchObject({
      outcome: 'rejected',
      code: 'ERR_OUT_TRADE_NO_CONFLICT',
      order_id: null,
    });
    expect([up.accepted, up.duplicates, up.rejected]).toEqual([0, 0, 1]);
    expect(await balance(p, 's-001')).toBe(before);
    // the sale the POS made is reported to the operator, who reconciles it
    const incidents = json<{ data: { kind: string; device_id: string; seq: number; amount: number }[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents')),
    ).data;
    expect(incidents).toEqual([
      expect.objectContaining({
        kind: 'out_trade_no_conflict',
        source: 'offline_payment',
        device_id: 'pos-01',
        seq: 1,
        amount: 2_500,
        card_id: p.demo!.cards.find((c) => c.personId === 's-001')!.cardId,
      }),
    ]);
    // the (device, seq) outcome is recorded: the same item again is a duplicate of the rejection
    const again = await upload(p, [item]);
    expect(again.results[0]).toMatchObject({ outcome: 'duplicate', code: 'ERR_OUT_TRADE_NO_CONFLICT' });
    expect(
      json<{ data: unknown[] }>(await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents'))).data,
    ).toHaveLength(1);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('the identical item again is a duplicate, under its seq or another one', async () => {
    p = await demoPlatform();
    const t = p.clock.nowSeconds();
    const item = {
      seq: 1,
      out_trade_no: 'O-2',
      amount: 300,
      qr_text: await qrOf(p, 's-002', 2, t - 5),
      captured_at: new Date((t - 5) * 1000).toISOString(),
    };
    const first = await upload(p, [item]);
    expect(first.results[0]?.outcome).toBe('accepted');
    const orderId = first.results[0]?.order_id;
    // the same seq: answered from the (device, seq) record
    expect((await upload(p, [item])).results[0]).toMatchObject({ outcome: 'duplicate', order_id: orderId });
    // another seq, same order: a duplicate of the order, and that seq is recorded too
    const moved = await upload(p, [{ ...item, seq: 2 }]);
    expect(moved.results[0]).toMatchObject({ outcome: 'duplicate', code: null, order_id: orderId });
    expect(
      p.state.db.prepare('SELECT order_id FROM offline_items WHERE device_id = ? AND seq = 2').get('pos-01'),
    ).toEqual({ order_id: orderId });
    expect(await balance(p, 's-002')).toBe(4_700);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });
});

describe('wallet summary', () => {
  type Summary = {
    spent: number;
    refunded: number;
    topped_up: number;
    fees_paid: number;
    payment_count: number;
    net: number;
  };
  const summary = async (
    p: MockPlatform,
    who: string,
    from = '2026-01-05T00:00:00Z',
    to = '2026-01-06T00:00:00Z',
  ) => {
    const r = await p.app.inject(
      signed(p, operator(p), 'GET', `/v1/wallets/${who}/summary?from=${from}&to=${to}`),
    );
    expect(r.statusCode, r.body).toBe(200);
    return json<Summary>(r);
  };

  it('processing → reversed before capture is not spent', async () => {
    p = await demoPlatform();
    expect(new Date(p.clock.now()).toISOString().slice(0, 10)).toBe('2026-01-05');
    expect(json<Order>(await pay(p, 'BIGR', 60_000, 'p-001')).status).toBe('processing');
    const pos = deviceSigner(p, 'pos-01');
    expect((await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIGR/reverse', {}))).statusCode).toBe(
      200,
    );
    const s = await summary(p, 'p-001');
    expect(s).toMatchObject({ spent: 0, payment_count: 0, refunded: 0, topped_up: 500_000 });
    expect(s.net).toBe(await balance(p, 'p-001'));
  });

  it('a captured payment reversed, a partial refund, a fee and a failed payment agree with the ledger', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    // captured at once, then reversed: spent, and all of it back
    expect(json<Order>(await pay(p, 'S1', 2_000, 'p-001')).status).toBe('success');
    expect((await p.app.inject(signed(p, pos, 'POST', '/v1/payments/S1/reverse', {}))).statusCode).toBe(200);
    // captured after confirmation, partly refunded
    expect(json<Order>(await pay(p, 'S2', 60_000, 'p-001')).status).toBe('processing');
    p.clock.advance(6);
    const refund = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments/S2/refunds', { out_refund_no: 'S2-R1', amount: 5_000 }),
    );
    expect(refund.statusCode).toBe(201);
    // failed for lack of funds: nothing moves
    expect(json<Order>(await pay(p, 'S3', 49_000, 's-002')).status).toBe('failed');
    const fee = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/fees', {
        out_trade_no: 'F9',
        payer_person_id: 'p-001',
        student_person_id: 's-001',
        fee_type: 'materials',
        amount: 1_000,
      }),
    );
    expect(fee.statusCode).toBe(201);
    const s = await summary(p, 'p-001');
    expect(s).toEqual(
      expect.objectContaining({
        spent: 62_000,
        payment_count: 2,
        refunded: 7_000,
        topped_up: 500_000,
        fees_paid: 1_000,
      }),
    );
    expect(s.net).toBe(s.topped_up + s.refunded - s.spent - s.fees_paid);
    expect(s.net).toBe(await balance(p, 'p-001'));
    expect(await summary(p, 's-002')).toMatchObject({ spent: 0, payment_count: 0, net: 5_000 });
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('totals are sums: beyond one order’s maximum they are still answered (200)', async () => {
    p = await demoPlatform();
    for (const no of ['BIG-TU-1', 'BIG-TU-2']) {
      const r = await p.app.inject(
        signed(p, operator(p), 'POST', '/v1/wallets/s-003/top-ups', {
          out_trade_no: no,
          amount: 1_000_000_000,
          channel: 'bank',
        }),
      );
      expect(r.statusCode, r.body).toBe(201);
    }
    expect(await summary(p, 's-003')).toMatchObject({ topped_up: 2_000_000_000, net: 2_000_000_000 });
  });
});

describe('business keys in paths', () => {
  it('refuses "." and ".." as out_trade_no (a URL parser collapses them): 400 ERR_VALIDATION, no order', async () => {
    p = await demoPlatform();
    for (const no of ['.', '..']) {
      const r = await p.app.inject(
        signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
          out_trade_no: no,
          amount: 100,
          qr_text: await qrOf(p, 's-001', 2),
        }),
      );
      expect([no, r.statusCode, json(r).code]).toEqual([no, 400, 'ERR_VALIDATION']);
    }
    const ok = await pay(p, '...', 100);
    expect(ok.statusCode).toBe(201);
    expect(
      json<Order>(await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'GET', '/v1/payments/...'))).status,
    ).toBe('success');
    expect(await balance(p, 's-001')).toBe(9_900);
  });
});

describe('offline items are judged by the card as it was at their capture time', () => {
  type Result = { outcome: string; code: string | null };
  const upload = async (p: MockPlatform, items: object[]) => {
    const r = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments/offline-batches', { items }),
    );
    expect(r.statusCode, r.body).toBe(200);
    return json<{ results: Result[] }>(r).results.map((x) => [x.outcome, x.code]);
  };
  const cardOf = (p: MockPlatform, who: string) => p.demo!.cards.find((c) => c.personId === who)!.cardId;
  const post = async (p: MockPlatform, url: string, body: object = {}) => {
    const r = await p.app.inject(signed(p, operator(p), 'POST', url, body));
    expect(r.statusCode, r.body).toBe(200);
  };
  const incidents = async (p: MockPlatform) =>
    json<{ data: Incident[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents?kind=offline_payment_refused')),
    ).data.map((i) => [i.card_id, i.device_id, i.seq, i.amount, i.code, i.source]);
  const at = (t: number) => new Date(t * 1000).toISOString();

  it('a code or a card tap captured before the report-lost is booked; one after it is refused, with an incident', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const t = p.clock.nowSeconds();
    const qr = await qrOf(p, 's-001', 2, t - 5);
    const card = cardOf(p, 's-001');
    p.clock.advance(2);
    await post(p, `/v1/cards/${card}/report-lost`);
    const lostAt = p.clock.nowSeconds();
    p.clock.advance(30);
    const uid = '04a1b2c3d4e5f6';
    expect(
      await upload(p, [
        { seq: 1, out_trade_no: 'L1', amount: 300, qr_text: qr, captured_at: at(t - 5) },
        { seq: 2, out_trade_no: 'L2', amount: 300, uid_hex: uid, captured_at: at(t - 5) },
        // a tap at or after the report: the owner's wallet must not pay for a lost card
        { seq: 3, out_trade_no: 'L3', amount: 400, uid_hex: uid, captured_at: at(lostAt) },
        { seq: 4, out_trade_no: 'L4', amount: 500, uid_hex: uid, captured_at: at(lostAt + 10) },
      ]),
    ).toEqual([
      ['accepted', null],
      ['accepted', null],
      ['rejected', 'ERR_CARD_NOT_ACTIVE'],
      ['rejected', 'ERR_CARD_NOT_ACTIVE'],
    ]);
    expect(await balance(p, 's-001')).toBe(9_400);
    expect((await ledgerOk(p)).balanced).toBe(true);
    expect(await incidents(p)).toEqual([
      [card, 'pos-01', 3, 400, 'ERR_CARD_NOT_ACTIVE', 'offline_payment'],
      [card, 'pos-01', 4, 500, 'ERR_CARD_NOT_ACTIVE', 'offline_payment'],
    ]);
    // online, the lost card is refused now, whatever its history
    const online = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
        out_trade_no: 'ON-1',
        amount: 100,
        uid_hex: uid,
      }),
    );
    expect([online.statusCode, json(online).code]).toEqual([403, 'ERR_CARD_NOT_ACTIVE']);
  });

  it('lost, found, lost again: each sale is judged by the status of its own moment', async () => {
    p = await demoPlatform();
    const card = cardOf(p, 's-001');
    const uid = '04a1b2c3d4e5f6';
    const t0 = p.clock.nowSeconds();
    p.clock.advance(10);
    await post(p, `/v1/cards/${card}/report-lost`); // t0+10
    p.clock.advance(10);
    await post(p, `/v1/cards/${card}/restore`); // t0+20
    p.clock.advance(10);
    await post(p, `/v1/cards/${card}/report-lost`); // t0+30
    p.clock.advance(10);
    const item = (seq: number, t: number) => ({
      seq,
      out_trade_no: `F${seq}`,
      amount: 100,
      uid_hex: uid,
      captured_at: at(t),
    });
    expect(await upload(p, [item(1, t0 + 5), item(2, t0 + 15), item(3, t0 + 25), item(4, t0 + 35)])).toEqual([
      ['accepted', null],
      ['rejected', 'ERR_CARD_NOT_ACTIVE'],
      ['accepted', null],
      ['rejected', 'ERR_CARD_NOT_ACTIVE'],
    ]);
    expect(await balance(p, 's-001')).toBe(9_800);
  });

  it('a code made with the phone key a renewal replaced is booked if captured before the renewal, refused after', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const t = p.clock.nowSeconds();
    const before = await qrOf(p, 's-001', 2, t - 5);
    const card = cardOf(p, 's-001');
    p.clock.advance(1);
    await post(p, `/v1/cards/${card}/renew`, {
      holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
    });
    // a code of the old key, made (and captured) after the renewal
    const late = await qrOf(p, 's-001', 2, p.clock.nowSeconds());
    expect(
      await upload(p, [
        { seq: 1, out_trade_no: 'K1', amount: 300, qr_text: before, captured_at: at(t - 5) },
        { seq: 2, out_trade_no: 'K2', amount: 300, qr_text: late, captured_at: at(p.clock.nowSeconds()) },
      ]),
    ).toEqual([
      ['accepted', null],
      ['rejected', 'ERR_CODE_INVALID'],
    ]);
    expect(await balance(p, 's-001')).toBe(9_700);
    expect((await incidents(p)).map((i) => [i[0], i[4]])).toEqual([[card, 'ERR_CODE_INVALID']]);
  });

  it('a tap captured before its card was issued (a POS clock behind) is judged by the card as issued; a code that does not verify is refused with an incident naming no card', async () => {
    p = await demoPlatform();
    const uid = '04a1b2c3d4e5f6';
    const card = cardOf(p, 's-001');
    const first = p.state.db
      .prepare('SELECT MIN(since) AS since FROM card_history WHERE card_id = ?')
      .get(card) as {
      since: number;
    };
    expect(first.since).toBeGreaterThan(0);
    const t = Math.floor(first.since / 1000);
    expect(
      await upload(p, [
        { seq: 1, out_trade_no: 'E1', amount: 300, uid_hex: uid, captured_at: at(t - 60) },
        { seq: 2, out_trade_no: 'E2', amount: 200, qr_text: 'CC1:NOT A CODE', captured_at: at(t + 1) },
      ]),
    ).toEqual([
      ['accepted', null],
      ['rejected', expect.stringMatching(/^ERR_/)],
    ]);
    expect((await incidents(p)).map((i) => [i[0], i[2], i[3]])).toEqual([[null, 2, 200]]);
    expect(await balance(p, 's-001')).toBe(9_700);
  });

  it('validity is judged at the capture time: a tap before the card expired is accepted, one after is not', async () => {
    p = await demoPlatform();
    const card = p.state.db.prepare("SELECT expires_at FROM cards WHERE person_id = 's-001'").get() as {
      expires_at: number;
    };
    const expiry = Math.floor(card.expires_at / 1000);
    p.clock.set(card.expires_at + 60_000);
    const uid = '04a1b2c3d4e5f6';
    expect(
      await upload(p, [
        { seq: 1, out_trade_no: 'X1', amount: 300, uid_hex: uid, captured_at: at(expiry - 10) },
        { seq: 2, out_trade_no: 'X2', amount: 300, uid_hex: uid, captured_at: at(expiry + 10) },
      ]),
    ).toEqual([
      ['accepted', null],
      ['rejected', 'ERR_CARD_NOT_ACTIVE'],
    ]);
    expect(await balance(p, 's-001')).toBe(9_700);
  });
  it('a tap of a physical card relinked since is of the card the UID named then: the old card while it was active, none while unlinked, the new one after', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const uid = '04a1b2c3d4e5f6';
    const old = cardOf(p, 's-001');
    const beforeUnlink = p.clock.now();
    p.clock.advance(600);
    await post(p, `/v1/cards/${old}/unlink`);
    p.clock.advance(600);
    const whileRevoked = p.clock.now(); // the UID named a revoked card
    p.clock.advance(600);
    const issued = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/cards', {
        person_id: 's-001',
        role: 'student',
        holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
      }),
    );
    expect(issued.statusCode, issued.body).toBe(201);
    const next = json<{ card_id: string }>(issued).card_id;
    await post(p, `/v1/cards/${next}/physical-card`, { uid_hex: uid, card_number: 'PC-s-001' });
    p.clock.advance(60);
    const afterRelink = p.clock.now();
    expect(
      await upload(p, [
        { seq: 1, out_trade_no: 'RL1', amount: 300, uid_hex: uid, captured_at: at(beforeUnlink / 1000) },
        { seq: 2, out_trade_no: 'RL2', amount: 300, uid_hex: uid, captured_at: at(whileRevoked / 1000) },
        { seq: 3, out_trade_no: 'RL3', amount: 300, uid_hex: uid, captured_at: at(afterRelink / 1000) },
      ]),
    ).toEqual([
      ['accepted', null],
      ['rejected', 'ERR_UNKNOWN_CARD'],
      ['accepted', null],
    ]);
    const booked = p.state.db
      .prepare(
        "SELECT out_trade_no, card_id FROM orders WHERE out_trade_no IN ('RL1', 'RL3') ORDER BY out_trade_no",
      )
      .all();
    expect(booked).toEqual([
      { out_trade_no: 'RL1', card_id: old },
      { out_trade_no: 'RL3', card_id: next },
    ]);
    expect(await balance(p, 's-001')).toBe(9_400);
    expect((await incidents(p)).map((i) => [i[2], i[4]])).toEqual([[2, 'ERR_UNKNOWN_CARD']]);
  });

  it("a physical card relinked to another person's card: a tap made before charges its first holder, not the new one", async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const uid = '04a1b2c3d4e5f6'; // s-001's physical card
    const first = cardOf(p, 's-001');
    const tapped = p.clock.now();
    p.clock.advance(600);
    await post(p, `/v1/cards/${first}/unlink`);
    await post(p, `/v1/cards/${cardOf(p, 's-002')}/physical-card`, { uid_hex: uid, card_number: 'PC-x' });
    p.clock.advance(600);
    const later = p.clock.now();
    const before = { s001: await balance(p, 's-001'), s002: await balance(p, 's-002') };
    expect(
      await upload(p, [
        { seq: 1, out_trade_no: 'X1', amount: 300, uid_hex: uid, captured_at: at(tapped / 1000) },
        { seq: 2, out_trade_no: 'X2', amount: 200, uid_hex: uid, captured_at: at(later / 1000) },
      ]),
    ).toEqual([
      // the first holder's card was active when it was tapped; it is unlinked (revoked) now
      ['accepted', null],
      ['accepted', null],
    ]);
    expect([await balance(p, 's-001'), await balance(p, 's-002')]).toEqual([
      before.s001 - 300,
      before.s002 - 200,
    ]);
  });

  it('a physical card tapped while its card had expired is refused, though the card was renewed before the upload', async () => {
    p = await demoPlatform();
    const uid = '04a1b2c3d4e5f6';
    const card = cardOf(p, 's-001');
    const { expires_at } = p.state.db.prepare('SELECT expires_at FROM cards WHERE card_id = ?').get(card) as {
      expires_at: number;
    };
    p.clock.set(expires_at + 3_600_000);
    const whileExpired = p.clock.now();
    p.clock.advance(600);
    await post(p, `/v1/cards/${card}/renew`, {});
    p.clock.advance(600);
    const renewed = p.clock.now();
    expect(
      await upload(p, [
        { seq: 1, out_trade_no: 'E1', amount: 300, uid_hex: uid, captured_at: at(whileExpired / 1000) },
        { seq: 2, out_trade_no: 'E2', amount: 300, uid_hex: uid, captured_at: at(renewed / 1000) },
      ]),
    ).toEqual([
      ['rejected', 'ERR_CARD_NOT_ACTIVE'],
      ['accepted', null],
    ]);
  });
});

describe("another school's wallets", () => {
  it("a merchant or POS of school A neither reads nor tops up a school B wallet; school B's own merchant and the operator do", async () => {
    p = await demoPlatform();
    const op = operator(p);
    const created = async (url: string, body: object) => {
      const r = await p.app.inject(signed(p, op, 'POST', url, body));
      expect(r.statusCode, r.body).toBe(201);
    };
    await created('/v1/schools', { school_id: 'sch-b', name: 'B' });
    await created('/v1/people', { school_id: 'sch-b', person_id: 'b-s1', kind: 'student', name: 'B pupil' });
    const key = generateKeyPair('ES256').privateKey;
    await created('/v1/merchants', {
      merchant_id: 'b-shop',
      school_id: 'sch-b',
      name: 'B shop',
      category: 'shop',
      public_jwk: exportJwk(key.publicKey),
    });
    const bShop = { id: 'b-shop', jwk: exportJwk(key, { includePrivate: true }) };
    const aShop = deviceSigner(p, p.demo!.merchants[0]!.id);
    const aPos = deviceSigner(p, 'pos-01');
    const range = '?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z';
    const before = tableDigests(p);
    for (const who of [aShop, aPos]) {
      for (const url of ['/v1/wallets/b-s1', `/v1/wallets/b-s1/summary${range}`]) {
        const r = await p.app.inject(signed(p, who, 'GET', url));
        expect([who.id, url, r.statusCode, json(r).code]).toEqual([who.id, url, 404, 'ERR_NOT_FOUND']);
      }
    }
    const topUp = await p.app.inject(
      signed(p, aShop, 'POST', '/v1/wallets/b-s1/top-ups', {
        out_trade_no: 'X-1',
        amount: 500,
        channel: 'wechat',
      }),
    );
    expect([topUp.statusCode, json(topUp).code]).toEqual([404, 'ERR_NOT_FOUND']);
    // no money moved: only the request nonces and the refused top-up's outcome (kept for its key)
    expect(changedTables(before, tableDigests(p))).toEqual(['idempotency', 'nonces']);
    // nothing tells another school's person from an unknown one
    const other = json<{ detail: string }>(
      await p.app.inject(signed(p, aShop, 'GET', '/v1/wallets/b-s1')),
    ).detail;
    const unknown = json<{ detail: string }>(
      await p.app.inject(signed(p, aShop, 'GET', '/v1/wallets/nobody')),
    ).detail;
    expect(other.replace('b-s1', 'X')).toBe(unknown.replace('nobody', 'X'));
    // school B's own merchant and the operator
    const own = await p.app.inject(
      signed(p, bShop, 'POST', '/v1/wallets/b-s1/top-ups', {
        out_trade_no: 'B-1',
        amount: 500,
        channel: 'wechat',
      }),
    );
    expect(own.statusCode, own.body).toBe(201);
    expect(
      json<{ balance: number }>(await p.app.inject(signed(p, bShop, 'GET', '/v1/wallets/b-s1'))).balance,
    ).toBe(500);
    expect(await balance(p, 'b-s1')).toBe(500);
    expect(
      json<{ balance: number }>(await p.app.inject(signed(p, aShop, 'GET', '/v1/wallets/s-001'))).balance,
    ).toBe(await balance(p, 's-001'));
  });
});

describe('payments awaiting confirmation are captured in the order they were confirmed, as of then', () => {
  const get = async (p: MockPlatform, no: string) =>
    json<Order & { updated_at: string }>(
      await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'GET', `/v1/payments/${no}`)),
    );

  it('polling the later one first does not let it take the money of the one confirmed before', async () => {
    p = await demoPlatform();
    // 400 000 confirmed at +5 s, then 150 000 confirmed at +6 s, from 500 000: the first is paid
    expect(json<Order>(await pay(p, 'C-FIRST', 400_000, 'p-001')).status).toBe('processing');
    p.clock.advance(1);
    expect(json<Order>(await pay(p, 'C-SECOND', 150_000, 'p-001')).status).toBe('processing');
    p.clock.advance(10);
    const second = await get(p, 'C-SECOND');
    const first = await get(p, 'C-FIRST');
    expect([first.status, second.status, second.failure_code]).toEqual([
      'success',
      'failed',
      'ERR_INSUFFICIENT_FUNDS',
    ]);
    expect(await balance(p, 'p-001')).toBe(100_000);
    expect((await ledgerOk(p)).balanced).toBe(true);
  });

  it('a payment confirmed before an immediate one is paid before it', async () => {
    p = await demoPlatform();
    expect(json<Order>(await pay(p, 'C-BIG', 490_000, 'p-001')).status).toBe('processing');
    p.clock.advance(10); // confirmed at +5 s; nobody has looked yet
    const now = json<Order>(await pay(p, 'C-NOW', 20_000, 'p-001'));
    expect([now.status, now.failure_code]).toEqual(['failed', 'ERR_INSUFFICIENT_FUNDS']);
    expect((await get(p, 'C-BIG')).status).toBe('success');
    expect(await balance(p, 'p-001')).toBe(10_000);
  });

  it('the balance read after the confirmation includes the capture, before anyone polls the order', async () => {
    p = await demoPlatform();
    expect(json<Order>(await pay(p, 'C-BAL', 60_000, 'p-001')).status).toBe('processing');
    expect(await balance(p, 'p-001')).toBe(500_000);
    p.clock.advance(10);
    expect(await balance(p, 'p-001')).toBe(440_000);
    expect((await get(p, 'C-BAL')).status).toBe('success');
  });

  it('the capture is dated at the confirmation, whenever it is read: a range across the delay counts it once', async () => {
    p = await demoPlatform();
    const t0 = p.clock.now();
    expect(json<Order>(await pay(p, 'C-LATE', 60_000, 'p-001')).status).toBe('processing');
    p.clock.advance(100); // confirmed at t0 + 5 s, first read at t0 + 100 s
    const range = async (from: number, to: number) =>
      json<{ spent: number; payment_count: number }>(
        await p.app.inject(
          signed(
            p,
            operator(p),
            'GET',
            `/v1/wallets/p-001/summary?from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`,
          ),
        ),
      );
    expect(await range(t0, t0 + 5_000)).toMatchObject({ spent: 0, payment_count: 0 });
    expect(await range(t0 + 5_000, t0 + 50_000)).toMatchObject({ spent: 60_000, payment_count: 1 });
    expect(await range(t0 + 50_000, t0 + 200_000)).toMatchObject({ spent: 0, payment_count: 0 });
    const o = await get(p, 'C-LATE');
    expect([o.status, o.updated_at]).toEqual([
      'success',
      new Date(t0 + 5_000).toISOString().replace('.000Z', 'Z'),
    ]);
  });
});
