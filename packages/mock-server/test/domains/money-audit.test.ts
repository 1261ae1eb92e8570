/**
 * An audit of the money paths (payments, ledger, statements) under concurrency and at the edges:
 * every fen accounted for, nothing applied twice, every refusal a precise 4xx that changes nothing.
 */
import { randomUUID } from 'node:crypto';
import { createPresentation, encodeQr, fromBase64Url, importPrivateJwk } from '@campus-card/core';
import type { OfflineBatchResult } from '@campus-card/core/api';
import { importSigningKey, signRequest } from '@campus-card/core/http';
import { afterEach, describe, expect, it } from 'vitest';
import { checkLedger } from '../../src/domains/ledger.js';
import { settleDue } from '../../src/domains/payments.js';
import { type MockPlatform, startMockPlatform } from '../../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  registerPos,
  type Signer,
  signed,
  tableDigests,
  walletBalance,
} from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

type Order = { status: string; amount: number; refunded_amount: number; failure_code: string | null };
type Problem = { code: string; retryable: boolean; errors?: { path: string }[] };

/** Tables every signed request writes to (its nonce, its stored outcome, the recording). */
const BOOKKEEPING = new Set(['nonces', 'idempotency']);
const digests = (p: MockPlatform) => tableDigests(p, BOOKKEEPING);

const pay = async (p: MockPlatform, no: string, amount: unknown, who = 's-001', dev?: Signer) =>
  p.app.inject(
    signed(p, dev ?? deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
      out_trade_no: no,
      amount,
      qr_text: await qrOf(p, who, 2),
    }),
  );
const post = (p: MockPlatform, path: string, body: object, dev?: Signer) =>
  p.app.inject(signed(p, dev ?? deviceSigner(p, 'pos-01'), 'POST', path, body));
const getOrder = async (p: MockPlatform, no: string) =>
  json<Order>(await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'GET', `/v1/payments/${no}`)));
const summary = async (p: MockPlatform, who: string, from: string, to: string) =>
  p.app.inject(
    signed(
      p,
      operator(p),
      'GET',
      `/v1/wallets/${who}/summary?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
    ),
  );
const ledgerProblems = (p: MockPlatform) => checkLedger(p.state).problems;
const merchantBalance = (p: MockPlatform, m: string) =>
  (
    p.state.db.prepare('SELECT balance FROM accounts WHERE account = ?').get(`merchant:${m}`) as
      | { balance: number }
      | undefined
  )?.balance ?? 0;

describe('refunds', () => {
  it('concurrent partial refunds never refund more than was paid', async () => {
    p = await demoPlatform();
    expect((await pay(p, 'RC-1', 100)).statusCode).toBe(201);
    const rs = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        post(p, '/v1/payments/RC-1/refunds', { out_refund_no: `RC-1-${i}`, amount: 30 }),
      ),
    );
    expect(rs.filter((r) => r.statusCode === 201)).toHaveLength(3);
    for (const r of rs.filter((x) => x.statusCode !== 201))
      expect([r.statusCode, json<Problem>(r).code]).toEqual([409, 'ERR_REFUND_EXCEEDS']);
    expect(await getOrder(p, 'RC-1')).toMatchObject({ status: 'success', refunded_amount: 90 });
    expect(walletBalance(p, 's-001')).toBe(10_000 - 100 + 90);
    expect(ledgerProblems(p)).toEqual([]);
  });

  it('one out_refund_no sent with other bodies at once: one refund, the others 409 ERR_CONFLICT or its replay', async () => {
    p = await demoPlatform();
    await pay(p, 'RC-2', 1_000);
    await pay(p, 'RC-3', 1_000);
    const rs = await Promise.all(
      [40, 50, 40].map((amount) => post(p, '/v1/payments/RC-2/refunds', { out_refund_no: 'RN-1', amount })),
    );
    expect(rs.map((r) => r.statusCode)).toEqual([201, 409, 200]);
    expect(json<Problem>(rs[1]!)).toMatchObject({ code: 'ERR_CONFLICT', retryable: false });
    const before = digests(p);
    const other = await post(p, '/v1/payments/RC-3/refunds', { out_refund_no: 'RN-1', amount: 40 });
    expect([other.statusCode, json<Problem>(other).code]).toEqual([409, 'ERR_CONFLICT']);
    expect(changedTables(before, digests(p))).toEqual([]);
    expect(walletBalance(p, 's-001')).toBe(10_000 - 2_000 + 40);
    expect(ledgerProblems(p)).toEqual([]);
  });

  it('a processing, closed or reversed payment is not refunded: 409 ERR_ORDER_STATE, nothing changes', async () => {
    p = await demoPlatform();
    await pay(p, 'RS-P', 60_000, 'p-001'); // stays processing
    await pay(p, 'RS-C', 60_000, 'p-001');
    await post(p, '/v1/payments/RS-C/close', {});
    await pay(p, 'RS-R', 500);
    await post(p, '/v1/payments/RS-R/reverse', {});
    for (const no of ['RS-P', 'RS-C', 'RS-R']) {
      const before = digests(p);
      const r = await post(p, `/v1/payments/${no}/refunds`, { out_refund_no: `RS-${no}`, amount: 1 });
      expect([no, r.statusCode, json<Problem>(r).code]).toEqual([no, 409, 'ERR_ORDER_STATE']);
      expect(changedTables(before, digests(p))).toEqual([]);
    }
    expect(ledgerProblems(p)).toEqual([]);
  });

  it('a reverse after a partial refund returns the rest; two reverses at once return it once', async () => {
    p = await demoPlatform();
    await pay(p, 'RV-1', 1_000);
    await post(p, '/v1/payments/RV-1/refunds', { out_refund_no: 'RV-1-a', amount: 300 });
    const rs = await Promise.all([1, 2].map(() => post(p, '/v1/payments/RV-1/reverse', {})));
    expect(rs.map((r) => [r.statusCode, json<Order>(r).status, json<Order>(r).refunded_amount])).toEqual([
      [200, 'reversed', 1_000],
      [200, 'reversed', 1_000],
    ]);
    expect(walletBalance(p, 's-001')).toBe(10_000);
    expect(merchantBalance(p, 'm-canteen-s')).toBe(0);
    const again = await post(p, '/v1/payments/RV-1/refunds', { out_refund_no: 'RV-1-b', amount: 1 });
    expect([again.statusCode, json<Problem>(again).code]).toEqual([409, 'ERR_ORDER_STATE']);
    expect(ledgerProblems(p)).toEqual([]);
  });
});

describe('processing payments (above 50 000 fen) and their capture', () => {
  /** Runs `fn` with the clock moved by 1 ms when the request's state change begins (its commit). */
  function tickAtCommit(p: MockPlatform): void {
    const tx = p.state.tx;
    let armed = true;
    (p.state as { tx: typeof tx }).tx = <T>(fn: () => T): T => {
      if (armed) {
        armed = false;
        p.clock.advance(0.001);
      }
      return tx(fn);
    };
  }

  it('a close that commits once the holder has confirmed finds the payment captured: 409, as a reverse does', async () => {
    p = await demoPlatform();
    expect(json<Order>(await pay(p, 'CL-1', 60_000, 'p-001')).status).toBe('processing');
    p.clock.advance(4.999); // 1 ms before the confirmation
    tickAtCommit(p); // the close is looked up before it, and commits at it
    const close = await post(p, '/v1/payments/CL-1/close', {});
    expect([close.statusCode, json<Problem>(close).code]).toEqual([409, 'ERR_ORDER_STATE']);
    expect(await getOrder(p, 'CL-1')).toMatchObject({ status: 'success' });
    expect(walletBalance(p, 'p-001')).toBe(440_000);

    // the same race for a reverse: captured, then reversed with the money returned
    await pay(p, 'CL-2', 60_000, 'p-001');
    p.clock.advance(4.999);
    tickAtCommit(p);
    const rev = await post(p, '/v1/payments/CL-2/reverse', {});
    expect([rev.statusCode, json<Order>(rev).status, json<Order>(rev).refunded_amount]).toEqual([
      200,
      'reversed',
      60_000,
    ]);
    expect(walletBalance(p, 'p-001')).toBe(440_000);
    expect(ledgerProblems(p)).toEqual([]);
  });

  it('50 000 fen is captured at once, 50 001 waits; the wallet exactly, one fen short, or spent by two POS at once', async () => {
    p = await demoPlatform();
    expect(json<Order>(await pay(p, 'TH-1', 50_000, 'p-001')).status).toBe('success');
    expect(json<Order>(await pay(p, 'TH-2', 50_001, 'p-001')).status).toBe('processing');
    expect(json<Order>(await pay(p, 'EX-1', 10_001))).toMatchObject({
      status: 'failed',
      failure_code: 'ERR_INSUFFICIENT_FUNDS',
    });
    expect(json<Order>(await pay(p, 'EX-2', 10_000)).status).toBe('success');
    expect(walletBalance(p, 's-001')).toBe(0);
    await post(
      p,
      '/v1/wallets/s-001/top-ups',
      { out_trade_no: 'EX-T', amount: 700, channel: 'simulated' },
      operator(p),
    );
    const pos9 = await registerPos(p, 'pos-09');
    const both = await Promise.all([pay(p, 'EX-3', 700), pay(p, 'EX-4', 700, 's-001', pos9)]);
    expect(both.map((r) => json<Order>(r).status).sort()).toEqual(['failed', 'success']);
    expect(walletBalance(p, 's-001')).toBe(0);
    expect(ledgerProblems(p)).toEqual([]);
  });

  it('over a socket, closes, reverses and refunds racing the captures leave every order and the ledger agreeing', async () => {
    await using server = await startMockPlatform({ demo: true, settings: { confirmDelayS: 0.3 } });
    const pl = server.platform;
    const demo = pl.demo!;
    const pos = demo.devices.find((d) => d.id === 'pos-01')!;
    const qr = async (person: string) => {
      const c = demo.cards.find((x) => x.personId === person)!;
      const presentation = await createPresentation(
        { credential: fromBase64Url(c.credential)!, t: pl.clock.nowSeconds(), scene: 2 },
        importPrivateJwk(c.holderPrivateJwk),
      );
      return encodeQr(presentation);
    };
    const send = async (path: string, body: object) => {
      const url = `${server.url}${path}`;
      const bytes = new TextEncoder().encode(JSON.stringify(body));
      const headers = { 'content-type': 'application/json', 'idempotency-key': randomUUID() };
      const sig = signRequest(
        { method: 'POST', url, headers, body: bytes },
        {
          keyId: pos.id,
          key: importSigningKey(pos.privateJwk as never),
          created: pl.clock.nowSeconds(),
          nonce: randomUUID(),
        },
      );
      const res = await fetch(url, { method: 'POST', headers: { ...headers, ...sig }, body: bytes });
      return { status: res.status, body: (await res.json()) as { status?: string; code?: string } };
    };
    const n = 12;
    const made = await Promise.all(
      Array.from({ length: n }, async (_, i) =>
        send('/v1/payments', {
          out_trade_no: `SK-${i}`,
          amount: 90_000 + i,
          qr_text: await qr(i % 2 === 0 ? 'p-001' : 'p-002'),
        }),
      ),
    );
    expect(made.map((r) => r.body.status)).toEqual(Array(n).fill('processing'));
    const actions = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        await new Promise((r) => setTimeout(r, 200 + i * 15)); // around the confirmation
        const action = ['close', 'reverse', 'refunds'][i % 3] as string;
        return send(
          `/v1/payments/SK-${i}/${action}`,
          action === 'refunds' ? { out_refund_no: `SK-R-${i}`, amount: 10 } : {},
        );
      }),
    );
    for (const r of actions) expect([200, 201, 409]).toContain(r.status);
    await new Promise((r) => setTimeout(r, 500)); // every payment is due by now
    settleDue(pl.state);
    // each order's wallet postings say what its state says
    const rows = pl.state.db
      .prepare(
        `SELECT o.status, o.amount, o.refunded_amount,
           (SELECT COALESCE(SUM(p.amount), 0) FROM journal j JOIN postings p ON p.journal_id = j.journal_id
             WHERE (j.ref = o.order_id OR j.ref LIKE o.order_id || '/%') AND p.account LIKE 'wallet:%') AS moved
         FROM orders o WHERE o.out_trade_no LIKE 'SK-%'`,
      )
      .all() as { status: string; amount: number; refunded_amount: number; moved: number }[];
    expect(rows).toHaveLength(n);
    for (const r of rows) {
      if (r.status === 'success') expect(r.moved).toBe(-(r.amount - r.refunded_amount));
      else expect([r.status, r.moved]).toEqual([r.status, 0]);
      expect(['success', 'failed', 'closed', 'reversed']).toContain(r.status);
    }
    expect(checkLedger(pl.state).problems).toEqual([]);
  }, 30_000);
});

describe('amounts at the edges', () => {
  it('0, negative, fractional, over 2^31, over 2^53 as JSON text, or a string: 400 ERR_VALIDATION, no order', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const qr = await qrOf(p, 's-001', 2);
    const before = digests(p);
    for (const amount of [
      '0',
      '-1',
      '1.5',
      '2147483648',
      '1000000001',
      '9007199254740993',
      '1e400',
      '"100"',
    ]) {
      const raw = `{"out_trade_no":"AM-1","amount":${amount},"qr_text":"${qr}"}`;
      const r = await p.app.inject(signed(p, pos, 'POST', '/v1/payments', undefined, { rawBody: raw }));
      expect([amount, r.statusCode, json<Problem>(r).code]).toEqual([amount, 400, 'ERR_VALIDATION']);
      expect(json<Problem>(r).errors?.[0]?.path).toBe('body/amount');
    }
    for (const [path, body] of [
      ['/v1/payments/AM-1/refunds', { out_refund_no: 'AM-R', amount: 0 }],
      ['/v1/wallets/s-001/top-ups', { out_trade_no: 'AM-T', amount: -5, channel: 'simulated' }],
    ] as const) {
      const r = await post(p, path, body, path.includes('top-ups') ? operator(p) : undefined);
      expect([path, r.statusCode, json<Problem>(r).code]).toEqual([path, 400, 'ERR_VALIDATION']);
    }
    expect(changedTables(before, digests(p))).toEqual([]);
  });
});

describe('top-ups and fees', () => {
  it('a parent pays a linked student’s fee; a non-linked one is 403 and changes nothing; fees at once never overdraw', async () => {
    p = await demoPlatform();
    const fee = (no: string, payer: string, student: string, amount: number) =>
      post(
        p,
        '/v1/fees',
        { out_trade_no: no, payer_person_id: payer, student_person_id: student, fee_type: 'tuition', amount },
        operator(p),
      );
    const before = digests(p);
    const denied = await fee('FE-1', 'p-001', 's-002', 100);
    expect([denied.statusCode, json<Problem>(denied).code]).toEqual([403, 'ERR_PERMISSION_DENIED']);
    expect(changedTables(before, digests(p))).toEqual([]);
    const fees = await Promise.all([1, 2, 3].map((i) => fee(`FE-C${i}`, 'p-002', 's-003', 200_000)));
    expect(fees.map((r) => json<Order>(r).status).sort()).toEqual(['failed', 'success', 'success']);
    expect(walletBalance(p, 'p-002')).toBe(100_000);
    // the same top-up twice at once is booked once
    const tops = await Promise.all(
      [1, 2].map(() =>
        post(
          p,
          '/v1/wallets/s-002/top-ups',
          { out_trade_no: 'TU-1', amount: 7, channel: 'simulated' },
          operator(p),
        ),
      ),
    );
    expect(tops.map((r) => r.statusCode).sort()).toEqual([200, 201]);
    expect(walletBalance(p, 's-002')).toBe(5_007);
    expect(ledgerProblems(p)).toEqual([]);
  });
});

describe('offline batches', () => {
  it('good and bad sales in one batch: each answered, caps hold, an overdraw is booked (negative balance)', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = await registerPos(p, 'pos-of', 5_000, 12_000);
    const t = p.clock.nowSeconds() - 60;
    const item = async (seq: number, amount: number, codeAt = t) => ({
      seq,
      out_trade_no: `OF-${seq}`,
      amount,
      qr_text: await qrOf(p, 's-002', 2, codeAt),
      captured_at: new Date(t * 1000).toISOString(),
    });
    const items = [
      await item(1, 4_000),
      await item(2, 4_000), // beyond the balance of 5 000: booked all the same
      await item(3, 5_001), // over the per-payment cap
      await item(4, 4_000), // the day's 12 000 exactly
      await item(5, 1), // over the day's cap
    ];
    const r = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/offline-batches', { items }));
    expect(r.statusCode, r.body).toBe(200);
    expect(json<OfflineBatchResult>(r).results.map((x) => [x.seq, x.outcome, x.code])).toEqual([
      [1, 'accepted', null],
      [2, 'accepted', null],
      [3, 'rejected', 'ERR_OFFLINE_CAP'],
      [4, 'accepted', null],
      [5, 'rejected', 'ERR_OFFLINE_CAP'],
    ]);
    expect(walletBalance(p, 's-002')).toBe(5_000 - 12_000);
    // the same seq with another body is the first answer, and books nothing
    const again = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments/offline-batches', {
        items: [{ ...(await item(1, 99)), out_trade_no: 'OF-other' }],
      }),
    );
    expect(json<OfflineBatchResult>(again).results[0]).toMatchObject({
      outcome: 'duplicate',
      out_trade_no: 'OF-1',
    });
    expect(walletBalance(p, 's-002')).toBe(-7_000);
    const online = await pay(p, 'OF-ON', 1, 's-002');
    expect(json<Order>(online)).toMatchObject({ status: 'failed', failure_code: 'ERR_INSUFFICIENT_FUNDS' });
    expect(ledgerProblems(p)).toEqual([]);
  });
});

describe('wallet summaries and statements', () => {
  it('[from, to) holds to the millisecond, fractions below it included: a bound is never moved past a posting', async () => {
    p = await demoPlatform();
    p.clock.advance(1);
    await pay(p, 'SU-1', 100); // posted at 08:00:01.000
    const spent = async (from: string, to: string) => {
      const r = await summary(p, 's-001', from, to);
      expect(r.statusCode, r.body).toBe(200);
      return json<{ spent: number }>(r).spent;
    };
    expect(await spent('2026-01-05T08:00:01Z', '2026-01-05T08:00:02Z')).toBe(100); // from is inclusive
    expect(await spent('2026-01-05T08:00:00Z', '2026-01-05T08:00:01Z')).toBe(0); // to is exclusive
    expect(await spent('2026-01-05T08:00:01Z', '2026-01-05T08:00:01Z')).toBe(0); // empty
    // 08:00:01.000 is before 08:00:01.0001: outside a range from there, inside one up to there
    expect(await spent('2026-01-05T08:00:01.0001Z', '2026-01-05T08:00:02Z')).toBe(0);
    expect(await spent('2026-01-05T08:00:00Z', '2026-01-05T08:00:01.0001Z')).toBe(100);
    expect(await spent('2026-01-05T08:00:00.999999999Z', '2026-01-05T08:00:01.000000001Z')).toBe(100);
    expect(await spent('2026-01-05T08:00:01.000000001Z', '2026-01-05T08:00:01.000999Z')).toBe(0);
  });

  it('a reversed range or a date that does not exist is a 400 ERR_VALIDATION naming the field', async () => {
    p = await demoPlatform();
    const before = digests(p);
    const r = await summary(p, 's-001', '2026-01-05T08:00:02Z', '2026-01-05T08:00:01Z');
    expect([r.statusCode, json<Problem>(r).code]).toEqual([400, 'ERR_VALIDATION']);
    expect(json<Problem>(r).errors?.map((e) => e.path)).toEqual(['querystring/to']);
    // bounds count in the platform's whole milliseconds (rounded up): these two are one, an empty range
    const sub = await summary(p, 's-001', '2026-01-05T08:00:01.0002Z', '2026-01-05T08:00:01.0001Z');
    expect(sub.statusCode, sub.body).toBe(200);
    const tz = await summary(p, 's-001', '2026-01-05T16:00:00+08:00', '2026-01-05T09:00:00Z');
    expect(json<Problem>(tz).errors?.map((e) => e.path)).toEqual(['querystring/from']);
    p.clock.advance(86_400 * 60);
    const st = await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'GET', '/v1/statements/2026-02-30'));
    expect([st.statusCode, json<Problem>(st).code]).toEqual([400, 'ERR_VALIDATION']);
    expect(json<Problem>(st).errors?.map((e) => e.path)).toEqual(['params/date']);
    expect(changedTables(before, digests(p))).toEqual([]);
  });

  it('over days of payments, refunds, reversals, fees and offline sales: summaries are the balances, statements the merchant account', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const pos = deviceSigner(p, 'pos-01');
    await pay(p, 'DY-1', 1_500);
    await pay(p, 'DY-2', 60_000, 'p-001'); // confirmed 5 s later
    p.clock.advance(16 * 3600 - 3); // 23:59:57: DY-3 is confirmed after midnight
    await pay(p, 'DY-3', 70_000, 'p-002');
    await post(p, '/v1/payments/DY-1/refunds', { out_refund_no: 'DY-1-a', amount: 500 });
    p.clock.advance(10);
    await post(p, '/v1/payments/DY-3/refunds', { out_refund_no: 'DY-3-a', amount: 1 });
    await post(p, '/v1/payments/DY-2/reverse', {});
    await post(
      p,
      '/v1/fees',
      {
        out_trade_no: 'DY-F',
        payer_person_id: 'p-001',
        student_person_id: 's-001',
        fee_type: 'meals',
        amount: 900,
      },
      operator(p),
    );
    const t = p.clock.nowSeconds() - 30;
    await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments/offline-batches', {
        items: [
          {
            seq: 1,
            out_trade_no: 'DY-O',
            amount: 2_000,
            qr_text: await qrOf(p, 's-002', 2, t),
            captured_at: new Date(t * 1000).toISOString(),
          },
        ],
      }),
    );
    p.clock.advance(2 * 86_400);
    let net = 0;
    for (const date of ['2026-01-05', '2026-01-06', '2026-01-07']) {
      const info = await p.app.inject(signed(p, pos, 'GET', `/v1/statements/${date}`));
      expect(info.statusCode, info.body).toBe(200);
      const s = json<{ credits: number; debits: number; net: number }>(info);
      expect(s.net).toBe(s.credits - s.debits);
      net += s.net;
    }
    expect(net).toBe(merchantBalance(p, 'm-canteen-s'));
    expect(net).toBe(1_500 - 500 + 70_000 - 1 + 2_000);
    for (const who of ['s-001', 's-002', 'p-001', 'p-002']) {
      const s = json<{ net: number }>(await summary(p, who, '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'));
      expect([who, s.net]).toEqual([who, walletBalance(p, who)]);
    }
    expect(ledgerProblems(p)).toEqual([]);
  });
});
