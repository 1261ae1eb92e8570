import type { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { CampusCardApiError, createMemoryOutbox, isPosClientError } from '../src/index.js';
import { JSON_HEADERS, NOW, ORIGIN, order, QR, unitClient, useMockAgent } from './helpers.js';

// Answers that fit the contract but are not about what was asked: another order, another amount,
// another refund. None may end a sale (or a queued reversal) as if it were its own.

let agent: MockAgent;
useMockAgent((a) => {
  agent = a;
});

const caps = { perTransactionFen: 5_000, totalFen: 10_000, maxAgeSeconds: 3_600 };

describe('scanToPay: a success about another order is no success', () => {
  it('a create answered with another out_trade_no is polled: the sale ends on its own order', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ out_trade_no: 'OTHER', order_id: 'ord_other' }), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, order({ status: 'failed', failure_code: 'ERR_INSUFFICIENT_FUNDS' }), {
        headers: JSON_HEADERS,
      });
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r).toMatchObject({ status: 'failed', order: { out_trade_no: 'T1', order_id: 'ord_1' } });
  });

  it('a create answered success for another amount is not taken as paid', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ amount: 1 }), { headers: JSON_HEADERS });
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).reply(200, order(), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r).toMatchObject({ status: 'success', order: { amount: 1200 } });
  });

  it('polls answering another amount never end the sale as paid: it is reversed', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ status: 'processing' }), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, order({ amount: 99 }), { headers: JSON_HEADERS })
      .times(2);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ status: 'reversed' }), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent, { pollSchedule: [0, 0] });
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r.status).toBe('reversed');
  });

  it('a reversal answered with another order leaves the payment unknown, its reversal queued', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ status: 'processing' }), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, order({ status: 'processing' }), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ status: 'reversed', out_trade_no: 'OTHER' }), { headers: JSON_HEADERS });
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { pollSchedule: [0], offline: { outbox, caps } });
    const e = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' }).catch((x: unknown) => x);
    expect(isPosClientError(e, 'ERR_POS_PAYMENT_UNKNOWN')).toBe(true);
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'T1' }]);
  });
});

describe('payments: answers are checked against the request', () => {
  it('create, query, reverse and close refuse an order with another out_trade_no', async () => {
    const pool = agent.get(ORIGIN);
    const other = order({ out_trade_no: 'OTHER' });
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, other, { headers: JSON_HEADERS });
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).reply(200, other, { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, { ...other, status: 'reversed' }, { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1/close', method: 'POST' })
      .reply(200, { ...other, status: 'closed' }, { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    const results = await Promise.allSettled([
      pos.payments.create({ outTradeNo: 'T1', amountFen: 1200, qrText: QR }, { maxRetries: 0 }),
      pos.payments.query('T1', { maxRetries: 0 }),
      pos.payments.reverse('T1', { maxRetries: 0 }),
      pos.payments.close('T1', { maxRetries: 0 }),
    ]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const e = (r as PromiseRejectedResult).reason;
      expect(e).toBeInstanceOf(CampusCardApiError);
      expect(e).toMatchObject({ code: 'ERR_RESPONSE_INVALID' });
      expect((e as CampusCardApiError).status).toBeGreaterThanOrEqual(200);
    }
  });

  it('create refuses an order of another amount; refund one of another number or amount', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ amount: 5 }), { headers: JSON_HEADERS });
    const refund = {
      out_refund_no: 'R1',
      out_trade_no: 'T1',
      amount: 300,
      status: 'success',
      reason: null,
      created_at: '2026-01-05T08:00:00Z',
    };
    pool
      .intercept({ path: '/v1/payments/T1/refunds', method: 'POST' })
      .reply(200, { ...refund, amount: 50 }, { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1/refunds', method: 'POST' })
      .reply(200, { ...refund, out_refund_no: 'R0' }, { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1/refunds', method: 'POST' })
      .reply(200, { ...refund, out_trade_no: 'T0' }, { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    await expect(
      pos.payments.create({ outTradeNo: 'T1', amountFen: 1200, qrText: QR }, { maxRetries: 0 }),
    ).rejects.toMatchObject({ code: 'ERR_RESPONSE_INVALID', status: 201 });
    for (let i = 0; i < 3; i++) {
      await expect(
        pos.payments.refund('T1', { outRefundNo: 'R1', amountFen: 300 }, { maxRetries: 0 }),
      ).rejects.toMatchObject({ code: 'ERR_RESPONSE_INVALID', status: 200 });
    }
  });
});

describe('sync: a queued reversal is done only when its own order is final', () => {
  it('a reverse answered with a processing order or another order stays queued', async () => {
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    await outbox.append({ kind: 'reversal', outTradeNo: 'A', capturedAt: NOW });
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments/A/reverse', method: 'POST' })
      .reply(200, order({ out_trade_no: 'A', status: 'processing' }), { headers: JSON_HEADERS });
    expect(await pos.sync()).toMatchObject({ reversals: 0, remaining: 1, complete: false });
    pool
      .intercept({ path: '/v1/payments/A/reverse', method: 'POST' })
      .reply(200, order({ out_trade_no: 'B', status: 'reversed' }), { headers: JSON_HEADERS });
    expect(await pos.sync()).toMatchObject({ reversals: 0, remaining: 1, complete: false });
    pool
      .intercept({ path: '/v1/payments/A/reverse', method: 'POST' })
      .reply(200, order({ out_trade_no: 'A', status: 'reversed' }), { headers: JSON_HEADERS });
    expect(await pos.sync()).toMatchObject({ reversals: 1, remaining: 0, complete: true });
  });
});
