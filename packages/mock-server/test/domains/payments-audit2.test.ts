/**
 * A second audit of the online payments domain: answers a POS or a finance back office would
 * act on wrongly (a transient refusal stored as final, a lookup that answers another order).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkLedger } from '../../src/domains/ledger.js';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, signed, walletBalance } from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

type Order = { order_id: string; kind: string; status: string; amount: number; refunded_amount: number };
type Problem = { code: string; retryable: boolean };

const pay = async (p: MockPlatform, no: string, amount: number, who = 's-001', dev = 'pos-01') =>
  p.app.inject(
    signed(p, deviceSigner(p, dev), 'POST', '/v1/payments', {
      out_trade_no: no,
      amount,
      qr_text: await qrOf(p, who, 2),
    }),
  );

describe('a refund of a payment still awaiting its confirmation', () => {
  it('is a retryable 409 ERR_ORDER_STATE with Retry-After, not stored: the same request succeeds once the payment is captured', async () => {
    p = await demoPlatform();
    expect(json<Order>(await pay(p, 'PR-1', 60_000, 'p-001')).status).toBe('processing');
    p.clock.advance(2); // confirmed in 3 s
    const refund = () =>
      p.app.inject(
        signed(
          p,
          deviceSigner(p, 'pos-01'),
          'POST',
          '/v1/payments/PR-1/refunds',
          { out_refund_no: 'PR-1-a', amount: 1_000 },
          // the POS client's key for this refund: the same on every call of it
          { idempotencyKey: 'refund:PR-1:PR-1-a' },
        ),
      );
    const early = await refund();
    expect([early.statusCode, json<Problem>(early).code, json<Problem>(early).retryable]).toEqual([
      409,
      'ERR_ORDER_STATE',
      true,
    ]);
    expect(early.headers['retry-after']).toBe('3');
    expect(walletBalance(p, 'p-001')).toBe(500_000);
    p.clock.advance(3);
    const late = await refund();
    expect(late.statusCode, late.body).toBe(201);
    expect(late.headers['idempotent-replayed']).toBeUndefined();
    expect(walletBalance(p, 'p-001')).toBe(500_000 - 60_000 + 1_000);
    expect(checkLedger(p.state).problems).toEqual([]);
  });

  it('a payment that ended without money (closed, failed) is refused for good: not retryable', async () => {
    p = await demoPlatform();
    await pay(p, 'PR-C', 60_000, 'p-001');
    await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments/PR-C/close', {}));
    const r = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments/PR-C/refunds', {
        out_refund_no: 'PR-C-a',
        amount: 1,
      }),
    );
    expect([r.statusCode, json<Problem>(r).code, json<Problem>(r).retryable]).toEqual([
      409,
      'ERR_ORDER_STATE',
      false,
    ]);
    expect(r.headers['retry-after']).toBeUndefined();
  });
});

describe('the operator queries an order by its out_trade_no', () => {
  it('gets the fee or top-up it numbered so, not a merchant payment made earlier under the same number', async () => {
    p = await demoPlatform();
    expect(json<Order>(await pay(p, 'N-1001', 300)).kind).toBe('payment');
    p.clock.advance(1);
    const fee = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/fees', {
        out_trade_no: 'N-1001',
        payer_person_id: 'p-001',
        student_person_id: 's-001',
        fee_type: 'meals',
        amount: 700,
      }),
    );
    expect(fee.statusCode, fee.body).toBe(201);
    const got = await p.app.inject(signed(p, operator(p), 'GET', '/v1/payments/N-1001'));
    expect(got.statusCode, got.body).toBe(200);
    expect(json<Order>(got)).toMatchObject({
      order_id: json<Order>(fee).order_id,
      kind: 'fee',
      amount: 700,
    });
    // a number the operator never used is still found among the merchants' orders
    expect(await pay(p, 'N-2002', 400)).toMatchObject({ statusCode: 201 });
    const merchant = await p.app.inject(signed(p, operator(p), 'GET', '/v1/payments/N-2002'));
    expect(json<Order>(merchant)).toMatchObject({ kind: 'payment', amount: 400 });
  });
});

describe('a fee for someone who is not a student', () => {
  it('is a 422 naming body/student_person_id and what the person is; an unknown id stays 404; nothing is paid', async () => {
    p = await demoPlatform();
    const fee = (student: string) =>
      p!.app.inject(
        signed(p!, operator(p!), 'POST', '/v1/fees', {
          out_trade_no: `F-${student}`,
          payer_person_id: 'p-001',
          student_person_id: student,
          fee_type: 'tuition',
          amount: 100,
        }),
      );
    const before = walletBalance(p, 'p-001');
    const parent = await fee('p-002');
    expect([parent.statusCode, json(parent).code, json(parent).errors]).toEqual([
      422,
      'ERR_VALIDATION',
      [{ path: 'body/student_person_id', message: 'p-002 is a parent, not a student' }],
    ]);
    const teacher = await fee('t-001');
    expect(json(teacher).errors).toEqual([
      { path: 'body/student_person_id', message: 't-001 is a teacher, not a student' },
    ]);
    const unknown = await fee('s-nobody');
    expect([unknown.statusCode, json(unknown).code]).toEqual([404, 'ERR_NOT_FOUND']);
    expect(walletBalance(p, 'p-001')).toBe(before);
  });
});
