import { createHash } from 'node:crypto';
import type { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { createMemoryOutbox } from '../src/index.js';
import { calls, JSON_HEADERS, ORIGIN, order, unitClient, useMockAgent } from './helpers.js';

let agent: MockAgent;
useMockAgent((a) => {
  agent = a;
});

const refund = {
  out_refund_no: 'R1',
  out_trade_no: 'T1',
  amount: 300,
  status: 'success',
  reason: null,
  created_at: '2026-01-05T08:00:00Z',
};

describe('payments', () => {
  it('refund: a stable key per (out_trade_no, out_refund_no); bad keys are refused before sending', async () => {
    const { pos } = unitClient(agent);
    await expect(pos.payments.refund('T 1', { outRefundNo: 'R1', amountFen: 300 })).rejects.toBeInstanceOf(
      TypeError,
    );
    await expect(pos.payments.refund('T1', { outRefundNo: 'R1', amountFen: -1 })).rejects.toBeInstanceOf(
      RangeError,
    );
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments/T1/refunds', method: 'POST' })
      .reply(201, refund, { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1/refunds', method: 'POST' })
      .reply(200, refund, { headers: JSON_HEADERS });
    const a = await pos.payments.refund('T1', { outRefundNo: 'R1', amountFen: 300, reason: 'cold soup' });
    const b = await pos.payments.refund('T1', { outRefundNo: 'R1', amountFen: 300, reason: 'cold soup' });
    expect(a).toEqual(b);
    const seen = calls(agent);
    expect(seen.map((c) => c.key)).toEqual(['refund:T1:R1', 'refund:T1:R1']);
    expect(seen[0]?.body).toEqual({ out_refund_no: 'R1', amount: 300, reason: 'cold soup' });
  });

  it('query, reverse and close', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/payments/T1', method: 'GET' }).reply(200, order(), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T1/reverse', method: 'POST' })
      .reply(200, order({ status: 'reversed' }), { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/payments/T2/close', method: 'POST' })
      .reply(200, order({ out_trade_no: 'T2', status: 'closed' }), { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    expect((await pos.payments.query('T1')).status).toBe('success');
    expect((await pos.payments.reverse('T1', { reason: 'customer left' })).status).toBe('reversed');
    expect((await pos.payments.close('T2')).status).toBe('closed');
    const seen = calls(agent);
    expect(seen[1]?.body).toEqual({ reason: 'customer left' });
    expect(seen[1]?.key).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[2]?.body).toEqual({});
  });
});

describe('wallets', () => {
  it('balance and summary with RFC 3339 bounds', async () => {
    const pool = agent.get(ORIGIN);
    pool.intercept({ path: '/v1/wallets/s-001', method: 'GET' }).reply(
      200,
      { person_id: 's-001', balance: 8800, currency: 'CNY', updated_at: '2026-01-05T08:00:00Z' },
      {
        headers: JSON_HEADERS,
      },
    );
    const summary = {
      person_id: 's-001',
      from: '2026-01-01T00:00:00.000Z',
      to: '2026-02-01T00:00:00.000Z',
      spent: 1200,
      refunded: 300,
      topped_up: 10000,
      fees_paid: 0,
      payment_count: 1,
      net: 9100,
    };
    pool
      .intercept({
        path: '/v1/wallets/s-001/summary?from=2026-01-01T00%3A00%3A00.000Z&to=2026-02-01T00%3A00%3A00.000Z',
        method: 'GET',
      })
      .reply(200, summary, { headers: JSON_HEADERS });
    const { pos } = unitClient(agent);
    expect((await pos.wallets.balance('s-001')).balance).toBe(8800);
    expect(await pos.wallets.summary('s-001', new Date(Date.UTC(2026, 0, 1)), Date.UTC(2026, 1, 1))).toEqual(
      summary,
    );
    await expect(pos.wallets.balance('../x')).rejects.toBeInstanceOf(TypeError);
  });
});

describe('statements', () => {
  const csv =
    'journal_id,kind,out_trade_no,ref,amount,created_at\n7,payment,T1,ord_1,1200,2026-01-04T09:00:00Z\n8,refund,T1,ord_1/R1,-300,2026-01-04T10:00:00Z\n';
  const info = (over: Record<string, unknown> = {}) => ({
    merchant_id: 'm-canteen-s',
    date: '2026-01-04',
    hash_type: 'sha-256',
    hash_value: createHash('sha256').update(csv).digest('hex'),
    size_bytes: Buffer.byteLength(csv),
    line_count: 2,
    credits: 1200,
    debits: 300,
    net: 900,
    generated_at: '2026-01-05T08:00:00Z',
    from: '2026-01-03T16:00:00Z',
    to: '2026-01-04T16:00:00Z',
    day_utc_offset: '+08:00',
    ...over,
  });
  function serve(meta: object, file: string) {
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/statements/2026-01-04', method: 'GET' })
      .reply(200, meta, { headers: JSON_HEADERS });
    pool
      .intercept({ path: '/v1/statements/2026-01-04/file', method: 'GET' })
      .reply(200, file, { headers: { 'content-type': 'text/csv; charset=utf-8' } });
  }

  it('downloads, checks the hash and parses the lines', async () => {
    serve(info(), csv);
    const { pos } = unitClient(agent, { merchantId: 'm-canteen-s' });
    const s = await pos.statements.download(new Date(Date.UTC(2026, 0, 4, 12)));
    expect(s.lines).toEqual([
      {
        journalId: 7,
        kind: 'payment',
        outTradeNo: 'T1',
        ref: 'ord_1',
        amountFen: 1200,
        createdAt: '2026-01-04T09:00:00Z',
      },
      {
        journalId: 8,
        kind: 'refund',
        outTradeNo: 'T1',
        ref: 'ord_1/R1',
        amountFen: -300,
        createdAt: '2026-01-04T10:00:00Z',
      },
    ]);
    expect(s.info.net).toBe(900);
  });

  it('a Date is the business day it falls on at the client offset (+08:00 by default), which the statement must cover', async () => {
    // 23:30Z on the 3rd is 07:30 on the 4th in Beijing
    serve(info(), csv);
    const { pos } = unitClient(agent);
    expect((await pos.statements.download(new Date(Date.UTC(2026, 0, 3, 23, 30)))).info.date).toBe(
      '2026-01-04',
    );
    // at +00:00 (from the offline caps' offset, or the option), 15:00Z on the 4th is of the 4th
    serve(info(), csv);
    const utc = unitClient(agent, { dayUtcOffset: '+00:00' }).pos;
    expect((await utc.statements.download(new Date(Date.UTC(2026, 0, 4, 15)))).lines).toHaveLength(2);
    // 20:00Z on the 4th, the 4th at +00:00, is outside the platform's day (a day at +08:00)
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/statements/2026-01-04', method: 'GET' })
      .reply(200, info(), { headers: JSON_HEADERS });
    await expect(utc.statements.download(new Date(Date.UTC(2026, 0, 4, 20)))).rejects.toMatchObject({
      code: 'ERR_POS_STATEMENT_INVALID',
      message: expect.stringContaining('2026-01-03T16:00:00Z to 2026-01-04T16:00:00Z (a day at +08:00)'),
    });
    // a string is sent as given, whatever the offset
    serve(info(), csv);
    expect((await utc.statements.download('2026-01-04')).info.day_utc_offset).toBe('+08:00');
  });

  it('takes the offset from the option, else from the offline caps; refuses a bad one', async () => {
    const outbox = createMemoryOutbox();
    const caps = { perTransactionFen: 1, totalFen: 1, maxAgeSeconds: 1, dayUtcOffset: '+00:00' };
    serve(info(), csv);
    const fromCaps = unitClient(agent, { offline: { outbox, caps } }).pos;
    expect((await fromCaps.statements.download(new Date(Date.UTC(2026, 0, 4, 15)))).info.date).toBe(
      '2026-01-04',
    );
    expect(() => unitClient(agent, { dayUtcOffset: '+8' })).toThrow(
      new RangeError(
        'dayUtcOffset must be a UTC offset ±HH:MM from -14:00 to +14:00 (e.g. +08:00), got "+8"',
      ),
    );
    expect(() =>
      unitClient(agent, { offline: { outbox, caps: { ...caps, dayUtcOffset: '+15:00' } } }),
    ).toThrow(RangeError);
  });

  it('refuses a file that does not match its hash', async () => {
    serve(info(), csv.replace('1200', '1300'));
    const { pos } = unitClient(agent);
    await expect(pos.statements.download('2026-01-04')).rejects.toMatchObject({
      code: 'ERR_POS_STATEMENT_HASH_MISMATCH',
    });
  });

  it('refuses a line whose amount or journal id is not an integer numeral, and a net that is not credits − debits', async () => {
    const { pos } = unitClient(agent);
    for (const [row, credits] of [
      ['9,payment,T2,ord_2,,2026-01-04T11:00:00Z', 1200],
      ['9,payment,T2,ord_2, 5,2026-01-04T11:00:00Z', 1205],
      ['9,payment,T2,ord_2,0x10,2026-01-04T11:00:00Z', 1216],
      [',payment,T2,ord_2,5,2026-01-04T11:00:00Z', 1205],
    ] as const) {
      const file = `${csv}${row}\n`;
      serve(
        info({
          hash_value: createHash('sha256').update(file).digest('hex'),
          size_bytes: Buffer.byteLength(file),
          line_count: 3,
          credits,
          net: credits - 300,
        }),
        file,
      );
      await expect(pos.statements.download('2026-01-04')).rejects.toMatchObject({
        code: 'ERR_POS_STATEMENT_INVALID',
      });
    }
    serve(info({ net: 900_000 }), csv);
    await expect(pos.statements.download('2026-01-04')).rejects.toMatchObject({
      code: 'ERR_POS_STATEMENT_INVALID',
    });
  });

  it('refuses totals that disagree with the lines, and another merchant', async () => {
    serve(info({ credits: 1 }), csv);
    const { pos } = unitClient(agent, { merchantId: 'm-canteen-s' });
    await expect(pos.statements.download('2026-01-04')).rejects.toMatchObject({
      code: 'ERR_POS_STATEMENT_INVALID',
    });
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/statements/2026-01-04', method: 'GET' })
      .reply(200, info({ merchant_id: 'm-shop' }), { headers: JSON_HEADERS });
    await expect(pos.statements.download('2026-01-04')).rejects.toMatchObject({
      code: 'ERR_POS_STATEMENT_INVALID',
    });
    await expect(pos.statements.download('4 Jan')).rejects.toBeInstanceOf(TypeError);
  });
});
