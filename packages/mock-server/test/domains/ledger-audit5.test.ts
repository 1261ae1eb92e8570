/**
 * The wallet's bookkeeping at its edges (src/domains/ledger.ts `checkLedger`, the wallet summary of
 * src/domains/payments.ts): the consistency check sees money in journal entries no order explains
 * (an entry relabelled, of no order, posted twice, to an account the platform never opens, a
 * refund record that disagrees) and reports nothing after every legitimate path; a summary over
 * the whole calendar is answered.
 */
import type { LedgerCheck, WalletSummary } from '@campus-card/core/api';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLedger } from '../../src/domains/ledger.js';
import type { MockPlatform } from '../../src/index.js';
import {
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  registerPos,
  type Signer,
  schoolB,
  signed,
  walletBalance,
} from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

const check = async (p: MockPlatform): Promise<LedgerCheck> => {
  const res = await p.app.inject(signed(p, operator(p), 'GET', '/v1/ledger/check'));
  expect(res.statusCode, res.body).toBe(200);
  return json<LedgerCheck>(res);
};
const post = async (p: MockPlatform, signer: Signer, path: string, body: object, status = 201) => {
  const res = await p.app.inject(signed(p, signer, 'POST', path, body));
  expect(res.statusCode, res.body).toBe(status);
  return json<{ order_id: string; status: string }>(res);
};
const pay = async (p: MockPlatform, no: string, amount: number, who: string) =>
  post(p, deviceSigner(p, 'pos-01'), '/v1/payments', {
    out_trade_no: no,
    amount,
    qr_text: await qrOf(p, who, 2),
  });
const summary = (p: MockPlatform, who: string, from: string, to: string) =>
  p.app.inject(
    signed(
      p,
      operator(p),
      'GET',
      `/v1/wallets/${who}/summary?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
    ),
  );
const journalOf = (p: MockPlatform, ref: string): number =>
  (p.state.db.prepare('SELECT journal_id FROM journal WHERE ref = ?').get(ref) as { journal_id: number })
    .journal_id;
/** Posts a balanced entry straight into the database, cached balances kept in step. */
const inject = (p: MockPlatform, ref: string, kind: string, postings: [string, number][]) => {
  const db = p.state.db;
  const j = db
    .prepare('INSERT INTO journal (ref, kind, created_at) VALUES (?, ?, ?)')
    .run(ref, kind, p.clock.now());
  for (const [account, amount] of postings) {
    db.prepare('INSERT INTO postings (journal_id, account, amount) VALUES (?, ?, ?)').run(
      j.lastInsertRowid,
      account,
      amount,
    );
    db.prepare(
      'INSERT INTO accounts (account, balance, updated_at) VALUES (?, ?, 0) ON CONFLICT(account) DO UPDATE SET balance = balance + excluded.balance',
    ).run(account, amount);
  }
  return Number(j.lastInsertRowid);
};

describe('the ledger check sees money no order explains, though every entry balances', () => {
  it('an entry relabelled to another kind: reported (a summary would misfile it, or fail on it)', async () => {
    p = await demoPlatform();
    const o = await pay(p, 'K-1', 1_500, 's-001');
    const ok = await check(p);
    expect(ok.problems).toEqual([]);
    const j = journalOf(p, o.order_id);
    // a payment relabelled a top-up: every balance still matches, and the summary counts it as a
    // top-up of −1 500 fen
    p.state.db.prepare("UPDATE journal SET kind = 'top_up' WHERE journal_id = ?").run(j);
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      problems: [`journal ${j} (top_up ${o.order_id}) is no posting of its payment order`],
    });
    // a kind nothing knows: the summary cannot file it (500), the check must say why
    p.state.db.prepare("UPDATE journal SET kind = 'gift' WHERE journal_id = ?").run(j);
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      problems: [`journal ${j} (gift ${o.order_id}) is no posting of its payment order`],
    });
    p.state.db.prepare("UPDATE journal SET kind = 'payment' WHERE journal_id = ?").run(j);
    expect(await check(p)).toEqual(ok);
  });

  it('an entry of no order, between accounts the platform never opens or between two channels: reported', async () => {
    p = await demoPlatform();
    const ok = await check(p);
    const j = inject(p, 'made-up', 'payment', [
      ['evil:a', -100],
      ['evil:b', 100],
    ]);
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      journal_entries: ok.journal_entries + 1,
      postings: ok.postings + 2,
      total_debits: ok.total_debits + 100,
      total_credits: ok.total_credits + 100,
      problems: [
        `journal ${j} (payment) names no order: made-up`,
        'account evil:a is no account the platform opens',
        'account evil:b is no account the platform opens',
      ],
    });
    p = await demoPlatform();
    // money moved from one channel to another, the channels' total unchanged
    const k = inject(p, 'made-up-too', 'top_up', [
      ['channel:simulated', 100],
      ['channel:bank', -100],
    ]);
    expect((await check(p)).problems).toEqual([`journal ${k} (top_up) names no order: made-up-too`]);
    p = await demoPlatform();
    // a wallet, a merchant or a fee account of no one, spelt another way, a channel that does not exist
    inject(p, 'x', 'payment', [
      ['wallet:nobody', -1],
      ['WALLET:s-001', -1],
      ['merchant:nobody', -1],
      ['fees:sch-demo:parking', -1],
      ['fees:sch-nowhere:tuition', -1],
      ['channel:cash', 5],
    ]);
    expect((await check(p)).problems.filter((l) => l.startsWith('account '))).toEqual([
      'account WALLET:s-001 is no account the platform opens',
      'account channel:cash is no account the platform opens',
      'account fees:sch-demo:parking is no account the platform opens',
      'account fees:sch-nowhere:tuition is no account the platform opens',
      'account merchant:nobody is no account the platform opens',
      'account wallet:nobody is no account the platform opens',
    ]);
  });

  it('an order posted twice and its refund posted twice, which cancel out on every account: reported', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const o = await pay(p, 'D-1', 500, 's-001');
    await post(p, pos, '/v1/payments/D-1/refunds', { out_refund_no: 'D-1-r', amount: 500 });
    const ok = await check(p);
    expect(ok.problems).toEqual([]);
    inject(p, o.order_id, 'payment', [
      ['wallet:s-001', -500],
      ['merchant:m-canteen-s', 500],
    ]);
    inject(p, `${o.order_id}/D-1-r`, 'refund', [
      ['merchant:m-canteen-s', -500],
      ['wallet:s-001', 500],
    ]);
    expect((await check(p)).problems).toEqual([
      `2 journal entries post the payment ${o.order_id}`,
      `2 journal entries post the refund ${o.order_id}/D-1-r`,
    ]);
  });

  it('a refund entry no refund records, a reversal of a payment not reversed, a refund record changed: reported', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const o = await pay(p, 'R-1', 800, 's-001');
    await post(p, pos, '/v1/payments/R-1/refunds', { out_refund_no: 'R-1-a', amount: 300 });
    const ok = await check(p);
    expect(ok.problems).toEqual([]);
    // the refund record says 200 while 300 went back: the order and its refunds disagree
    p.state.db.prepare("UPDATE refunds SET amount = 200 WHERE out_refund_no = 'R-1-a'").run();
    expect((await check(p)).problems).toEqual([
      'success order R-1 of 800 returned 300 but its refunds sum to 200',
    ]);
    p.state.db.prepare("UPDATE refunds SET amount = 300 WHERE out_refund_no = 'R-1-a'").run();
    // its journal entry renamed to a refund never made, or to a reversal of a payment still captured
    const j = journalOf(p, `${o.order_id}/R-1-a`);
    p.state.db.prepare('UPDATE journal SET ref = ? WHERE journal_id = ?').run(`${o.order_id}/R-1-z`, j);
    expect((await check(p)).problems).toEqual([
      `journal ${j} (refund ${o.order_id}/R-1-z) is no posting of its payment order`,
    ]);
    p.state.db
      .prepare("UPDATE journal SET ref = ?, kind = 'reversal' WHERE journal_id = ?")
      .run(`${o.order_id}/reverse`, j);
    expect((await check(p)).problems).toEqual([
      `journal ${j} (reversal ${o.order_id}/reverse) is no posting of its payment order`,
    ]);
    p.state.db
      .prepare("UPDATE journal SET ref = ?, kind = 'refund' WHERE journal_id = ?")
      .run(`${o.order_id}/R-1-a`, j);
    expect(await check(p)).toEqual(ok);
  });

  it('reports nothing after every legitimate path: channels, refunds (one numbered "reverse"), reversals, fees, offline overdraws, two schools', async () => {
    p = await demoPlatform();
    const op = operator(p);
    const pos = deviceSigner(p, 'pos-01');
    await schoolB(p);
    for (const [id, kind, extra] of [
      ['b-s1', 'student', {}],
      ['b-p1', 'parent', { student_ids: ['b-s1'] }],
      ['new-s', 'student', {}],
    ] as const) {
      await post(p, op, '/v1/people', {
        person_id: id,
        school_id: id === 'new-s' ? 'sch-demo' : 'sch-b',
        kind,
        name: id,
        ...extra,
      });
    }
    // a person with no wallet yet is topped up through every channel
    for (const channel of ['bank', 'wechat', 'alipay', 'simulated']) {
      await post(p, op, '/v1/wallets/new-s/top-ups', {
        out_trade_no: `TU-${channel}`,
        amount: 1_000,
        channel,
      });
    }
    await post(p, op, '/v1/wallets/b-p1/top-ups', { out_trade_no: 'TU-B', amount: 900_000, channel: 'bank' });
    await post(p, deviceSigner(p, 'm-shop'), '/v1/wallets/s-002/top-ups', {
      out_trade_no: 'TU-M',
      amount: 77,
      channel: 'wechat',
    });
    const types = ['tuition', 'meals', 'materials', 'courses', 'dorm'];
    for (const [i, fee_type] of types.entries()) {
      await post(p, op, '/v1/fees', {
        out_trade_no: `FEE-${i}`,
        payer_person_id: 'b-p1',
        student_person_id: 'b-s1',
        fee_type,
        amount: 100_000 + i,
      });
      await post(p, op, '/v1/fees', {
        out_trade_no: `FEE-D${i}`,
        payer_person_id: 'p-001',
        student_person_id: 's-001',
        fee_type,
        amount: 1_000 + i,
      });
    }
    // a fee the payer cannot afford: failed, nothing posted
    expect(
      (
        await post(p, op, '/v1/fees', {
          out_trade_no: 'FEE-X',
          payer_person_id: 'b-p1',
          student_person_id: 'b-s1',
          fee_type: 'dorm',
          amount: 1_000_000_000,
        })
      ).status,
    ).toBe('failed');
    await pay(p, 'P-1', 3_000, 's-001');
    // a refund numbered "reverse", then the reversal: two entries under one ref, of two kinds
    await post(p, pos, '/v1/payments/P-1/refunds', { out_refund_no: 'reverse', amount: 1_000 }, 201);
    await post(p, pos, '/v1/payments/P-1/reverse', {}, 200);
    await pay(p, 'P-2', 1_000, 's-001');
    await post(p, pos, '/v1/payments/P-2/refunds', { out_refund_no: 'P-2-a', amount: 400 });
    await post(p, pos, '/v1/payments/P-2/refunds', { out_refund_no: 'P-2-b', amount: 600 });
    expect((await pay(p, 'P-3', 60_000, 'p-002')).status).toBe('processing');
    await post(p, pos, '/v1/payments/P-3/reverse', {}, 200); // before its capture
    expect((await pay(p, 'P-4', 60_000, 'p-002')).status).toBe('processing');
    await post(p, pos, '/v1/payments/P-4/close', {}, 200);
    expect((await pay(p, 'P-5', 60_000, 'p-002')).status).toBe('processing');
    expect((await pay(p, 'P-6', 99_999, 's-002')).status).toBe('processing'); // fails at its capture
    const other = await registerPos(p, 'pos-audit5', 5_000, 50_000);
    const t = p.clock.nowSeconds();
    const items = [];
    for (const seq of [1, 2]) {
      items.push({
        seq,
        out_trade_no: `OFF-${seq}`,
        amount: 4_000,
        qr_text: await qrOf(p, 's-002', 2, t),
        captured_at: new Date(t * 1000).toISOString(),
      });
    }
    const off = await p.app.inject(signed(p, other, 'POST', '/v1/payments/offline-batches', { items }));
    expect(json(off).accepted, off.body).toBe(2);
    await post(p, other, '/v1/payments/OFF-2/refunds', { out_refund_no: 'OFF-2-a', amount: 1 });
    p.clock.advance(6);
    for (const [no, status] of [
      ['P-5', 'success'],
      ['P-6', 'failed'],
    ]) {
      const r = await p.app.inject(signed(p, pos, 'GET', `/v1/payments/${no}`));
      expect(json(r).status).toBe(status);
    }
    expect(walletBalance(p, 's-002')).toBeLessThan(0); // the offline overdraw, booked
    expect(await check(p)).toMatchObject({ balanced: true, problems: [] });
    // and nothing reported by checkLedger itself after the captures the read made
    expect(checkLedger(p.state).problems).toEqual([]);
  });
});

describe('a summary over the whole calendar', () => {
  it('a bound in the last millisecond a Timestamp can write, to a fraction beyond it, is answered (200), not a 500', async () => {
    p = await demoPlatform();
    await pay(p, 'W-1', 100, 's-001');
    const whole = await summary(p, 's-001', '0000-01-01T00:00:00Z', '9999-12-31T23:59:59.999999999Z');
    expect(whole.statusCode, whole.body).toBe(200);
    expect(json<WalletSummary>(whole)).toEqual({
      person_id: 's-001',
      from: '0000-01-01T00:00:00Z',
      to: '9999-12-31T23:59:59.999999999Z',
      spent: 100,
      refunded: 0,
      topped_up: 10_000,
      fees_paid: 0,
      payment_count: 1,
      net: 10_000 - 100,
    });
    expect(json<WalletSummary>(whole).net).toBe(walletBalance(p, 's-001'));
    const last = await summary(p, 's-001', '9999-12-31T23:59:59.9991Z', '9999-12-31T23:59:59.9999Z');
    expect(last.statusCode, last.body).toBe(200);
    expect(json<WalletSummary>(last)).toMatchObject({
      from: '9999-12-31T23:59:59.9991Z',
      to: '9999-12-31T23:59:59.9999Z',
      net: 0,
    });
    // within the calendar the bounds are answered in whole milliseconds, as before
    const near = await summary(p, 's-001', '9999-12-31T23:59:59.998Z', '9999-12-31T23:59:59.9981Z');
    expect(json<WalletSummary>(near)).toMatchObject({
      from: '9999-12-31T23:59:59.998Z',
      to: '9999-12-31T23:59:59.999Z',
    });
  });
});
