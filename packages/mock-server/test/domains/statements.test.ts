/**
 * Daily statements (src/domains/statements.ts): the metadata's totals are sums over the day, so
 * they may pass one order's maximum (`MAX_AMOUNT_FEN`) and must still be answered.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, signed } from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

describe('GET /v1/statements/{date}', () => {
  it('credits and debits beyond one order’s maximum are answered (200), and match the file', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    for (const no of ['ST-TU-1', 'ST-TU-2']) {
      const r = await p.app.inject(
        signed(p, operator(p), 'POST', '/v1/wallets/s-003/top-ups', {
          out_trade_no: no,
          amount: 1_000_000_000,
          channel: 'bank',
        }),
      );
      expect(r.statusCode, r.body).toBe(201);
    }
    for (const no of ['ST-1', 'ST-2']) {
      const r = await p.app.inject(
        signed(p, pos, 'POST', '/v1/payments', {
          out_trade_no: no,
          amount: 1_000_000_000,
          qr_text: await qrOf(p, 's-003', 2),
        }),
      );
      expect(r.statusCode, r.body).toBe(201);
    }
    p.clock.advance(6); // confirmed
    for (const no of ['ST-1', 'ST-2']) {
      const r = await p.app.inject(signed(p, pos, 'POST', `/v1/payments/${no}/reverse`, {}));
      expect([r.statusCode, json(r).status]).toEqual([200, 'reversed']);
    }
    p.clock.advance(86_400);
    const info = await p.app.inject(signed(p, pos, 'GET', '/v1/statements/2026-01-05'));
    expect(info.statusCode, info.body).toBe(200);
    expect(json(info)).toMatchObject({
      merchant_id: 'm-canteen-s',
      line_count: 4,
      credits: 2_000_000_000,
      debits: 2_000_000_000,
      net: 0,
    });
    const file = await p.app.inject(signed(p, pos, 'GET', '/v1/statements/2026-01-05/file'));
    expect(file.statusCode).toBe(200);
    expect(createHash('sha256').update(file.rawPayload).digest('hex')).toBe(json(info).hash_value);
  });
});

describe('a statement never changes once served', () => {
  it('a payment confirmed before midnight and first read after it is on that day’s statement, before and after the read', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    p.clock.set(Date.UTC(2026, 0, 5, 23, 59, 50));
    const r = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', {
        out_trade_no: 'MID-1',
        amount: 60_000,
        qr_text: await qrOf(p, 'p-001', 2),
      }),
    );
    expect([r.statusCode, json(r).status]).toEqual([201, 'processing']);
    p.clock.set(Date.UTC(2026, 0, 6, 0, 1, 0)); // confirmed at 23:59:55; nobody has looked yet
    const info = async (date: string) => {
      const res = await p.app.inject(signed(p, pos, 'GET', `/v1/statements/${date}`));
      expect(res.statusCode, res.body).toBe(200);
      return json<{ credits: number; line_count: number; hash_value: string }>(res);
    };
    const first = await info('2026-01-05');
    expect(first).toMatchObject({ credits: 60_000, line_count: 1 });
    expect(json(await p.app.inject(signed(p, pos, 'GET', '/v1/payments/MID-1'))).status).toBe('success');
    expect(await info('2026-01-05')).toEqual(expect.objectContaining({ hash_value: first.hash_value }));
    p.clock.advance(86_400);
    expect(await info('2026-01-06')).toMatchObject({ credits: 0, line_count: 0 });
  });
});
