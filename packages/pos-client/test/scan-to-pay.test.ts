import type { MockAgent } from 'undici';
import { describe, expect, it, vi } from 'vitest';
import {
  CampusCardApiError,
  createMemoryOutbox,
  DEFAULT_POLL_SCHEDULE,
  InvalidRequestError,
  isPosClientError,
  type OfflineVerifier,
} from '../src/index.js';
import {
  calls,
  connectRefused,
  JSON_HEADERS,
  NOW,
  ORIGIN,
  order,
  PROBLEM_HEADERS,
  problem,
  QR,
  socketDropped,
  unitClient,
  useMockAgent,
} from './helpers.js';

let agent: MockAgent;
useMockAgent((a) => {
  agent = a;
});

const caps = { perTransactionFen: 5_000, totalFen: 10_000, maxAgeSeconds: 3_600 };

describe('scanToPay', () => {
  it('pays in one call with the idempotency key pay:<outTradeNo> and the code as user', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, order({ out_trade_no: 'T1' }), {
      headers: JSON_HEADERS,
    });
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1', description: 'lunch' });
    expect(r.status).toBe('success');
    expect(r.order?.order_id).toBe('ord_1');
    expect(calls(agent)).toEqual([
      {
        method: 'POST',
        path: '/v1/payments',
        key: 'pay:T1',
        body: { out_trade_no: 'T1', amount: 1200, qr_text: QR, description: 'lunch' },
      },
    ]);
  });

  it('generates an out_trade_no when none is given', async () => {
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
        { headers: JSON_HEADERS },
      );
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200 });
    expect(r.outTradeNo).toMatch(/^pos-01-[0-9a-z]+-[0-9a-f]{12}$/);
    expect(calls(agent)[0]?.key).toBe(`pay:${r.outTradeNo}`);
  });

  it('reuses the same idempotency key and body across retries after a lost response', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(socketDropped());
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(503, problem(503, 'ERR_X', true), {
      headers: PROBLEM_HEADERS,
    });
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(200, order(), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r.status).toBe('success');
    const seen = calls(agent);
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((c) => c.key))).toEqual(new Set(['pay:T1']));
    expect(new Set(seen.map((c) => JSON.stringify(c.body))).size).toBe(1);
  });

  it('polls a processing payment on the published schedule, then reverses it when it is not confirmed', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ status: 'processing', amount: 60_000 }), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, order({ status: 'processing', amount: 60_000 }), { headers: JSON_HEADERS })
      .times(DEFAULT_POLL_SCHEDULE.length);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ status: 'reversed', amount: 60_000 }), { headers: JSON_HEADERS });
    const { pos, sleeps } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 60_000, outTradeNo: 'T1' });
    expect(r.status).toBe('reversed');
    expect(sleeps).toEqual([500, 1000, 2000, 4000, 8000]);
    const seen = calls(agent);
    expect(seen.filter((c) => c.method === 'POST' && c.path === '/v1/payments')).toHaveLength(1);
    expect(seen.at(-1)).toMatchObject({
      path: '/v1/payments/T1/reverse',
      body: { reason: 'not confirmed in time' },
    });
  });

  it('after a timeout with no answer, polls and finds the payment: no second charge, no reversal', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(socketDropped()).times(3);
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).replyWithError(socketDropped());
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).reply(200, order(), { headers: JSON_HEADERS });
    const { pos, sleeps } = unitClient(agent, { offline: { outbox: createMemoryOutbox(), caps } });
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r).toMatchObject({ status: 'success', order: { status: 'success' } });
    // two backoff sleeps of the create retries, then two poll delays
    expect(sleeps.slice(-2)).toEqual([500, 1000]);
    const creates = calls(agent).filter((c) => c.path === '/v1/payments');
    expect(creates).toHaveLength(3);
    expect(new Set(creates.map((c) => c.key))).toEqual(new Set(['pay:T1']));
  });

  it('re-sends the create with the same key when polling finds no order', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(socketDropped()).times(3);
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(404, problem(404, 'ERR_NOT_FOUND'), { headers: PROBLEM_HEADERS });
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, order(), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r.status).toBe('success');
    expect(
      new Set(
        calls(agent)
          .filter((c) => c.method === 'POST')
          .map((c) => c.key),
      ),
    ).toEqual(new Set(['pay:T1']));
  });

  it('reports a final failure (insufficient funds) without polling', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ status: 'failed', failure_code: 'ERR_INSUFFICIENT_FUNDS' }), {
        headers: JSON_HEADERS,
      });
    const { pos, sleeps } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r).toMatchObject({ status: 'failed', order: { failure_code: 'ERR_INSUFFICIENT_FUNDS' } });
    expect(sleeps).toEqual([]);
  });

  it('throws a definitive refusal (a used code) without retrying or polling', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(409, problem(409, 'ERR_CODE_ALREADY_USED'), { headers: PROBLEM_HEADERS });
    const { pos } = unitClient(agent);
    const err = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CODE_ALREADY_USED', status: 409 });
    expect(calls(agent)).toHaveLength(1);
  });

  it('denies early with the verifier reason and sends nothing', async () => {
    const verifier: OfflineVerifier = {
      verify: async (input, ctx) => {
        expect(input).toBe(QR);
        expect(ctx).toEqual({ now: Math.floor(NOW / 1000), reader: { id: 'pos-01' } });
        return {
          accepted: false,
          reason: 'CODE_TOO_OLD',
          detail: 'code older than 90 s',
          audit: { trustList: null, statusList: null, roster: null, lastSyncAt: null, clock: 0, floor: 0 },
        };
      },
    };
    const { pos } = unitClient(agent, { verifier });
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r).toMatchObject({ status: 'denied', reason: 'CODE_TOO_OLD', order: null });
    expect(calls(agent)).toHaveLength(0);
  });

  it('a reversal answered 404 pins the key by re-sending the create, then reverses what landed', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(socketDropped()).times(3);
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(503, problem(503, 'ERR_X', true), { headers: PROBLEM_HEADERS })
      .times(5);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(404, problem(404, 'ERR_NOT_FOUND'), { headers: PROBLEM_HEADERS });
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ status: 'processing' }), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ status: 'reversed' }), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent, { maxRetries: 0 });
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r.status).toBe('reversed');
  });

  it('rejects bad arguments with TypeError/RangeError', async () => {
    const { pos } = unitClient(agent);
    await expect(pos.scanToPay({ qr: QR, amountFen: 0 })).rejects.toBeInstanceOf(RangeError);
    await expect(pos.scanToPay({ qr: QR, amountFen: 1.5 })).rejects.toBeInstanceOf(RangeError);
    await expect(pos.scanToPay({ qr: '', amountFen: 1 })).rejects.toBeInstanceOf(TypeError);
    await expect(pos.scanToPay({ qr: QR, amountFen: 1, outTradeNo: 'bad/no' })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(
      pos.scanToPay({ qr: QR, amountFen: 1, outTradeNo: 'T1', description: 'x'.repeat(129) }),
    ).rejects.toBeInstanceOf(TypeError);
  });

  it('refuses the order numbers "." and "..", which the URL parser would turn into another path', async () => {
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    for (const no of ['.', '..']) {
      await expect(pos.scanToPay({ qr: QR, amountFen: 1, outTradeNo: no })).rejects.toBeInstanceOf(TypeError);
      await expect(pos.payments.query(no)).rejects.toBeInstanceOf(TypeError);
      await expect(pos.payments.reverse(no)).rejects.toBeInstanceOf(TypeError);
      await expect(pos.payments.close(no)).rejects.toBeInstanceOf(TypeError);
      await expect(pos.payments.refund('T1', { outRefundNo: no, amountFen: 1 })).rejects.toBeInstanceOf(
        TypeError,
      );
      await expect(pos.wallets.balance(no)).rejects.toBeInstanceOf(TypeError);
    }
    pos.setOffline(true);
    await expect(pos.scanToPay({ qr: QR, amountFen: 1, outTradeNo: '..' })).rejects.toBeInstanceOf(TypeError);
    expect(calls(agent)).toHaveLength(0);
    expect(await outbox.pending()).toEqual([]);
    // dots inside a longer number are fine
    pos.setOffline(false);
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/...', method: 'GET' })
      .reply(200, order({ out_trade_no: '...' }), { headers: JSON_HEADERS });
    await expect(pos.payments.query('...')).resolves.toMatchObject({ out_trade_no: '...' });
  });
});

describe('scanToPay offline', () => {
  it('offline sale validates qr and outTradeNo like the online path', async () => {
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { offline: { outbox, caps, startOffline: true } });
    await expect(pos.scanToPay({ qr: 'https://example.com/x', amountFen: 100 })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(pos.scanToPay({ qr: QR, amountFen: 100, outTradeNo: 'bad/no' })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(pos.scanToPay({ qr: `${QR}a`, amountFen: 100 })).rejects.toBeInstanceOf(TypeError);
    await expect(pos.scanToPay({ qr: `CC1:${'A'.repeat(1021)}`, amountFen: 100 })).rejects.toBeInstanceOf(
      TypeError,
    );
    expect(await outbox.pending()).toEqual([]);
  });

  it('the connection-refused fallback validates the sale too, and sends nothing for a bad one', async () => {
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    await expect(
      pos.scanToPay({ qr: 'cc1:lowercase', amountFen: 100, outTradeNo: 'T1' }),
    ).rejects.toBeInstanceOf(TypeError);
    await expect(
      pos.scanToPay({ qr: QR, amountFen: 100, outTradeNo: 'x'.repeat(65) }),
    ).rejects.toBeInstanceOf(TypeError);
    expect(calls(agent)).toHaveLength(0);
    expect(await outbox.pending()).toEqual([]);
  });

  it('sells offline within caps when the platform cannot be reached at all', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments', method: 'POST' })
      .replyWithError(connectRefused())
      .times(3);
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r).toMatchObject({ status: 'offline_accepted', order: null, outTradeNo: 'T1' });
    // the sale alone: the write-ahead reversal queued before the create (seq NOW) is acknowledged
    expect(await outbox.pending()).toEqual([
      { kind: 'payment', seq: NOW + 1, outTradeNo: 'T1', amountFen: 1200, qrText: QR, capturedAt: NOW },
    ]);
  });

  it('with the explicit offline flag sends nothing and enforces every cap', async () => {
    let now = NOW;
    const outbox = createMemoryOutbox({ now: () => now });
    const { pos } = unitClient(agent, { now: () => now, offline: { outbox, caps, startOffline: true } });
    expect(pos.isOffline).toBe(true);
    await expect(pos.scanToPay({ qr: QR, amountFen: 5_001 })).rejects.toMatchObject({
      code: 'ERR_POS_OFFLINE_CAP',
      cap: 'perTransaction',
    });
    await pos.scanToPay({ qr: QR, amountFen: 5_000 });
    await pos.scanToPay({ qr: QR, amountFen: 5_000 });
    const e = await pos.scanToPay({ qr: QR, amountFen: 1 }).catch((x: unknown) => x);
    expect(isPosClientError(e, 'ERR_POS_OFFLINE_CAP') && e.cap).toBe('total');
    await outbox.ack([(await outbox.pending())[1]!.seq]);
    now += 3_601_000;
    await expect(pos.scanToPay({ qr: QR, amountFen: 1 })).rejects.toMatchObject({ cap: 'maxAge' });
    expect(calls(agent)).toHaveLength(0);
  });

  it('concurrent offline sales cannot overshoot the total cap together', async () => {
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { offline: { outbox, caps, startOffline: true } });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => pos.scanToPay({ qr: QR, amountFen: 4_000 })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    expect((await outbox.pending()).reduce((s, e) => s + (e.kind === 'payment' ? e.amountFen : 0), 0)).toBe(
      8_000,
    );
  });

  it('without offline mode an unreachable platform is ERR_POS_PAYMENT_UNKNOWN', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(connectRefused()).times(3);
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).replyWithError(connectRefused()).times(5);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .replyWithError(connectRefused())
      .times(5);
    const { pos } = unitClient(agent);
    await expect(pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' })).rejects.toMatchObject({
      code: 'ERR_POS_PAYMENT_UNKNOWN',
      outTradeNo: 'T1',
    });
  });

  it('past the caps with the platform unreachable, queues a reversal that sync() completes', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(connectRefused()).times(3);
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).replyWithError(connectRefused()).times(5);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .replyWithError(connectRefused())
      .times(5);
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    const err = await pos.scanToPay({ qr: QR, amountFen: 9_000, outTradeNo: 'T1' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_POS_PAYMENT_UNKNOWN', outTradeNo: 'T1' });
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'T1' }]);

    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ status: 'reversed' }), { headers: JSON_HEADERS });
    const s = await pos.sync();
    expect(s).toMatchObject({ reversals: 1, remaining: 0, complete: true });
    expect(await outbox.pending()).toEqual([]);
  });
});

describe('scanToPay: answers that are not the expected JSON', () => {
  const HTML = { 'content-type': 'text/html; charset=utf-8' };
  const portal = '<html><head><title>Guest Wi-Fi</title></head><body>Log in</body></html>';
  const creates = () => calls(agent).filter((c) => c.method === 'POST' && c.path === '/v1/payments');

  it('an empty 201 on create is no raw TypeError: polling finds the payment', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, '', { headers: JSON_HEADERS });
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).reply(200, order(), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent, { offline: { outbox: createMemoryOutbox(), caps } });
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r).toMatchObject({ status: 'success', order: { order_id: 'ord_1' } });
    expect(creates()).toHaveLength(1); // polled, not re-charged
  });

  it('an empty 201 (or null) everywhere ends as payment-unknown with a reversal queued', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, '', { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, 'null', { headers: JSON_HEADERS })
      .times(DEFAULT_POLL_SCHEDULE.length);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, '', { headers: JSON_HEADERS });
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    const e = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_POS_PAYMENT_UNKNOWN', outTradeNo: 'T1' });
    expect((e as Error).cause).toMatchObject({ code: 'ERR_RESPONSE_INVALID', status: 200 });
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'T1' }]);
  });

  it("a captive portal's HTML on create, query and reverse never reports 'reversed'", async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(200, portal, { headers: HTML });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, portal, { headers: HTML })
      .times(DEFAULT_POLL_SCHEDULE.length);
    pool.intercept({ path: '/v1/payments/T1/reverse', method: 'POST' }).reply(200, portal, { headers: HTML });
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    const e = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_POS_PAYMENT_UNKNOWN' });
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'T1' }]);
  });

  it('a reverse answering an order that is not final leaves the outcome unknown', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ status: 'processing' }), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, order({ status: 'processing' }), { headers: JSON_HEADERS })
      .times(DEFAULT_POLL_SCHEDULE.length);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ status: 'processing' }), { headers: JSON_HEADERS });
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    await expect(pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' })).rejects.toMatchObject({
      code: 'ERR_POS_PAYMENT_UNKNOWN',
    });
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'T1' }]);
  });

  it('truncated JSON in a 201 is no refusal: it polls and resolves the payment', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, '{"order_id":"ord_1","sta', { headers: JSON_HEADERS });
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).reply(200, order(), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    const r = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    expect(r.status).toBe('success');
    expect(calls(agent).length).toBeGreaterThan(1);
    expect(creates()).toHaveLength(1);
  });

  it('payments.query on a 200 text/html rejects with a CampusCardApiError', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(200, portal, { headers: HTML });
    const { pos } = unitClient(agent);
    const e = await pos.payments.query('T1').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CampusCardApiError);
    expect(e).toMatchObject({ code: 'ERR_RESPONSE_INVALID', status: 200 });
  });
});

describe('scanToPay: refusals that say nothing about the payment', () => {
  const unauthorized = () => problem(401, 'ERR_SIG_EXPIRED');

  it('401 on the queries and the reverse after a lost create: payment unknown, reversal queued', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(socketDropped()).times(3);
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(401, unauthorized(), { headers: PROBLEM_HEADERS })
      .times(DEFAULT_POLL_SCHEDULE.length);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(401, unauthorized(), { headers: PROBLEM_HEADERS });
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { maxRetries: 0, offline: { outbox, caps } });
    const e = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_POS_PAYMENT_UNKNOWN' });
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'T1' }]);
  });

  it('a re-sent create answered 401 or 403 does not pin the key', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(socketDropped()).times(3);
    // the order is not visible yet: every poll re-sends the create, which is refused before its key is looked at
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(404, problem(404, 'ERR_NOT_FOUND'), { headers: PROBLEM_HEADERS })
      .times(DEFAULT_POLL_SCHEDULE.length);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(401, unauthorized(), { headers: PROBLEM_HEADERS })
      .times(DEFAULT_POLL_SCHEDULE.length);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(404, problem(404, 'ERR_NOT_FOUND'), { headers: PROBLEM_HEADERS });
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(403, problem(403, 'ERR_FORBIDDEN'), { headers: PROBLEM_HEADERS });
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { maxRetries: 0, offline: { outbox, caps } });
    const e = await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_POS_PAYMENT_UNKNOWN' });
    expect((e as Error).cause).toMatchObject({ status: 403 });
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'T1' }]);
  });

  it('a re-sent create refused for good after its key check is final: nothing can be charged', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).replyWithError(socketDropped()).times(3);
    pool
      .intercept({ path: '/v1/payments/T1', method: 'GET' })
      .reply(404, problem(404, 'ERR_NOT_FOUND'), { headers: PROBLEM_HEADERS });
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(409, problem(409, 'ERR_CODE_ALREADY_USED'), { headers: PROBLEM_HEADERS });
    const outbox = createMemoryOutbox();
    const { pos } = unitClient(agent, { maxRetries: 0, offline: { outbox, caps } });
    await expect(pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' })).rejects.toMatchObject({
      code: 'ERR_CODE_ALREADY_USED',
      status: 409,
    });
    expect(await outbox.pending()).toEqual([]);
  });
});

describe('errors', () => {
  it('maps problem+json to typed errors', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/NOPE', method: 'GET' })
      .reply(404, problem(404, 'ERR_NOT_FOUND'), { headers: PROBLEM_HEADERS });
    const { pos } = unitClient(agent);
    const e = await pos.payments.query('NOPE').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InvalidRequestError);
    expect(e).toMatchObject({ code: 'ERR_NOT_FOUND', status: 404, requestId: 'req_p', retryable: false });
  });
});

describe('scanToPay: a write-ahead reversal for a device that dies mid-sale', () => {
  it('dies while the create is in flight: after the restart, sync() reverses whatever it did', async () => {
    const pool = agent.get(ORIGIN);
    // the create reaches the platform, and the device dies before any answer
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ out_trade_no: 'T1' }), { headers: JSON_HEADERS })
      .delay(600_000);
    const outbox = createMemoryOutbox({ now: () => NOW }); // durable: it outlives the process
    const before = unitClient(agent, { offline: { outbox, caps } });
    const dying = new AbortController();
    const sale = before.pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1', signal: dying.signal });
    const lost = sale.catch((e: unknown) => e);
    await vi.waitFor(() => expect(calls(agent)).toHaveLength(1));
    expect(await outbox.pending()).toEqual([
      { kind: 'reversal', seq: NOW, outTradeNo: 'T1', capturedAt: NOW },
    ]);

    // the restart: a new client on the same outbox
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ out_trade_no: 'T1', status: 'reversed' }), { headers: JSON_HEADERS });
    const after = unitClient(agent, { offline: { outbox, caps } });
    expect(await after.pos.sync()).toMatchObject({ reversals: 1, remaining: 0, complete: true });
    expect(calls(agent).map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /v1/payments',
      'POST /v1/payments/T1/reverse',
    ]);
    dying.abort(); // (the first process is gone; only its promise is left to settle)
    await lost;
  });

  it('a sale with an outcome leaves nothing owed: success, a final failure, a definitive refusal', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, order({ out_trade_no: 'T1' }), {
      headers: JSON_HEADERS,
    });
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ out_trade_no: 'T2', status: 'failed', failure_code: 'ERR_INSUFFICIENT_FUNDS' }), {
        headers: JSON_HEADERS,
      });
    // the out_trade_no names another sale: reversing that one would be wrong
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(409, problem(409, 'ERR_OUT_TRADE_NO_CONFLICT', false), { headers: PROBLEM_HEADERS });
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    expect(await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' })).toMatchObject({
      status: 'success',
    });
    expect(await pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T2' })).toMatchObject({
      status: 'failed',
    });
    await expect(pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T3' })).rejects.toMatchObject({
      code: 'ERR_OUT_TRADE_NO_CONFLICT',
    });
    expect(await outbox.pending()).toEqual([]);
    expect(await pos.sync()).toMatchObject({ reversals: 0, remaining: 0 });
    expect(calls(agent)).toHaveLength(3); // the three creates; sync had nothing to do
  });

  it('reports the outcome only once the outbox remembers it: a failed write rejects the sale, and sync() reverses it', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments', method: 'POST' }).reply(201, order({ out_trade_no: 'T1' }), {
      headers: JSON_HEADERS,
    });
    const inner = createMemoryOutbox({ now: () => NOW });
    let failAck = true;
    const outbox: typeof inner = {
      ...inner,
      ack: async (seqs) => {
        if (failAck) {
          failAck = false;
          throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
        }
        return inner.ack(seqs);
      },
    };
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    await expect(pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' })).rejects.toMatchObject({
      code: 'EIO',
    });
    expect(await outbox.pending()).toMatchObject([{ kind: 'reversal', outTradeNo: 'T1' }]);
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ out_trade_no: 'T1', status: 'reversed' }), { headers: JSON_HEADERS });
    expect(await pos.sync()).toMatchObject({ reversals: 1, remaining: 0 });
  });

  it('an outbox that cannot take the write-ahead reversal refuses the sale before anything is sent', async () => {
    const inner = createMemoryOutbox({ now: () => NOW });
    const outbox: typeof inner = {
      ...inner,
      append: async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    };
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    await expect(pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' })).rejects.toMatchObject({
      code: 'ENOSPC',
    });
    expect(calls(agent)).toEqual([]);
  });
});

describe('scanToPay and a sync() running meanwhile', () => {
  it('a sync during a sale leaves its write-ahead reversal alone: the sale ends success, not reversed', async () => {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments', method: 'POST' })
      .reply(201, order({ out_trade_no: 'T1' }), { headers: JSON_HEADERS })
      .delay(300);
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { offline: { outbox, caps } });
    const sale = pos.scanToPay({ qr: QR, amountFen: 1200, outTradeNo: 'T1' });
    await vi.waitFor(() => expect(calls(agent)).toHaveLength(1));
    // e.g. the POS app's background sync, while the create is in flight
    expect(await pos.sync()).toMatchObject({ reversals: 0, remaining: 1, complete: false });
    expect(await sale).toMatchObject({ status: 'success' });
    expect(calls(agent).map((c) => `${c.method} ${c.path}`)).toEqual(['POST /v1/payments']);
    expect(await outbox.pending()).toEqual([]);
    expect(await pos.sync()).toMatchObject({ reversals: 0, remaining: 0, complete: true });
  });
});
