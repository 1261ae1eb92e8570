import type { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { createMemoryOutbox } from '../src/index.js';
import { calls, JSON_HEADERS, ORIGIN, order, QR, unitClient, useMockAgent } from './helpers.js';

let agent: MockAgent;
useMockAgent((a) => {
  agent = a;
});

const caps = { perTransactionFen: 5_000, totalFen: 10_000, maxAgeSeconds: 3_600 };
const REPLAYED = { ...JSON_HEADERS, 'idempotent-replayed': 'true' };

describe('scanToPay resuming an order number (audit 3)', () => {
  it('a replayed "success" of a resumed order is confirmed: the order was reversed since, so the sale is not paid', async () => {
    const pool = agent.get(ORIGIN);
    // the platform replays the first answer of pay:T1 (kept 24 h), taken before the reversal
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, order(), { headers: REPLAYED });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, order({ status: 'reversed', refunded_amount: 1200 }), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r.status).toBe('reversed');
    expect(calls(agent).map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/payments',
      'GET /v1/payments/T1',
    ]);
  });

  it('a replayed "success" that is still paid ends success after one query', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, order(), { headers: REPLAYED });
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).reply(200, order(), { headers: JSON_HEADERS });
    const { pos, sleeps } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r.status).toBe('success');
    expect(sleeps).toEqual([0]); // confirmed at once, not after the first poll delay
  });

  it('a sale with a generated order number trusts its own replay (nobody else knows the number)', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(
        201,
        (opts) => {
          const text =
            typeof opts.body === 'string' ? opts.body : new TextDecoder().decode(opts.body as Uint8Array);
          return order({ out_trade_no: (JSON.parse(text) as { out_trade_no: string }).out_trade_no });
        },
        { headers: REPLAYED },
      );
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200 });
    expect(r.status).toBe('success');
    expect(calls(agent)).toHaveLength(1);
  });

  it('a resumed sale that ends paid drops the reversal a crashed earlier attempt left owed: sync() does not undo it', async () => {
    const outbox = createMemoryOutbox({ now: () => 1 });
    // the earlier attempt of T1 died mid-sale (power cut): its write-ahead reversal is still owed
    const stale = await outbox.append({ kind: 'reversal', outTradeNo: 'T1', capturedAt: 1 });
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, order(), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r.status).toBe('success');
    expect((await outbox.pending()).map((e) => e.seq)).not.toContain(stale.seq);
    const s = await pos.sync();
    expect(s).toMatchObject({ reversals: 0, remaining: 0, complete: true });
    expect(calls(agent).filter((c) => c.path.endsWith('/reverse'))).toEqual([]);
  });

  it("a resumed sale refused for good leaves the earlier attempt's reversal owed", async () => {
    const outbox = createMemoryOutbox({ now: () => 1 });
    const stale = await outbox.append({ kind: 'reversal', outTradeNo: 'T1', capturedAt: 1 });
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(
        422,
        {
          type: 'about:blank',
          title: 'Problem',
          status: 422,
          code: 'ERR_IDEMPOTENCY_KEY_REUSED',
          retryable: false,
          request_id: 'r',
        },
        { headers: { 'content-type': 'application/problem+json' } },
      );
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    await expect(pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' })).rejects.toMatchObject({
      code: 'ERR_IDEMPOTENCY_KEY_REUSED',
    });
    expect((await outbox.pending()).map((e) => e.seq)).toEqual([stale.seq]);
  });

  it('sync() leaves alone an owed reversal of an order number a sale is running, and one acknowledged meanwhile', async () => {
    const outbox = createMemoryOutbox({ now: () => 1 });
    await outbox.append({ kind: 'reversal', outTradeNo: 'T1', capturedAt: 1 });
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order(), { headers: JSON_HEADERS })
      .delay(50);
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    const sale = pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    await new Promise((r) => setTimeout(r, 10)); // the create is in flight
    const s = await pos.sync();
    expect(s.reversals).toBe(0);
    expect((await sale).status).toBe('success');
    expect(calls(agent).filter((c) => c.path.endsWith('/reverse'))).toEqual([]);
    expect(await outbox.pending()).toEqual([]);
  });

  it('a resumed sale waits for the owed reversal sync() is sending for its number, then reports the reversed order', async () => {
    const outbox = createMemoryOutbox({ now: () => 1 });
    await outbox.append({ kind: 'reversal', outTradeNo: 'T1', capturedAt: 1 });
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ status: 'reversed', refunded_amount: 1200 }), { headers: JSON_HEADERS })
      .delay(80);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, order(), { headers: REPLAYED });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, order({ status: 'reversed', refunded_amount: 1200 }), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    const sync = pos.sync();
    await new Promise((r) => setTimeout(r, 20)); // the reverse is in flight
    const sale = pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    await new Promise((r) => setTimeout(r, 20));
    expect(calls(agent).map((c) => c.path)).toEqual(['/v1/payments/T1/reverse']); // no create yet
    expect(await sync).toMatchObject({ reversals: 1 });
    expect((await sale).status).toBe('reversed');
    expect(await outbox.pending()).toEqual([]);
  });
});
