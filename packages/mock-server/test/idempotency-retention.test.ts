/**
 * Idempotency retention (issue 4 §1): the first outcome of a POST is kept for `idempotencyTtlS`
 * (86 400 s) and replayed for the same key and body, with no second state change. The window is
 * inclusive (`now - created_at > ttl` expires it, src/app.ts `reserve`). Once it has passed, the
 * key is free again: the request runs anew, as if the key were new, and its outcome replaces the
 * stored one (with a new retention window).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, json, operator, signed, T0 } from './helpers.js';

const DAY_S = 86_400;

let p: MockPlatform;
afterEach(async () => p?.close());

type Order = { order_id: string; out_trade_no: string; amount: number; status: string; created_at: string };

const count = (p: MockPlatform, table: string): number =>
  (p.state.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
const balance = (p: MockPlatform, person: string): number =>
  (
    p.state.db.prepare('SELECT balance FROM accounts WHERE account = ?').get(`wallet:${person}`) as {
      balance: number;
    }
  ).balance;
const snapshot = (p: MockPlatform) => ({
  orders: count(p, 'orders'),
  journal: count(p, 'journal'),
  postings: count(p, 'postings'),
  balance: balance(p, 's-002'),
});

const topUp = (p: MockPlatform, key: string, body: object) =>
  p.app.inject(signed(p, operator(p), 'POST', '/v1/wallets/s-002/top-ups', body, { idempotencyKey: key }));

describe('idempotency retention (idempotencyTtlS = 86 400 s)', () => {
  it('replays the first outcome at 24 h − 1 s and at exactly 24 h, with no second state change', async () => {
    p = await demoPlatform();
    expect(p.state.settings.idempotencyTtlS).toBe(DAY_S);
    const body = { out_trade_no: 'RET-1', amount: 700, channel: 'simulated' };
    const before = snapshot(p);
    const first = await topUp(p, 'ret-k1', body);
    expect(first.statusCode).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const firstBody = json<Order>(first);
    expect(firstBody).toMatchObject({ out_trade_no: 'RET-1', amount: 700, status: 'success' });
    expect(firstBody.created_at).toBe('2026-01-05T08:00:00Z');
    const after = snapshot(p);
    expect(after).toEqual({
      orders: before.orders + 1,
      journal: before.journal + 1,
      postings: before.postings + 2,
      balance: 5_700,
    });

    p.clock.advance(DAY_S - 1);
    const late = await topUp(p, 'ret-k1', body);
    expect(late.statusCode).toBe(201);
    expect(late.headers['idempotent-replayed']).toBe('true');
    // byte for byte the first answer (its created_at is still T0, not the clock's time)
    expect(late.body).toBe(first.body);
    expect(snapshot(p)).toEqual(after);

    // the window is inclusive: exactly 24 h after the first request it still replays
    p.clock.advance(1);
    expect(p.clock.now() - T0).toBe(DAY_S * 1000);
    const edge = await topUp(p, 'ret-k1', body);
    expect(edge.statusCode).toBe(201);
    expect(edge.headers['idempotent-replayed']).toBe('true');
    expect(edge.body).toBe(first.body);
    expect(snapshot(p)).toEqual(after);
  });

  it('still answers 422 for the same key with another body at 24 h − 1 s', async () => {
    p = await demoPlatform();
    await topUp(p, 'ret-k2', { out_trade_no: 'RET-2', amount: 100, channel: 'simulated' });
    const after = snapshot(p);
    p.clock.advance(DAY_S - 1);
    const other = await topUp(p, 'ret-k2', { out_trade_no: 'RET-2B', amount: 900, channel: 'simulated' });
    expect(other.statusCode).toBe(422);
    expect(json(other)).toMatchObject({ code: 'ERR_IDEMPOTENCY_KEY_REUSED', status: 422, retryable: false });
    expect(snapshot(p)).toEqual(after);
  });

  it('replays a stored 4xx outcome too, with the first request_id, until the retention ends', async () => {
    p = await demoPlatform();
    const op = operator(p);
    // p-001 is not linked to s-002: 403, stored as the key's outcome
    const fee = {
      out_trade_no: 'RET-FEE',
      payer_person_id: 'p-001',
      student_person_id: 's-002',
      fee_type: 'meals',
      amount: 100,
    };
    const first = await p.app.inject(signed(p, op, 'POST', '/v1/fees', fee, { idempotencyKey: 'ret-fee' }));
    expect(first.statusCode).toBe(403);
    expect(json(first).code).toBe('ERR_PERMISSION_DENIED');
    p.clock.advance(DAY_S - 1);
    const replay = await p.app.inject(signed(p, op, 'POST', '/v1/fees', fee, { idempotencyKey: 'ret-fee' }));
    expect(replay.statusCode).toBe(403);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.headers['content-type']).toContain('application/problem+json');
    expect(json(replay)).toEqual(json(first));
    expect(json(replay).request_id).toBe(first.headers['x-request-id']);
    // after the retention the request runs again: a new 403 with a new request_id
    p.clock.advance(2);
    const fresh = await p.app.inject(signed(p, op, 'POST', '/v1/fees', fee, { idempotencyKey: 'ret-fee' }));
    expect(fresh.statusCode).toBe(403);
    expect(fresh.headers['idempotent-replayed']).toBeUndefined();
    expect(json(fresh).request_id).toBe(fresh.headers['x-request-id']);
    expect(json(fresh).request_id).not.toBe(json(first).request_id);
  });

  it('after the retention the key is free: the request runs again and its outcome is stored anew', async () => {
    p = await demoPlatform();
    const body = { out_trade_no: 'RET-3', amount: 250, channel: 'simulated' };
    const first = await topUp(p, 'ret-k3', body);
    expect(first.statusCode).toBe(201);
    const order = json<Order>(first);
    const after = snapshot(p);
    const stored = () =>
      p.state.db
        .prepare("SELECT status, created_at FROM idempotency WHERE principal_id = 'op-demo' AND idem_key = ?")
        .get('ret-k3') as { status: number; created_at: number };
    expect(stored()).toEqual({ status: 201, created_at: T0 });

    // 24 h + 1 s: not replayed. The handler runs; the business key (out_trade_no) finds the
    // order, so the answer is 200 with the same order (not the stored 201), still without a
    // second top-up.
    p.clock.advance(DAY_S + 1);
    const again = await topUp(p, 'ret-k3', body);
    expect(again.statusCode).toBe(200);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(json<Order>(again)).toEqual(order);
    expect(snapshot(p)).toEqual(after);
    // the new outcome replaced the old one, with a new retention window from now
    expect(stored()).toEqual({ status: 200, created_at: T0 + (DAY_S + 1) * 1000 });
    p.clock.advance(DAY_S - 1);
    const replay = await topUp(p, 'ret-k3', body);
    expect(replay.statusCode).toBe(200);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect(replay.body).toBe(again.body);

    // once expired, the key no longer guards its body: a different request under it is not a
    // 422 but a new request, with its own state change
    p.clock.advance(DAY_S + 1);
    const reused = await topUp(p, 'ret-k3', { out_trade_no: 'RET-3B', amount: 40, channel: 'simulated' });
    expect(reused.statusCode).toBe(201);
    expect(json<Order>(reused)).toMatchObject({ out_trade_no: 'RET-3B', amount: 40, status: 'success' });
    expect(json<Order>(reused).order_id).not.toBe(order.order_id);
    expect(snapshot(p)).toEqual({
      orders: after.orders + 1,
      journal: after.journal + 1,
      postings: after.postings + 2,
      balance: after.balance + 40,
    });
  });

  it('honours a configured retention (idempotencyTtlS setting)', async () => {
    p = await demoPlatform({ settings: { idempotencyTtlS: 60 } });
    const body = { out_trade_no: 'RET-4', amount: 10, channel: 'simulated' };
    expect((await topUp(p, 'ret-k4', body)).statusCode).toBe(201);
    p.clock.advance(60);
    const inside = await topUp(p, 'ret-k4', body);
    expect([inside.statusCode, inside.headers['idempotent-replayed']]).toEqual([201, 'true']);
    p.clock.advance(1);
    const outside = await topUp(p, 'ret-k4', body);
    expect([outside.statusCode, outside.headers['idempotent-replayed']]).toEqual([200, undefined]);
  });
});
