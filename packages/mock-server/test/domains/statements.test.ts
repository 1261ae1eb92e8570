/**
 * Daily statements (src/domains/statements.ts): the metadata's totals are sums over the day, so
 * they may pass one order's maximum (`MAX_AMOUNT_FEN`) and must still be answered. The day is the
 * business day, 00:00 to 24:00 at the platform's UTC offset (`+08:00` by default).
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, type Signer, signed } from '../helpers.js';

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
    p.clock.set(Date.UTC(2026, 0, 5, 15, 59, 50)); // 23:59:50 in Beijing (+08:00, the default)
    const r = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', {
        out_trade_no: 'MID-1',
        amount: 60_000,
        qr_text: await qrOf(p, 'p-001', 2),
      }),
    );
    expect([r.statusCode, json(r).status]).toEqual([201, 'processing']);
    p.clock.set(Date.UTC(2026, 0, 5, 16, 1, 0)); // confirmed at 23:59:55; nobody has looked yet
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

describe('the statement of a business day (00:00 to 24:00 at the UTC offset)', () => {
  /** Pays `amount` fen at `pos` at the epoch ms time `at` (captured at once: under 50 000 fen). */
  const payAt = async (pos: Signer, no: string, amount: number, at: number) => {
    p.clock.set(at);
    const r = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', {
        out_trade_no: no,
        amount,
        qr_text: await qrOf(p, 'p-001', 2),
      }),
    );
    expect([r.statusCode, json(r).status], r.body).toEqual([201, 'success']);
  };
  const get = (pos: Signer, url: string) => p.app.inject(signed(p, pos, 'GET', url));

  it('at +08:00 (the default), a day runs from 16:00Z the day before to 16:00Z: 00:30 in Beijing is in, 23:59:59.999Z of its own date is not', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    await payAt(pos, 'BD-0', 100, Date.UTC(2026, 0, 5, 15, 59, 59, 999)); // 23:59:59.999 on the 5th
    await payAt(pos, 'BD-1', 200, Date.UTC(2026, 0, 5, 16, 30)); // 00:30 on the 6th
    await payAt(pos, 'BD-2', 400, Date.UTC(2026, 0, 6, 15, 59, 59, 999)); // 23:59:59.999 on the 6th
    await payAt(pos, 'BD-3', 800, Date.UTC(2026, 0, 6, 16, 0)); // 00:00 on the 7th
    await payAt(pos, 'BD-4', 1_600, Date.UTC(2026, 0, 6, 23, 59, 59, 999)); // 07:59:59.999 on the 7th
    // the 6th is over at 24:00 in Beijing, 16:00Z: not before
    p.clock.set(Date.UTC(2026, 0, 6, 15, 59, 59, 999));
    const early = await get(pos, '/v1/statements/2026-01-06');
    expect([early.statusCode, json(early).code]).toEqual([404, 'ERR_NOT_FOUND']);
    expect(json<{ detail: string }>(early).detail).toContain('2026-01-06T16:00:00Z');
    p.clock.set(Date.UTC(2026, 0, 7, 0, 0));
    const info = await get(pos, '/v1/statements/2026-01-06');
    expect(info.statusCode, info.body).toBe(200);
    expect(json(info)).toMatchObject({
      date: '2026-01-06',
      from: '2026-01-05T16:00:00Z',
      to: '2026-01-06T16:00:00Z',
      day_utc_offset: '+08:00',
      line_count: 2,
      credits: 600,
    });
    const file = (await get(pos, '/v1/statements/2026-01-06/file')).body;
    expect(file).toContain(',BD-1,');
    expect(file).toContain(',BD-2,');
    for (const no of ['BD-0', 'BD-3', 'BD-4']) expect(file).not.toContain(`,${no},`);
    // the 7th is not over (it ends at 16:00Z on the 7th), although its UTC date is
    expect((await get(pos, '/v1/statements/2026-01-07')).statusCode).toBe(404);
  });

  it('another offset (-05:00, +00:00) moves the bounds, and the metadata says so', async () => {
    for (const [offset, from, to, credits] of [
      ['-05:00', '2026-01-06T05:00:00Z', '2026-01-07T05:00:00Z', 400 + 800 + 1_600],
      ['+00:00', '2026-01-06T00:00:00Z', '2026-01-07T00:00:00Z', 400 + 800 + 1_600],
      ['+14:00', '2026-01-05T10:00:00Z', '2026-01-06T10:00:00Z', 200],
    ] as const) {
      p = await demoPlatform({ dayUtcOffset: offset });
      const pos = deviceSigner(p, 'pos-01');
      await payAt(pos, 'BD-1', 200, Date.UTC(2026, 0, 5, 16, 30));
      await payAt(pos, 'BD-2', 400, Date.UTC(2026, 0, 6, 15, 59, 59, 999));
      await payAt(pos, 'BD-3', 800, Date.UTC(2026, 0, 6, 16, 0));
      await payAt(pos, 'BD-4', 1_600, Date.UTC(2026, 0, 6, 23, 59, 59, 999));
      p.clock.set(Date.parse(to) - 1);
      expect((await get(pos, '/v1/statements/2026-01-06')).statusCode).toBe(404);
      p.clock.set(Date.parse(to));
      const info = await get(pos, '/v1/statements/2026-01-06');
      expect(json(info), offset).toMatchObject({ from, to, day_utc_offset: offset, credits });
      await p.close();
    }
  });

  it('settings.dayUtcOffset is the same setting, and -00:00 is published as +00:00', async () => {
    p = await demoPlatform({ settings: { dayUtcOffset: '-00:00' } });
    expect(p.state.settings.dayUtcOffset).toBe('+00:00');
    p.clock.set(Date.UTC(2026, 0, 7));
    const info = await get(deviceSigner(p, 'pos-01'), '/v1/statements/2026-01-06');
    expect(json(info)).toMatchObject({ from: '2026-01-06T00:00:00Z', day_utc_offset: '+00:00' });
  });

  it('a day the calendar lacks is a 400, and 0000-01-01, which starts in year -1 at +08:00, a 404', async () => {
    p = await demoPlatform();
    const pos = deviceSigner(p, 'pos-01');
    const bad = await get(pos, '/v1/statements/2026-02-30');
    expect([bad.statusCode, json(bad).code]).toEqual([400, 'ERR_VALIDATION']);
    const first = await get(pos, '/v1/statements/0000-01-01');
    expect([first.statusCode, json(first).code]).toEqual([404, 'ERR_NOT_FOUND']);
    const next = await get(pos, '/v1/statements/0000-01-02');
    expect(json(next)).toMatchObject({ from: '0000-01-01T16:00:00Z', line_count: 0 });
  });
});
