import type { OfflineBatchBody, OfflineItemResult } from '@campus-card/core/api';
import type { MockAgent } from 'undici';
import { describe, expect, it } from 'vitest';
import { createMemoryOutbox, type OutboxStore } from '../src/index.js';
import { JSON_HEADERS, NOW, ORIGIN, QR, unitClient, useMockAgent } from './helpers.js';

let agent: MockAgent;
useMockAgent((a) => {
  agent = a;
});

const caps = { perTransactionFen: 1_000, totalFen: 2_000, maxAgeSeconds: 86_400 };
type Outcome = Pick<OfflineItemResult, 'outcome' | 'code'> & { otherTradeNo?: boolean };

/** Answers an offline batch item by item, by the order of the items' out_trade_no. */
function answer(byTradeNo: Record<string, Outcome>) {
  return (opts: { body?: unknown }) => {
    const text =
      typeof opts.body === 'string' ? opts.body : new TextDecoder().decode(opts.body as Uint8Array);
    const results = (JSON.parse(text) as OfflineBatchBody).items.map((it) => {
      const o = byTradeNo[it.out_trade_no] ?? { outcome: 'accepted', code: null };
      return {
        seq: it.seq,
        out_trade_no: o.otherTradeNo === true ? 'SOMEONE-ELSE' : it.out_trade_no,
        outcome: o.outcome,
        code: o.code,
        order_id: o.code === null ? `ord_${it.seq}` : null,
        conflict_device_id: null,
      };
    });
    const n = (k: string) => results.filter((r) => r.outcome === k).length;
    return { results, accepted: n('accepted'), duplicates: n('duplicate'), rejected: n('rejected') };
  };
}

const upload = () => agent.get(ORIGIN).intercept({ path: '/v1/payments/offline-batches', method: 'POST' });

async function status(pos: ReturnType<typeof unitClient>['pos'], outTradeNo: string, amountFen: number) {
  try {
    return (await pos.scanToPay({ qr: QR, amountFen, outTradeNo })).status;
  } catch (e) {
    return `${(e as { code: string }).code}:${(e as { cap?: string }).cap}`;
  }
}

describe('sync books what the platform counts towards its day cap (audit 4)', () => {
  it('accepted and codeless duplicates are booked; refused ones, refused duplicates and seq collisions are not', async () => {
    const outbox = createMemoryOutbox({ now: () => NOW });
    const { pos } = unitClient(agent, { offline: { outbox, caps, startOffline: true } });
    for (const [no, fen] of [
      ['A', 300],
      ['D', 400],
      ['X', 500],
      ['XD', 600],
      ['C', 100],
    ] as const)
      expect(await status(pos, no, fen)).toBe('offline_accepted');
    upload().reply(
      200,
      answer({
        D: { outcome: 'duplicate', code: null },
        X: { outcome: 'rejected', code: 'ERR_CODE_ALREADY_USED' },
        XD: { outcome: 'duplicate', code: 'ERR_REVOKED' },
        C: { outcome: 'duplicate', code: null, otherTradeNo: true },
      }),
      { headers: JSON_HEADERS },
    );
    const r = await pos.sync();
    expect(r).toMatchObject({ accepted: 1, duplicates: 1, remaining: 1 }); // C re-queued under a new seq
    expect(Object.fromEntries((await outbox.bookedByDay?.()) ?? [])).toEqual({ '2026-01-05': 700 });
    // today: 700 booked + 100 (C, pending again) + 1 200 = the platform's 2 000
    expect(await status(pos, 'E', 1_000)).toBe('offline_accepted');
    expect(await status(pos, 'F', 201)).toBe('ERR_POS_OFFLINE_CAP:total');
    expect(await status(pos, 'G', 200)).toBe('offline_accepted');
  });

  it('with an outbox that keeps no day totals, the client keeps them in memory, each sale once', async () => {
    const inner = createMemoryOutbox({ now: () => NOW });
    let failAck = true;
    const outbox: OutboxStore = {
      append: (e) => inner.append(e),
      pending: () => inner.pending(),
      ack: async (seqs) => {
        if (failAck) {
          failAck = false;
          throw new Error('power cut');
        }
        await inner.ack(seqs);
      },
      quarantine: (s, reason) => inner.quarantine(s, reason),
      quarantined: () => inner.quarantined(),
      close: () => inner.close(),
    };
    const { pos } = unitClient(agent, { offline: { outbox, caps, startOffline: true } });
    expect(await status(pos, 'A', 1_000)).toBe('offline_accepted');
    expect(await status(pos, 'B', 500)).toBe('offline_accepted');
    upload().reply(200, answer({}), { headers: JSON_HEADERS });
    expect(await pos.sync()).toMatchObject({ accepted: 2, complete: false }); // the ack failed
    // still pending, and seen accepted: counted once (1 500 + 500 = the cap)
    expect(await status(pos, 'C', 501)).toBe('ERR_POS_OFFLINE_CAP:total');
    expect(await status(pos, 'C', 500)).toBe('offline_accepted');
    upload().reply(
      200,
      answer({ A: { outcome: 'duplicate', code: null }, B: { outcome: 'duplicate', code: null } }),
      { headers: JSON_HEADERS },
    );
    expect(await pos.sync()).toMatchObject({ accepted: 1, duplicates: 2, complete: true });
    expect(await inner.pending()).toEqual([]);
    expect(await status(pos, 'D', 1)).toBe('ERR_POS_OFFLINE_CAP:total');
  });
});
