import type { OfflineBatchBody } from '@campus-card/core/api';
import type { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { createMemoryOutbox } from '../src/index.js';
import {
  calls,
  JSON_HEADERS,
  NOW,
  ORIGIN,
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

const caps = { perTransactionFen: 5_000, totalFen: 100_000, maxAgeSeconds: 86_400 };

function answer(outcomes: Record<number, 'accepted' | 'duplicate' | 'rejected'>, otherTradeNo?: number) {
  return (opts: { body?: unknown }) => {
    const body = JSON.parse(
      typeof opts.body === 'string' ? opts.body : new TextDecoder().decode(opts.body as Uint8Array),
    ) as OfflineBatchBody;
    const results = body.items.map((it) => {
      const outcome = outcomes[it.seq] ?? 'accepted';
      return {
        seq: it.seq,
        out_trade_no: it.seq === otherTradeNo ? 'SOMEONE-ELSE' : it.out_trade_no,
        outcome,
        code: outcome === 'rejected' ? 'ERR_OFFLINE_CAP' : null,
        order_id: outcome === 'rejected' ? null : `ord_${it.seq}`,
        conflict_device_id: null,
      };
    });
    const n = (k: string) => results.filter((r) => r.outcome === k).length;
    return { results, accepted: n('accepted'), duplicates: n('duplicate'), rejected: n('rejected') };
  };
}

function itemsOf(body: unknown): OfflineBatchBody['items'] {
  const text = typeof body === 'string' ? body : new TextDecoder().decode(body as Uint8Array);
  return (JSON.parse(text) as OfflineBatchBody).items;
}

async function offlinePos(count: number, batchSize = 2) {
  const outbox = createMemoryOutbox({ now: () => NOW });
  const { pos } = unitClient(agent, { batchSize, offline: { outbox, caps, startOffline: true } });
  for (let i = 0; i < count; i++) await pos.scanToPay({ qr: QR, amountFen: 100 + i, outTradeNo: `T${i}` });
  pos.setOffline(false);
  return { pos, outbox };
}

describe('sync', () => {
  it('uploads in batches with content-derived keys and acknowledges every answered item', async () => {
    const { pos, outbox } = await offlinePos(5);
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(200, answer({ [NOW + 1]: 'duplicate', [NOW + 4]: 'rejected' }) as never, {
        headers: JSON_HEADERS,
      })
      .times(3);
    const s = await pos.sync();
    expect(s).toMatchObject({ accepted: 3, duplicates: 1, reversals: 0, remaining: 0, complete: true });
    expect(s.rejected).toMatchObject([{ seq: NOW + 4, code: 'ERR_OFFLINE_CAP' }]);
    const seen = calls(agent);
    expect(seen.map((c) => (c.body as OfflineBatchBody).items.map((i) => i.out_trade_no))).toEqual([
      ['T0', 'T1'],
      ['T2', 'T3'],
      ['T4'],
    ]);
    expect(seen[0]?.body).toMatchObject({
      items: [{ seq: NOW, amount: 100, qr_text: QR, captured_at: '2026-01-05T08:00:00.000Z' }, {}],
    });
    expect(new Set(seen.map((c) => c.key)).size).toBe(3);
    expect(seen.every((c) => /^offline:[0-9a-f]{64}$/.test(c.key ?? ''))).toBe(true);
    expect(await outbox.pending()).toEqual([]);
  });

  it('a lost answer leaves the batch pending; the resend reuses the key and nothing is doubled', async () => {
    const { pos, outbox } = await offlinePos(2);
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .replyWithError(socketDropped())
      .times(5);
    const s1 = await pos.sync();
    expect(s1).toMatchObject({ complete: false, remaining: 2, accepted: 0 });
    expect(s1.error).toMatchObject({ code: 'ERR_CONNECTION' });
    pool
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(200, answer({ [NOW]: 'duplicate', [NOW + 1]: 'duplicate' }) as never, { headers: JSON_HEADERS });
    const s2 = await pos.sync();
    expect(s2).toMatchObject({ duplicates: 2, remaining: 0, complete: true });
    expect(new Set(calls(agent).map((c) => c.key)).size).toBe(1);
    expect(await outbox.pending()).toEqual([]);
  });

  it('a resent sale the platform had refused (its first answer lost) is reported rejected, not duplicate', async () => {
    const { pos, outbox } = await offlinePos(2);
    const pool = agent.get(ORIGIN);
    // the platform refused T0 (the card was revoked when it was sold) and booked T1; the answer is lost
    pool
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .replyWithError(socketDropped())
      .times(5);
    expect(await pos.sync()).toMatchObject({ complete: false, remaining: 2 });
    // the resend: both are duplicates of their (device, seq), each with its first answer's code
    const results = [
      {
        seq: NOW,
        out_trade_no: 'T0',
        outcome: 'duplicate',
        code: 'ERR_REVOKED',
        order_id: null,
        conflict_device_id: null,
      },
      {
        seq: NOW + 1,
        out_trade_no: 'T1',
        outcome: 'duplicate',
        code: null,
        order_id: 'ord_1',
        conflict_device_id: null,
      },
    ];
    pool
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(200, { results, accepted: 0, duplicates: 2, rejected: 0 }, { headers: JSON_HEADERS });
    const s = await pos.sync();
    expect(s).toMatchObject({ duplicates: 1, remaining: 0, complete: true });
    expect(s.rejected).toMatchObject([{ seq: NOW, out_trade_no: 'T0', code: 'ERR_REVOKED' }]);
    expect(await outbox.pending()).toEqual([]);
  });

  it('re-queues a sale whose seq the platform already holds for another order', async () => {
    const { pos, outbox } = await offlinePos(1);
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(200, answer({ [NOW]: 'duplicate' }, NOW) as never, { headers: JSON_HEADERS });
    const s = await pos.sync();
    expect(s.remaining).toBe(1);
    expect(await outbox.pending()).toMatchObject([{ kind: 'payment', outTradeNo: 'T0', seq: NOW + 1 }]);
  });

  it('shares one run between concurrent calls', async () => {
    const { pos } = await offlinePos(1);
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(200, answer({}) as never, { headers: JSON_HEADERS });
    const [a, b] = await Promise.all([pos.sync(), pos.sync()]);
    expect(a).toBe(b);
  });

  it("the first caller's abort does not fail a sync another caller joined", async () => {
    const { pos } = await offlinePos(1);
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(200, answer({}) as never, { headers: JSON_HEADERS })
      .delay(300);
    const operator = new AbortController();
    const first = pos.sync({ signal: operator.signal });
    const joined = pos.sync();
    setTimeout(() => operator.abort(new Error('first caller gave up')), 30);
    await expect(first).rejects.toThrow('first caller gave up');
    expect(await joined).toMatchObject({ accepted: 1, remaining: 0, complete: true });
  });

  it("a joining caller's signal ends its own wait at once", async () => {
    const { pos } = await offlinePos(1);
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(200, answer({}) as never, { headers: JSON_HEADERS })
      .delay(300);
    const first = pos.sync();
    const started = Date.now();
    await expect(pos.sync({ signal: AbortSignal.timeout(30) })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    expect(Date.now() - started).toBeLessThan(250);
    expect(await first).toMatchObject({ accepted: 1, complete: true });
  });

  it('owed reversals go ahead when the platform refuses the sales upload, and the error is reported', async () => {
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { offline: { outbox, caps, startOffline: true } });
    await pos.scanToPay({ qr: QR, amountFen: 100, outTradeNo: 'S1' });
    pos.setOffline(false);
    await outbox.append({ kind: 'reversal', outTradeNo: 'A', capturedAt: NOW });
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(403, problem(403, 'ERR_FORBIDDEN'), { headers: PROBLEM_HEADERS });
    pool
      .intercept({ path: '/v1/payments/A/reverse', method: 'POST' })
      .reply(409, problem(409, 'ERR_ORDER_STATE'), { headers: PROBLEM_HEADERS });
    const s = await pos.sync();
    expect(s).toMatchObject({ accepted: 0, reversals: 1, remaining: 1, complete: false });
    expect(s.error).toMatchObject({ status: 403, code: 'ERR_FORBIDDEN' });
    expect(await outbox.pending()).toMatchObject([{ kind: 'payment', outTradeNo: 'S1' }]);
  });

  it('finishes owed reversals: 409 final state acks, 404 acks only past the horizon', async () => {
    let now = NOW;
    const outbox = createMemoryOutbox({ now: () => now });
    const { pos } = unitClient(agent, { now: () => now, offline: { outbox, caps } });
    await outbox.append({ kind: 'reversal', outTradeNo: 'A', capturedAt: NOW });
    await outbox.append({ kind: 'reversal', outTradeNo: 'B', capturedAt: NOW });
    const pool = agent.get(ORIGIN);
    pool
      .intercept({ path: '/v1/payments/A/reverse', method: 'POST' })
      .reply(409, problem(409, 'ERR_ORDER_STATE'), { headers: PROBLEM_HEADERS });
    pool
      .intercept({ path: '/v1/payments/B/reverse', method: 'POST' })
      .reply(404, problem(404, 'ERR_NOT_FOUND'), { headers: PROBLEM_HEADERS });
    expect(await pos.sync()).toMatchObject({ reversals: 1, remaining: 1, complete: false });
    now += 301_000;
    pool
      .intercept({ path: '/v1/payments/B/reverse', method: 'POST' })
      .reply(404, problem(404, 'ERR_NOT_FOUND'), { headers: PROBLEM_HEADERS });
    expect(await pos.sync()).toMatchObject({ remaining: 0, complete: true });
  });

  it('halves a batch answered 413 until it fits; every sale is applied once', async () => {
    const { pos, outbox } = await offlinePos(5, 500);
    const seen = new Map<number, number>();
    const onAnswer = answer({});
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply<object>((opts) => {
        const items = itemsOf(opts.body);
        if (items.length > 2)
          return {
            statusCode: 413,
            data: problem(413, 'ERR_BODY_TOO_LARGE'),
            responseOptions: { headers: PROBLEM_HEADERS },
          };
        for (const it of items) seen.set(it.seq, (seen.get(it.seq) ?? 0) + 1);
        return { statusCode: 200, data: onAnswer(opts), responseOptions: { headers: JSON_HEADERS } };
      })
      .times(5); // 5 → 413; 3 → 413; 2; 1; 2
    const s = await pos.sync();
    expect(s).toMatchObject({ accepted: 5, remaining: 0, complete: true, quarantined: [] });
    expect([...seen.values()]).toEqual([1, 1, 1, 1, 1]);
    const sizes = calls(agent).map((c) => (c.body as OfflineBatchBody).items.length);
    expect(sizes).toEqual([5, 3, 2, 1, 2]);
    expect(new Set(calls(agent).map((c) => c.key)).size).toBe(5); // one key per content
    expect(await outbox.pending()).toEqual([]);
  });

  it('cuts batches at maxBatchBytes as well as batchSize', async () => {
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, {
      batchSize: 500,
      maxBatchBytes: 1024,
      offline: { outbox, caps, startOffline: true },
    });
    for (let i = 0; i < 20; i++) await pos.scanToPay({ qr: QR, amountFen: 100, outTradeNo: `T${i}` });
    pos.setOffline(false);
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(200, answer({}) as never, { headers: JSON_HEADERS })
      .times(3);
    expect(await pos.sync()).toMatchObject({ accepted: 20, remaining: 0 });
    const bodies = calls(agent).map((c) => JSON.stringify(c.body));
    expect(bodies).toHaveLength(3);
    for (const b of bodies) expect(Buffer.byteLength(b)).toBeLessThanOrEqual(1024);
  });

  it('quarantines a sale the platform refuses as malformed (by bisection); the others still upload', async () => {
    const { pos, outbox } = await offlinePos(4, 500);
    // bypass the client's checks: a sale that could only come from an older version or a bad store
    const bad = await outbox.append({
      kind: 'payment',
      outTradeNo: 'BAD',
      amountFen: 100,
      qrText: 'junk',
      capturedAt: NOW,
    });
    await outbox.append({
      kind: 'payment',
      outTradeNo: 'T-LAST',
      amountFen: 300,
      qrText: QR,
      capturedAt: NOW,
    });
    const onAnswer = answer({});
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply<object>((opts) => {
        const items = itemsOf(opts.body);
        if (items.some((it) => !it.qr_text?.startsWith('CC1:')))
          return {
            statusCode: 400,
            data: problem(400, 'ERR_VALIDATION'),
            responseOptions: { headers: PROBLEM_HEADERS },
          };
        return { statusCode: 200, data: onAnswer(opts), responseOptions: { headers: JSON_HEADERS } };
      })
      .persist();
    const s = await pos.sync();
    expect(s).toMatchObject({ accepted: 5, remaining: 0, complete: true });
    expect(s.quarantined).toMatchObject([
      {
        entry: { seq: bad.seq, outTradeNo: 'BAD' },
        reason: { code: 'ERR_VALIDATION', status: 400, at: NOW },
      },
    ]);
    expect(await outbox.pending()).toEqual([]);
    expect(await outbox.quarantined()).toEqual(s.quarantined);
    // the next sync sends nothing; the operator exports the sale and drops it
    const before = calls(agent).length;
    expect(await pos.sync()).toMatchObject({ remaining: 0, quarantined: [], complete: true });
    expect(calls(agent)).toHaveLength(before);
    await outbox.ack([bad.seq]);
    expect(await outbox.quarantined()).toEqual([]);
  });

  it('does not quarantine on a 400 that is not the platform’s (no problem body)', async () => {
    const { pos, outbox } = await offlinePos(1, 500);
    agent
      .get(ORIGIN)
      .intercept({ path: '/v1/payments/offline-batches', method: 'POST' })
      .reply(400, '<html>Bad Request</html>', { headers: { 'content-type': 'text/html' } });
    const s = await pos.sync();
    expect(s).toMatchObject({ remaining: 1, complete: false, quarantined: [] });
    expect(await outbox.quarantined()).toEqual([]);
  });

  it('is a no-op without offline mode', async () => {
    const { pos } = unitClient(agent);
    expect(await pos.sync()).toMatchObject({ complete: true, remaining: 0 });
  });
});
