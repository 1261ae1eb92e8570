import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, signed } from './helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

describe('smoke', () => {
  it('health, openapi, signed payment from a QR code', async () => {
    p = await demoPlatform();
    expect((await p.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    const doc = json(await p.app.inject({ method: 'GET', url: '/openapi.json' }));
    expect(doc.openapi).toBe('3.1.0');
    const pos = deviceSigner(p, 'pos-01');
    const qr = await qrOf(p, 's-001', 2);
    const res = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', { out_trade_no: 'T1', amount: 1200, qr_text: qr }),
    );
    expect(res.statusCode, res.body).toBe(201);
    expect(json(res).status).toBe('success');
    const w = await p.app.inject(signed(p, operator(p), 'GET', '/v1/wallets/s-001'));
    expect(json(w).balance).toBe(10_000 - 1200);
    const check = json(await p.app.inject(signed(p, operator(p), 'GET', '/v1/ledger/check')));
    expect(check.balanced, JSON.stringify(check)).toBe(true);
  });
});
