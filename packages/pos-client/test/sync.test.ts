import type { OfflineBatchBody } from '@campus-card/core/api';
import { MockAgent } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
} from './helpers.js';

let agent: MockAgent;
beforeEach(() => {
  agent = new MockAgent({ enableCallHistory: true });
  agent.disableNetConnect();
});
afterEach(async () => {
  agent.assertNoPendingInterceptors();
  await agent.close();
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

  it('is a no-op without offline mode', async () => {
    const { pos } = unitClient(agent);
    expect(await pos.sync()).toMatchObject({ complete: true, remaining: 0 });
  });
});
