import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  cardOf,
  demoPlatform,
  deviceSigner,
  incidentsOf,
  json,
  operator,
  payWithCode,
  qrOf,
  registerPos,
  type Signer,
  signed,
  uploadOffline,
  walletBalance,
} from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const balance = walletBalance;
const purposes = (p: MockPlatform) =>
  p.state.db.prepare('SELECT principal_id, purpose FROM used_codes ORDER BY rowid').all();
const ledgerBalanced = async (p: MockPlatform): Promise<boolean> =>
  json<{ balanced: boolean }>(await p.app.inject(signed(p, operator(p), 'GET', '/v1/ledger/check'))).balanced;

const resolve = (p: MockPlatform, dev: Signer, qr: string, extra: object = {}) =>
  p.app.inject(signed(p, dev, 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'payment', ...extra }));
/** An offline item of a code made at `t` (unix seconds), captured then. */
const item = (seq: number, no: string, amount: number, qr: string, t: number) => ({
  seq,
  out_trade_no: no,
  amount,
  qr_text: qr,
  captured_at: new Date(t * 1000).toISOString(),
});

describe('a code the POS resolved online, then charges', () => {
  it('offline on the same POS: accepted, the wallet debited, no incident; the code then pays no more', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const t = p.clock.nowSeconds() - 5;
    const qr = await qrOf(p, 's-001', 2, t);
    const before = balance(p, 's-001');
    expect((await resolve(p, pos, qr)).statusCode).toBe(200);
    expect(purposes(p)).toEqual([{ principal_id: 'pos-01', purpose: 'resolve' }]);
    const up = await uploadOffline(p, pos, [item(1, 'OFF-1', 300, qr, t)]);
    expect(up.results[0]).toMatchObject({ outcome: 'accepted', code: null, conflict_device_id: null });
    expect(up.results[0]?.order_id).toMatch(/^ord_/);
    expect(balance(p, 's-001')).toBe(before - 300);
    expect(await incidentsOf(p)).toEqual([]);
    expect(purposes(p)).toEqual([{ principal_id: 'pos-01', purpose: 'payment' }]);
    // the resolve bought one payment: another sale with the same code, on the same POS, is refused
    const again = await uploadOffline(p, pos, [item(2, 'OFF-2', 300, qr, t)]);
    expect(again.results[0]).toMatchObject({
      outcome: 'rejected',
      code: 'ERR_CODE_ALREADY_USED',
      conflict_device_id: 'pos-01',
    });
    expect(balance(p, 's-001')).toBe(before - 300);
    expect(await incidentsOf(p)).toMatchObject([
      { kind: 'code_used_twice', source: 'offline_payment', device_id: 'pos-01', first_device_id: 'pos-01' },
    ]);
    expect(await ledgerBalanced(p)).toBe(true);
  });

  it('online on the same POS: 201 (without consume: false); a second payment of the code is 409', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const qr = await qrOf(p, 's-001', 2);
    const before = balance(p, 's-001');
    expect((await resolve(p, pos, qr)).statusCode).toBe(200);
    const paid = await payWithCode(p, pos, 'ON-1', 250, qr);
    expect(paid.statusCode, paid.body).toBe(201);
    expect(json(paid)).toMatchObject({ status: 'success', amount: 250 });
    expect(balance(p, 's-001')).toBe(before - 250);
    expect(purposes(p)).toEqual([{ principal_id: 'pos-01', purpose: 'payment' }]);
    const twice = await payWithCode(p, pos, 'ON-2', 250, qr);
    expect([twice.statusCode, json(twice).code]).toEqual([409, 'ERR_CODE_ALREADY_USED']);
    // a second resolve is a second read too, as before
    const read = await resolve(p, pos, qr);
    expect([read.statusCode, json(read).code]).toEqual([409, 'ERR_CODE_ALREADY_USED']);
    expect(balance(p, 's-001')).toBe(before - 250);
    expect(await incidentsOf(p)).toEqual([]);
    expect(await ledgerBalanced(p)).toBe(true);
  });

  it('resolved on POS A, charged on POS B: refused, online (409) and offline (rejected, an incident naming both)', async () => {
    p = await demoPlatform();
    const a = deviceSigner(p, 'pos-01');
    const b = await registerPos(p, 'pos-b');
    const t = p.clock.nowSeconds() - 5;
    const qr = await qrOf(p, 's-001', 2, t);
    const before = balance(p, 's-001');
    expect((await resolve(p, a, qr)).statusCode).toBe(200);
    const online = await payWithCode(p, b, 'B-ON-1', 300, qr);
    expect([online.statusCode, json(online).code]).toEqual([409, 'ERR_CODE_ALREADY_USED']);
    const offline = await uploadOffline(p, b, [item(1, 'B-OFF-1', 300, qr, t)]);
    expect(offline.results[0]).toMatchObject({
      outcome: 'rejected',
      code: 'ERR_CODE_ALREADY_USED',
      order_id: null,
      conflict_device_id: 'pos-01',
    });
    expect(await incidentsOf(p)).toMatchObject([
      {
        kind: 'code_used_twice',
        source: 'offline_payment',
        card_id: cardOf(p, 's-001'),
        device_id: 'pos-b',
        first_device_id: 'pos-01',
        seq: 1,
        amount: 300,
      },
    ]);
    expect(balance(p, 's-001')).toBe(before);
    // the resolve is still POS A's: it may still charge the code, once
    expect(purposes(p)).toEqual([{ principal_id: 'pos-01', purpose: 'resolve' }]);
    expect((await payWithCode(p, a, 'A-ON-1', 300, qr)).statusCode).toBe(201);
    expect(balance(p, 's-001')).toBe(before - 300);
  });

  it('a code paid on a POS is not paid again there: online 409; offline rejected with an incident', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const t = p.clock.nowSeconds() - 5;
    const qr = await qrOf(p, 's-001', 2, t);
    const before = balance(p, 's-001');
    expect((await payWithCode(p, pos, 'ON-1', 200, qr)).statusCode).toBe(201);
    const online = await payWithCode(p, pos, 'ON-2', 200, qr);
    expect([online.statusCode, json(online).code]).toEqual([409, 'ERR_CODE_ALREADY_USED']);
    const offline = await uploadOffline(p, pos, [item(1, 'OFF-1', 200, qr, t)]);
    expect(offline.results[0]).toMatchObject({
      outcome: 'rejected',
      code: 'ERR_CODE_ALREADY_USED',
      conflict_device_id: 'pos-01',
    });
    expect((await incidentsOf(p)).map((i) => i.kind)).toEqual(['code_used_twice']);
    expect(balance(p, 's-001')).toBe(before - 200);
  });

  it('a code used before migration 14 (purpose unknown) is not taken for a resolve: the same POS cannot charge it', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const t = p.clock.nowSeconds() - 5;
    const qr = await qrOf(p, 's-001', 2, t);
    expect((await resolve(p, pos, qr)).statusCode).toBe(200);
    p.state.db.prepare('UPDATE used_codes SET purpose = NULL').run();
    const online = await payWithCode(p, pos, 'ON-1', 200, qr);
    expect([online.statusCode, json(online).code]).toEqual([409, 'ERR_CODE_ALREADY_USED']);
    const offline = await uploadOffline(p, pos, [item(1, 'OFF-1', 200, qr, t)]);
    expect(offline.results[0]).toMatchObject({ outcome: 'rejected', code: 'ERR_CODE_ALREADY_USED' });
    expect(purposes(p)).toEqual([{ principal_id: 'pos-01', purpose: null }]);
  });
});

describe('the same out_trade_no on two POS of one merchant', () => {
  it('the same code and amount on both: the second is a code used twice, not a duplicate of the first', async () => {
    p = await demoPlatform();
    const a = deviceSigner(p, 'pos-01');
    const b = await registerPos(p, 'pos-b');
    const t = p.clock.nowSeconds() - 5;
    const qr = await qrOf(p, 's-001', 2, t);
    const before = balance(p, 's-001');
    const first = await uploadOffline(p, a, [item(1, 'OFF-1', 300, qr, t)]);
    expect(first.results[0]?.outcome).toBe('accepted');
    const second = await uploadOffline(p, b, [item(1, 'OFF-1', 300, qr, t)]);
    expect(second.results[0]).toMatchObject({
      outcome: 'rejected',
      code: 'ERR_CODE_ALREADY_USED',
      order_id: null,
      conflict_device_id: 'pos-01',
    });
    expect([second.accepted, second.duplicates, second.rejected]).toEqual([0, 0, 1]);
    expect(await incidentsOf(p)).toMatchObject([
      {
        kind: 'code_used_twice',
        source: 'offline_payment',
        card_id: cardOf(p, 's-001'),
        device_id: 'pos-b',
        first_device_id: 'pos-01',
        seq: 1,
        amount: 300,
      },
    ]);
    expect(balance(p, 's-001')).toBe(before - 300);
    // sent again under its seq: the same answer, no second incident
    const again = await uploadOffline(p, b, [item(1, 'OFF-1', 300, qr, t)]);
    expect(again.results[0]).toMatchObject({ outcome: 'duplicate', code: 'ERR_CODE_ALREADY_USED' });
    expect(await incidentsOf(p)).toHaveLength(1);
    expect(await ledgerBalanced(p)).toBe(true);
  });

  it('the same card tapped on both, for the same amount: two sales, the second refused for its number', async () => {
    p = await demoPlatform();
    const a = deviceSigner(p, 'pos-01');
    const b = await registerPos(p, 'pos-b');
    const t = p.clock.nowSeconds() - 5;
    const uid = p.demo!.cards.find((c) => c.personId === 's-001')!.physicalUidHex!;
    const tap = {
      seq: 1,
      out_trade_no: 'OFF-1',
      amount: 300,
      uid_hex: uid,
      captured_at: new Date(t * 1000).toISOString(),
    };
    expect((await uploadOffline(p, a, [tap])).results[0]?.outcome).toBe('accepted');
    const second = await uploadOffline(p, b, [tap]);
    expect(second.results[0]).toMatchObject({ outcome: 'rejected', code: 'ERR_OUT_TRADE_NO_CONFLICT' });
    expect(await incidentsOf(p)).toMatchObject([
      { kind: 'out_trade_no_conflict', device_id: 'pos-b', seq: 1, amount: 300 },
    ]);
  });

  it('the same POS sending its online sale again offline: still a duplicate of its order, no incident', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const t = p.clock.nowSeconds() - 5;
    const qr = await qrOf(p, 's-001', 2, t);
    const before = balance(p, 's-001');
    const online = await payWithCode(p, pos, 'OFF-1', 300, qr);
    expect(online.statusCode, online.body).toBe(201);
    const up = await uploadOffline(p, pos, [item(1, 'OFF-1', 300, qr, t)]);
    expect(up.results[0]).toMatchObject({
      outcome: 'duplicate',
      code: null,
      order_id: json<{ order_id: string }>(online).order_id,
      conflict_device_id: null,
    });
    expect(balance(p, 's-001')).toBe(before - 300);
    expect(await incidentsOf(p)).toEqual([]);
  });
});
