/**
 * Push faults are reproducible (src/domains/webhooks.ts): which pushes a seeded `duplicate_push`
 * rule sends twice does not depend on how fast the subscribers answer, and a push a
 * `reorder_push` rule holds goes once the clock is set back before its hold began.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, signed } from '../helpers.js';

let p: MockPlatform | undefined;
let hook: Server | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
  hook?.closeAllConnections();
  await new Promise<void>((r) => (hook === undefined ? r() : hook.close(() => r())));
  hook = undefined;
});

/** A receiver answering `/a` after `delays.a` ms and `/b` after `delays.b`; logs `path out_trade_no`. */
async function receiver(delays: Record<string, number>): Promise<{ base: string; log: string[] }> {
  const log: string[] = [];
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { data: { out_trade_no: string } };
      const path = req.url ?? '';
      log.push(`${path} ${body.data.out_trade_no}`);
      setTimeout(() => res.end('ok'), delays[path.slice(1)] ?? 0);
    });
  });
  await new Promise<void>((r) => hook?.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(hook.address() as { port: number }).port}`, log };
}

/** Six payments pushed to two subscriptions under a seeded duplicate_push rule; the pushes sent twice. */
async function duplicated(delays: Record<string, number>): Promise<string[]> {
  p = await demoPlatform({ pushIntervalMs: 3_600_000 });
  const r = await receiver(delays);
  for (const path of ['/a', '/b']) {
    const sub = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
        url: `${r.base}${path}`,
        event_types: ['payment.succeeded'],
        merchant_id: 'm-canteen-s',
      }),
    );
    expect(sub.statusCode, sub.body).toBe(201);
  }
  for (let i = 1; i <= 6; i++) {
    const res = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
        out_trade_no: `D-${i}`,
        amount: 10,
        qr_text: await qrOf(p, 's-001', i),
      }),
    );
    expect(json<{ status: string }>(res).status).toBe('success');
    p.clock.advance(1);
  }
  p.state.faults.set([{ kind: 'duplicate_push', probability: 0.5 }], 7);
  await p.pushes.pump();
  const twice = [...new Set(r.log.filter((x, i) => r.log.indexOf(x) !== i))].sort();
  expect(r.log.length).toBe(12 + twice.length);
  await p.close();
  p = undefined;
  hook?.closeAllConnections();
  await new Promise<void>((res) => hook?.close(() => res()));
  hook = undefined;
  return twice;
}

describe('a seeded duplicate_push rule', () => {
  it('sends the same pushes twice whichever subscriber answers first', async () => {
    const slowA = await duplicated({ a: 40, b: 0 });
    const slowB = await duplicated({ a: 0, b: 40 });
    expect(slowA.length).toBeGreaterThan(0);
    expect(slowA.length).toBeLessThan(12);
    expect(slowB).toEqual(slowA);
  });
});

describe('a push held by reorder_push', () => {
  it('goes at the next round once the clock is set back before its hold began (not only 2 s of platform time later)', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const r = await receiver({});
    const sub = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
        url: `${r.base}/a`,
        event_types: ['payment.succeeded'],
        merchant_id: 'm-canteen-s',
      }),
    );
    expect(sub.statusCode, sub.body).toBe(201);
    const created = p.clock.now();
    const res = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
        out_trade_no: 'H-1',
        amount: 10,
        qr_text: await qrOf(p, 's-001', 1),
      }),
    );
    expect(json<{ status: string }>(res).status).toBe('success');
    // the first round picks it a second after it was made: held from then, for 2 s of platform time
    p.clock.advance(1);
    p.state.faults.set([{ kind: 'reorder_push', route: 'push' }]);
    await p.pushes.pump();
    expect(r.log).toEqual([]); // held: no later push to overtake it, the frozen clock does not move
    p.state.faults.clear();
    // set back to before the hold began (the push is due still): it waited for that time again
    p.clock.set(created + 500);
    await p.pushes.pump();
    expect(r.log).toEqual(['/a H-1']);
  });
});
