/**
 * A wallet top-up pushes `wallet.topped_up` (src/domains/payments.ts `topUpWallet`), as a payment
 * pushes `payment.succeeded`: to the wallet's person, their parents and class teachers (of the
 * person's school), and to the merchant that made it; queued in the top-up's transaction, so a
 * rolled-back top-up pushes nothing and a replay (same Idempotency-Key, or same out_trade_no)
 * pushes nothing again.
 */
import type { Order, PlatformKeys } from '@campus-card/core/api';
import { importVerifyKey, verifyPush } from '@campus-card/core/http';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  demoPlatform,
  deviceSigner,
  failNextCommit,
  json,
  operator,
  type Received,
  type Receiver,
  type Signer,
  signed,
  startReceiver,
  walletBalance,
} from '../helpers.js';

let p: MockPlatform | undefined;
const receivers: Receiver[] = [];
afterEach(async () => {
  await p?.close();
  p = undefined;
  for (const r of receivers.splice(0)) await r.close();
});

/** A demo platform on the frozen clock whose dispatcher runs only when woken or pumped, and a receiver. */
async function setUp(): Promise<{ pf: MockPlatform; hook: Receiver }> {
  const pf = await demoPlatform({ pushIntervalMs: 3_600_000 });
  p = pf;
  const hook = await startReceiver(() => pf.clock.now());
  receivers.push(hook);
  return { pf, hook };
}

async function subscribe(
  pf: MockPlatform,
  signer: Signer,
  body: { url: string; event_types: string[]; recipient_person_id?: string },
): Promise<{ subscription_id: string; event_types: string[] }> {
  const r = await pf.app.inject(signed(pf, signer, 'POST', '/v1/webhook-subscriptions', body));
  expect(r.statusCode, r.body).toBe(201);
  return json(r);
}

const topUp = (
  pf: MockPlatform,
  signer: Signer,
  person: string,
  body: { out_trade_no: string; amount: number; channel: string },
  idempotencyKey?: string,
) =>
  pf.app.inject(
    signed(pf, signer, 'POST', `/v1/wallets/${person}/top-ups`, body, {
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    }),
  );

const pushCount = (pf: MockPlatform): number =>
  (pf.state.db.prepare('SELECT COUNT(*) AS n FROM pushes').get() as { n: number }).n;

const bodyOf = (r: Received) =>
  JSON.parse(r.body.toString()) as { id: string; type: string; created_at: string; data: Order };

describe('a top-up pushes wallet.topped_up', () => {
  it('to the person, their parent and class teacher, once each, the order as data, signed', async () => {
    const { pf, hook } = await setUp();
    const op = operator(pf);
    const types = ['wallet.topped_up'];
    await subscribe(pf, op, {
      url: `${hook.base}/student`,
      event_types: types,
      recipient_person_id: 's-001',
    });
    await subscribe(pf, op, { url: `${hook.base}/parent`, event_types: types, recipient_person_id: 'p-001' });
    await subscribe(pf, op, {
      url: `${hook.base}/teacher`,
      event_types: types,
      recipient_person_id: 't-001',
    });
    // not s-001's parent, and a class teacher of another class: nothing
    await subscribe(pf, op, { url: `${hook.base}/other`, event_types: types, recipient_person_id: 'p-002' });
    await subscribe(pf, op, { url: `${hook.base}/other`, event_types: types, recipient_person_id: 't-002' });
    // s-001's parent, subscribed to everything else: nothing
    await subscribe(pf, op, {
      url: `${hook.base}/untyped`,
      event_types: ['payment.succeeded', 'payment.refunded', 'attendance.recorded', 'card.status_changed'],
      recipient_person_id: 'p-001',
    });
    // a merchant that made no top-up: nothing
    await subscribe(pf, deviceSigner(pf, 'm-shop'), { url: `${hook.base}/shop`, event_types: types });

    const r = await topUp(pf, op, 's-001', { out_trade_no: 'TU-1', amount: 1234, channel: 'wechat' });
    expect(r.statusCode, r.body).toBe(201);
    const order = json<Order>(r);
    expect(order).toMatchObject({ kind: 'top_up', status: 'success', amount: 1234, merchant_id: null });
    await pf.pushes.pump();

    expect(hook.received.map((x) => x.path).sort()).toEqual(['/parent', '/student', '/teacher']);
    const keys = json<PlatformKeys>(
      await pf.app.inject(signed(pf, undefined, 'GET', '/v1/platform/keys')),
    ).webhook_signing;
    const ids = new Set<string>();
    for (const push of hook.received) {
      const body = bodyOf(push);
      expect(body.type).toBe('wallet.topped_up');
      expect(body.data).toEqual(order);
      expect(push.headers['push-event-type']).toBe('wallet.topped_up');
      expect(push.headers['push-id']).toBe(body.id);
      ids.add(body.id);
      const v = await verifyPush(
        {
          method: push.method,
          url: `${hook.base}${push.path}`,
          headers: push.headers as Record<string, string>,
          body: new Uint8Array(push.body),
        },
        {
          keyLookup: (kid) => {
            const jwk = keys.find((k) => k.kid === kid);
            return jwk === undefined ? undefined : importVerifyKey(jwk as never);
          },
          now: pf.clock.now(),
        },
      );
      expect(v.ok, JSON.stringify(v)).toBe(true);
    }
    expect(ids.size).toBe(3); // one push (one id) per subscription
  });

  it('once: a replay with the same Idempotency-Key, or of the same out_trade_no, pushes nothing more', async () => {
    const { pf, hook } = await setUp();
    await subscribe(pf, operator(pf), {
      url: `${hook.base}/parent`,
      event_types: ['wallet.topped_up'],
      recipient_person_id: 'p-001',
    });
    const body = { out_trade_no: 'TU-2', amount: 500, channel: 'alipay' };
    const first = await topUp(pf, operator(pf), 's-001', body, 'key-tu-2');
    expect(first.statusCode, first.body).toBe(201);
    const balance = walletBalance(pf, 's-001');
    expect(pushCount(pf)).toBe(1);

    const sameKey = await topUp(pf, operator(pf), 's-001', body, 'key-tu-2');
    expect([sameKey.statusCode, sameKey.body]).toEqual([201, first.body]);
    const sameNo = await topUp(pf, operator(pf), 's-001', body, 'key-tu-2-again');
    expect(sameNo.statusCode, sameNo.body).toBe(200);
    expect(json(sameNo)).toEqual(json(first));
    expect(walletBalance(pf, 's-001')).toBe(balance);
    expect(pushCount(pf)).toBe(1);

    await pf.pushes.pump();
    expect(hook.received.map((x) => [x.path, bodyOf(x).type])).toEqual([['/parent', 'wallet.topped_up']]);
  });

  it('nothing for a top-up rolled back with its batch; the retry that commits pushes once', async () => {
    const { pf, hook } = await setUp();
    await subscribe(pf, operator(pf), {
      url: `${hook.base}/student`,
      event_types: ['wallet.topped_up'],
      recipient_person_id: 's-001',
    });
    const balance = walletBalance(pf, 's-001');
    const body = { out_trade_no: 'TU-3', amount: 800, channel: 'bank' };
    failNextCommit(pf);
    const lost = await topUp(pf, operator(pf), 's-001', body, 'key-tu-3');
    expect(lost.statusCode, lost.body).toBe(503);
    expect(walletBalance(pf, 's-001')).toBe(balance);
    expect(pushCount(pf)).toBe(0);
    await pf.pushes.pump();
    expect(hook.received).toEqual([]);

    const again = await topUp(pf, operator(pf), 's-001', body, 'key-tu-3');
    expect(again.statusCode, again.body).toBe(201);
    await pf.pushes.pump();
    expect(hook.received.map((x) => bodyOf(x).data)).toEqual([json(again)]);
  });

  it("to the merchant that made it, as a payment's pushes go to their merchant", async () => {
    const { pf, hook } = await setUp();
    const shop = deviceSigner(pf, 'm-shop');
    // a merchant-only subscription keeps wallet.topped_up (and the payment types), drops the rest
    const sub = await subscribe(pf, shop, {
      url: `${hook.base}/shop`,
      event_types: ['attendance.recorded', 'wallet.topped_up', 'payment.succeeded', 'card.status_changed'],
    });
    expect(sub.event_types).toEqual(['wallet.topped_up', 'payment.succeeded']);
    const only = await subscribe(pf, deviceSigner(pf, 'm-canteen-s'), {
      url: `${hook.base}/canteen`,
      event_types: ['wallet.topped_up'],
    });
    expect(only.event_types).toEqual(['wallet.topped_up']);

    const byShop = await topUp(pf, shop, 's-002', {
      out_trade_no: 'TU-4',
      amount: 2000,
      channel: 'simulated',
    });
    expect(byShop.statusCode, byShop.body).toBe(201);
    expect(json(byShop)).toMatchObject({ merchant_id: 'm-shop' });
    // the operator's top-up names no merchant: no merchant gets it
    const byOperator = await topUp(pf, operator(pf), 's-002', {
      out_trade_no: 'TU-5',
      amount: 100,
      channel: 'simulated',
    });
    expect(byOperator.statusCode, byOperator.body).toBe(201);
    await pf.pushes.pump();

    expect(hook.received.map((x) => [x.path, bodyOf(x).type, bodyOf(x).data])).toEqual([
      ['/shop', 'wallet.topped_up', json(byShop)],
    ]);
  });
});
