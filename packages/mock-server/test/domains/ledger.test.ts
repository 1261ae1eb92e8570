/**
 * The ledger consistency endpoint, `GET /v1/ledger/check` (issue 4 §2, src/domains/ledger.ts
 * `checkLedger`): after real operations it reports the exact totals and `balanced: true`; after a
 * cached balance, a posting or an order is corrupted directly in the database it reports
 * `balanced: false` and names each problem.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, signed } from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

interface LedgerCheck {
  balanced: boolean;
  journal_entries: number;
  postings: number;
  total_debits: number;
  total_credits: number;
  wallet_total: number;
  problems: string[];
}

/** The demo loads five top-ups: 10 000 + 5 000 + 20 000 + 500 000 + 500 000 fen. */
const DEMO_TOTAL = 1_035_000;

const check = async (p: MockPlatform): Promise<LedgerCheck> => {
  const res = await p.app.inject(signed(p, operator(p), 'GET', '/v1/ledger/check'));
  expect(res.statusCode).toBe(200);
  return json<LedgerCheck>(res);
};
const pay = async (p: MockPlatform, no: string, amount: number, who: string) =>
  p.app.inject(
    signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
      out_trade_no: no,
      amount,
      qr_text: await qrOf(p, who, 2),
    }),
  );
const accounts = (p: MockPlatform): Record<string, number> =>
  Object.fromEntries(
    (
      p.state.db.prepare('SELECT account, balance FROM accounts ORDER BY account').all() as {
        account: string;
        balance: number;
      }[]
    ).map((r) => [r.account, r.balance]),
  );
const journalOf = (p: MockPlatform, orderId: string): number =>
  (p.state.db.prepare('SELECT journal_id FROM journal WHERE ref = ?').get(orderId) as { journal_id: number })
    .journal_id;

describe('ledger check', () => {
  it('balances to the fen after top-ups, payments, a refund, a fee, an offline payment and a confirmation', async () => {
    p = await demoPlatform();
    expect(await check(p)).toEqual({
      balanced: true,
      journal_entries: 5,
      postings: 10,
      total_debits: DEMO_TOTAL,
      total_credits: DEMO_TOTAL,
      wallet_total: DEMO_TOTAL,
      problems: [],
    });
    const op = operator(p);
    const pos = deviceSigner(p, 'pos-01');
    expect(
      (
        await p.app.inject(
          signed(p, op, 'POST', '/v1/wallets/s-001/top-ups', {
            out_trade_no: 'L-TU',
            amount: 2_000,
            channel: 'bank',
          }),
        )
      ).statusCode,
    ).toBe(201);
    expect(json(await pay(p, 'L-P1', 1_500, 's-001')).status).toBe('success');
    expect(
      (
        await p.app.inject(
          signed(p, pos, 'POST', '/v1/payments/L-P1/refunds', { out_refund_no: 'L-RF', amount: 500 }),
        )
      ).statusCode,
    ).toBe(201);
    const fee = await p.app.inject(
      signed(p, op, 'POST', '/v1/fees', {
        out_trade_no: 'L-FEE',
        payer_person_id: 'p-001',
        student_person_id: 's-001',
        fee_type: 'tuition',
        amount: 30_000,
      }),
    );
    expect(json(fee).status).toBe('success');
    const t = p.clock.nowSeconds();
    const offline = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments/offline-batches', {
        items: [
          {
            seq: 1,
            out_trade_no: 'L-OFF',
            amount: 300,
            qr_text: await qrOf(p, 's-002', 2, t),
            captured_at: new Date(t * 1000).toISOString(),
          },
        ],
      }),
    );
    expect(json(offline).accepted).toBe(1);
    // a failed payment posts nothing
    expect(json(await pay(p, 'L-FAIL', 20_000, 's-002'))).toMatchObject({
      status: 'failed',
      failure_code: 'ERR_INSUFFICIENT_FUNDS',
    });
    // a processing payment posts nothing until it is confirmed
    expect(json(await pay(p, 'L-BIG', 60_000, 'p-002')).status).toBe('processing');
    const mid = await check(p);
    expect(mid).toEqual({
      balanced: true,
      journal_entries: 10,
      postings: 20,
      total_debits: 1_069_300,
      total_credits: 1_069_300,
      wallet_total: 1_005_700,
      problems: [],
    });
    p.clock.advance(6);
    expect(json(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/L-BIG'))).status).toBe('success');
    expect(await check(p)).toEqual({
      balanced: true,
      journal_entries: 11,
      postings: 22,
      total_debits: 1_129_300,
      total_credits: 1_129_300,
      wallet_total: 945_700,
      problems: [],
    });
    expect(accounts(p)).toEqual({
      'channel:bank': -2_000,
      'channel:simulated': -DEMO_TOTAL,
      'fees:sch-demo:tuition': 30_000,
      'merchant:m-canteen-s': 1_500 - 500 + 300 + 60_000,
      'wallet:p-001': 470_000,
      'wallet:p-002': 440_000,
      'wallet:s-001': 10_000 + 2_000 - 1_500 + 500,
      'wallet:s-002': 4_700,
      'wallet:t-001': 20_000,
    });
  });

  it('reports a corrupted cached balance, and balances again once it is restored', async () => {
    p = await demoPlatform();
    expect(json(await pay(p, 'C-A', 1_500, 's-001')).status).toBe('success');
    const ok = await check(p);
    expect(ok).toMatchObject({ balanced: true, wallet_total: DEMO_TOTAL - 1_500, problems: [] });

    p.state.db.prepare("UPDATE accounts SET balance = balance + 7 WHERE account = 'wallet:s-001'").run();
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      wallet_total: DEMO_TOTAL - 1_500 + 7,
      problems: [
        'account wallet:s-001 caches 8507 but postings sum to 8500',
        'wallet:s-001 holds 8507 but its orders net 8500',
        'orders net 1033500 ≠ wallet total 1033507',
      ],
    });

    // a merchant account: its postings and its orders both disagree with it
    p.state.db.prepare("UPDATE accounts SET balance = balance - 7 WHERE account = 'wallet:s-001'").run();
    p.state.db
      .prepare("UPDATE accounts SET balance = balance - 100 WHERE account = 'merchant:m-canteen-s'")
      .run();
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      problems: [
        'account merchant:m-canteen-s caches 1400 but postings sum to 1500',
        'merchant:m-canteen-s holds 1400 but its orders net 1500',
      ],
    });
    p.state.db
      .prepare("UPDATE accounts SET balance = balance + 100 WHERE account = 'merchant:m-canteen-s'")
      .run();
    expect(await check(p)).toEqual(ok);
  });

  it('reports an account whose cached balance row is missing', async () => {
    p = await demoPlatform();
    expect(json(await pay(p, 'C-D', 1_500, 's-001')).status).toBe('success');
    const ok = await check(p);
    p.state.db.prepare("DELETE FROM accounts WHERE account = 'channel:simulated'").run();
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      problems: [
        'account channel:simulated has no cached balance but postings sum to -1035000',
        'channels hold 0 but top-ups brought in 1035000',
      ],
    });
    p.state.db.prepare("DELETE FROM accounts WHERE account = 'wallet:s-001'").run();
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      wallet_total: DEMO_TOTAL - 10_000,
      problems: [
        'account channel:simulated has no cached balance but postings sum to -1035000',
        'account wallet:s-001 has no cached balance but postings sum to 8500',
        'wallet:s-001 holds 0 but its orders net 8500',
        'orders net 1033500 ≠ wallet total 1025000',
        'channels hold 0 but top-ups brought in 1035000',
      ],
    });
  });

  it('reports a corrupted posting: the journal entry, the account and debits ≠ credits', async () => {
    p = await demoPlatform();
    const order = json<{ order_id: string }>(await pay(p, 'C-B', 1_500, 's-001'));
    const j = journalOf(p, order.order_id);
    expect(j).toBe(6);
    const ok = await check(p);
    expect(ok).toMatchObject({ balanced: true, total_debits: 1_036_500, total_credits: 1_036_500 });

    p.state.db
      .prepare(
        "UPDATE postings SET amount = amount + 5 WHERE journal_id = ? AND account = 'merchant:m-canteen-s'",
      )
      .run(j);
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      total_credits: 1_036_505,
      problems: [
        'journal 6 sums to 5',
        'account merchant:m-canteen-s caches 1500 but postings sum to 1505',
        'debits 1036500 ≠ credits 1036505',
      ],
    });
    p.state.db
      .prepare(
        "UPDATE postings SET amount = amount - 5 WHERE journal_id = ? AND account = 'merchant:m-canteen-s'",
      )
      .run(j);
    expect(await check(p)).toEqual(ok);

    // a lost posting row (the wallet debit): the entry, the wallet and the totals disagree
    p.state.db.prepare("DELETE FROM postings WHERE journal_id = ? AND account = 'wallet:s-001'").run(j);
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      postings: ok.postings - 1,
      total_debits: 1_035_000,
      problems: [
        'journal 6 sums to 1500',
        'account wallet:s-001 caches 8500 but postings sum to 10000',
        'debits 1035000 ≠ credits 1036500',
      ],
    });
  });

  it('reports an order that disagrees with the ledger', async () => {
    p = await demoPlatform();
    expect(json(await pay(p, 'C-C', 1_500, 's-001')).status).toBe('success');
    const ok = await check(p);
    p.state.db.prepare("UPDATE orders SET amount = 1600 WHERE out_trade_no = 'C-C'").run();
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      problems: [
        'wallet:s-001 holds 8500 but its orders net 8400',
        'orders net 1033400 ≠ wallet total 1033500',
        'merchant:m-canteen-s holds 1500 but its orders net 1600',
      ],
    });
    // a successful payment marked failed: the money left the wallet without an order
    p.state.db.prepare("UPDATE orders SET amount = 1500, status = 'failed' WHERE out_trade_no = 'C-C'").run();
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      problems: [
        'wallet:s-001 holds 8500 but its orders net 10000',
        'orders net 1035000 ≠ wallet total 1033500',
        'merchant:m-canteen-s holds 1500 but its orders net 0',
      ],
    });
  });

  it("reports a capture credited to another merchant's account, though every entry, balance and wallet agrees", async () => {
    p = await demoPlatform();
    const order = json<{ order_id: string }>(await pay(p, 'C-M', 1_500, 's-001'));
    const ok = await check(p);
    expect(ok.balanced).toBe(true);
    // the credit moved to m-canteen-t, the cached balances kept in step: only the merchants' orders tell
    p.state.db
      .prepare(
        "UPDATE postings SET account = 'merchant:m-canteen-t' WHERE journal_id = ? AND account = 'merchant:m-canteen-s'",
      )
      .run(journalOf(p, order.order_id));
    p.state.db
      .prepare("UPDATE accounts SET balance = balance - 1500 WHERE account = 'merchant:m-canteen-s'")
      .run();
    p.state.db
      .prepare(
        "INSERT INTO accounts (account, balance, updated_at) VALUES ('merchant:m-canteen-t', 1500, 0) ON CONFLICT(account) DO UPDATE SET balance = balance + 1500",
      )
      .run();
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      problems: [
        'merchant:m-canteen-s holds 0 but its orders net 1500',
        'merchant:m-canteen-t holds 1500 but its orders net 0',
      ],
    });
  });

  it("reports a payment debited from another person's wallet, though the totals agree", async () => {
    p = await demoPlatform();
    const order = json<{ order_id: string }>(await pay(p, 'C-W', 1_500, 's-001'));
    const ok = await check(p);
    expect(ok.balanced).toBe(true);
    // the debit moved to s-002's wallet, the cached balances kept in step: every journal entry
    // sums to zero, every balance matches its postings, and all wallets together match all orders
    p.state.db
      .prepare(
        "UPDATE postings SET account = 'wallet:s-002' WHERE journal_id = ? AND account = 'wallet:s-001'",
      )
      .run(journalOf(p, order.order_id));
    p.state.db.prepare("UPDATE accounts SET balance = balance + 1500 WHERE account = 'wallet:s-001'").run();
    p.state.db.prepare("UPDATE accounts SET balance = balance - 1500 WHERE account = 'wallet:s-002'").run();
    expect(await check(p)).toEqual({
      ...ok,
      balanced: false,
      problems: [
        'wallet:s-001 holds 10000 but its orders net 8500',
        'wallet:s-002 holds 3500 but its orders net 5000',
      ],
    });
  });
});
