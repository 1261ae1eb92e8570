/**
 * Offline uploads (src/domains/payments.ts, `uploadOfflinePayments`), fourth audit: a sale whose
 * online attempt under the same out_trade_no still awaits its holder's confirmation (`processing`:
 * above 50 000 fen, possible for a POS whose offline cap is higher) is not yet a `duplicate` of
 * it. That order may still fail, or be closed or reversed (the POS reverses the attempt it had no
 * answer to), and the sale acknowledged as its duplicate would be lost with no incident. The batch
 * is refused with a retryable 409 `ERR_ORDER_STATE` (Retry-After: until the confirmation), nothing
 * stored, not even under its Idempotency-Key; sent again once the order has ended, the sale is a
 * duplicate of a captured order, or refused with its incident.
 */
import type { OfflineBatchResult } from '@campus-card/core/api';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  demoPlatform,
  incidentsOf,
  isoAt,
  json,
  payWithCode,
  qrOf,
  registerPos,
  type Signer,
  signed,
  walletBalance,
} from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const post = (pf: MockPlatform, dev: Signer, items: object[], key: string) =>
  pf.app.inject(signed(pf, dev, 'POST', '/v1/payments/offline-batches', { items }, { idempotencyKey: key }));
const offlineRows = (pf: MockPlatform) =>
  (pf.state.db.prepare('SELECT COUNT(*) AS n FROM offline_items').get() as { n: number }).n;

/** A POS whose offline cap lets a sale above the 50 000 fen confirmation threshold through. */
async function setUp(who: string) {
  const pf = await demoPlatform();
  pf.clock.advance(600);
  const pos = await registerPos(pf, 'pos-big', 100_000, 200_000);
  const t = pf.clock.nowSeconds() - 5;
  const qr = await qrOf(pf, who, 2, t);
  // the create lands (processing, awaiting the holder's confirmation) and its answer is lost: the
  // POS hands the goods over offline under the same number
  const online = await payWithCode(pf, pos, 'BIG-1', 60_000, qr);
  expect(online.statusCode, online.body).toBe(201);
  expect(json(online)).toMatchObject({ status: 'processing' });
  const sale = { seq: 1, out_trade_no: 'BIG-1', amount: 60_000, qr_text: qr, captured_at: isoAt(t) };
  const other = {
    seq: 2,
    out_trade_no: 'SMALL-1',
    amount: 100,
    uid_hex: '04a1b2c3d4e5f6',
    captured_at: isoAt(t),
  };
  return { pf, pos, sale, other };
}

/** The batch is refused, retryably, naming the sale; nothing of it is stored. */
async function expectAwaiting(pf: MockPlatform, res: Awaited<ReturnType<typeof post>>, wait: string) {
  expect(res.statusCode, res.body).toBe(409);
  expect(res.headers['retry-after']).toBe(wait);
  expect(json(res)).toMatchObject({
    code: 'ERR_ORDER_STATE',
    retryable: true,
    errors: [{ path: 'body/items/0', message: expect.stringContaining('BIG-1') }],
  });
  expect(offlineRows(pf)).toBe(0);
}

describe('an offline sale whose online attempt still awaits its confirmation', () => {
  it('reversed by the POS meanwhile: the sale is not lost as a duplicate, it is refused with an incident', async () => {
    const { pf, pos, sale, other } = await setUp('p-001');
    p = pf;
    const before = walletBalance(p, 'p-001');
    await expectAwaiting(p, await post(p, pos, [sale, other], 'k-1'), '5');
    expect(await incidentsOf(p)).toEqual([]);
    // the POS's sync reverses the attempt it had no answer to
    const rev = await p.app.inject(signed(p, pos, 'POST', '/v1/payments/BIG-1/reverse', {}));
    expect(json(rev)).toMatchObject({ status: 'reversed' });
    // the same batch, under the same key: judged now, not replayed
    const res = await post(p, pos, [sale, other], 'k-1');
    expect(res.statusCode, res.body).toBe(200);
    const r = json<OfflineBatchResult>(res);
    expect(r.results.map((x) => [x.seq, x.outcome, x.code])).toEqual([
      [1, 'rejected', 'ERR_OUT_TRADE_NO_CONFLICT'],
      [2, 'accepted', null],
    ]);
    expect(await incidentsOf(p)).toMatchObject([
      {
        kind: 'out_trade_no_conflict',
        source: 'offline_payment',
        device_id: 'pos-big',
        seq: 1,
        amount: 60_000,
      },
    ]);
    expect(walletBalance(p, 'p-001')).toBe(before);
  });

  it('captured once confirmed: sent again after Retry-After, the sale is a duplicate of that order, paid once', async () => {
    const { pf, pos, sale, other } = await setUp('p-001');
    p = pf;
    const before = walletBalance(p, 'p-001');
    p.clock.advance(2);
    await expectAwaiting(p, await post(p, pos, [sale, other], 'k-2'), '3');
    p.clock.advance(3);
    const r = json<OfflineBatchResult>(await post(p, pos, [sale, other], 'k-2'));
    const order = json<{ order_id: string; status: string }>(
      await p.app.inject(signed(p, pos, 'GET', '/v1/payments/BIG-1')),
    );
    expect(order.status).toBe('success');
    expect(r.results.map((x) => [x.seq, x.outcome, x.code, x.order_id])).toEqual([
      [1, 'duplicate', null, order.order_id],
      [2, 'accepted', null, expect.any(String)],
    ]);
    expect(walletBalance(p, 'p-001')).toBe(before - 60_000);
    expect(await incidentsOf(p)).toEqual([]);
  });

  it('failed at its confirmation (the money was not there): refused with an incident', async () => {
    const { pf, pos, sale } = await setUp('s-002'); // 5 000 fen
    p = pf;
    await expectAwaiting(p, await post(p, pos, [sale], 'k-3'), '5');
    p.clock.advance(5);
    const r = json<OfflineBatchResult>(await post(p, pos, [sale], 'k-3'));
    expect(r.results.map((x) => [x.outcome, x.code])).toEqual([['rejected', 'ERR_OUT_TRADE_NO_CONFLICT']]);
    expect((await incidentsOf(p)).map((x) => x.kind)).toEqual(['out_trade_no_conflict']);
  });
});
