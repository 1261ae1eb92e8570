/**
 * Incidents (issue 4: "one code used on two devices is detected and reported"): what the platform
 * detected, listed for the operator at GET /v1/incidents.
 */
import type { Incident } from '@campus-card/core/api';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { MIGRATIONS, migrate } from '../../src/lib/db.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, signed } from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

type Page = { data: Incident[]; next_cursor: string | null };
const list = async (pf: MockPlatform, query = ''): Promise<Page> => {
  const r = await pf.app.inject(signed(pf, operator(pf), 'GET', `/v1/incidents${query}`));
  expect(r.statusCode).toBe(200);
  return json<Page>(r);
};

describe('GET /v1/incidents', () => {
  it('reports a code paid offline on two devices and offline payments refused for a cap, with filters and pages', async () => {
    p = await demoPlatform();
    const pf = p;
    const t = pf.clock.nowSeconds();
    const at = new Date((t - 10) * 1000).toISOString();
    const qr = await qrOf(pf, 's-002', 2, t - 10);
    const qr3 = await qrOf(pf, 's-003', 2, t - 9);
    const cardOf = (person: string) =>
      (
        pf.state.db.prepare('SELECT card_id FROM cards WHERE person_id = ?').get(person) as {
          card_id: string;
        }
      ).card_id;
    const up = (device: string, items: object[]) =>
      pf.app.inject(signed(pf, deviceSigner(pf, device), 'POST', '/v1/payments/offline-batches', { items }));
    const item = (seq: number, no: string, amount: number, q: string) => ({
      seq,
      out_trade_no: no,
      amount,
      qr_text: q,
      captured_at: at,
    });
    expect((await list(pf)).data).toEqual([]);
    // pos-01: one accepted, one over the per-payment cap (5 000)
    expect((await up('pos-01', [item(1, 'O1', 300, qr), item(2, 'O2', 6_000, qr3)])).statusCode).toBe(200);
    // pos-02 presents pos-01's code again
    expect((await up('pos-02', [item(7, 'Q1', 300, qr)])).statusCode).toBe(200);
    // a duplicate upload of the same seq reports nothing new
    await up('pos-02', [item(7, 'Q1', 300, qr)]);

    const all = (await list(pf)).data;
    expect(all).toEqual([
      {
        incident_id: expect.any(String),
        kind: 'offline_cap_exceeded',
        created_at: new Date(pf.clock.now()).toISOString().replace('.000Z', 'Z'),
        card_id: cardOf('s-003'),
        device_id: 'pos-01',
        first_device_id: null,
        seq: 2,
        amount: 6_000,
        code: null,
        source: 'offline_payment',
      },
      {
        incident_id: expect.any(String),
        kind: 'code_used_twice',
        created_at: expect.any(String),
        card_id: cardOf('s-002'),
        device_id: 'pos-02',
        first_device_id: 'pos-01',
        seq: 7,
        amount: 300,
        code: null,
        source: 'offline_payment',
      },
    ]);
    expect(Number(all[1]?.incident_id)).toBeGreaterThan(Number(all[0]?.incident_id));

    // filters
    expect((await list(pf, '?kind=code_used_twice')).data.map((i) => i.kind)).toEqual(['code_used_twice']);
    expect((await list(pf, `?card_id=${cardOf('s-003')}`)).data.map((i) => i.seq)).toEqual([2]);
    // a device matches as the uploader or as the first user
    expect((await list(pf, '?device_id=pos-01')).data.map((i) => i.kind)).toEqual([
      'offline_cap_exceeded',
      'code_used_twice',
    ]);
    expect((await list(pf, '?device_id=pos-02')).data.map((i) => i.kind)).toEqual(['code_used_twice']);
    expect((await list(pf, '?device_id=gate-01')).data).toEqual([]);
    const now = new Date(pf.clock.now()).toISOString();
    expect((await list(pf, `?to=${now}`)).data).toEqual([]); // to is exclusive
    expect((await list(pf, `?from=${now}`)).data).toHaveLength(2);
    pf.clock.advance(1);
    expect((await list(pf, `?from=${new Date(pf.clock.now()).toISOString()}`)).data).toEqual([]);

    // pages
    const first = await list(pf, '?limit=1');
    expect(first.data[0]?.kind).toBe('offline_cap_exceeded');
    expect(first.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const second = await list(pf, `?limit=1&cursor=${first.next_cursor}`);
    expect([second.data[0]?.kind, second.next_cursor]).toEqual(['code_used_twice', null]);
  });

  it('is for the operator only, and refuses a bad filter', async () => {
    p = await demoPlatform();
    const r = await p.app.inject(signed(p, deviceSigner(p, 'pos-01'), 'GET', '/v1/incidents'));
    expect([r.statusCode, json(r).code]).toEqual([403, 'ERR_FORBIDDEN']);
    for (const q of ['?kind=theft', '?from=2026-02-30T00:00:00Z', '?limit=0']) {
      const bad = await p.app.inject(signed(p, operator(p), 'GET', `/v1/incidents${q}`));
      expect([q, bad.statusCode, json(bad).code]).toEqual([q, 400, 'ERR_VALIDATION']);
    }
  });
});

describe('migration 7', () => {
  it('brings incidents of the older shapes to the one the route reads', () => {
    const db = new Database(':memory:');
    db.exec(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)',
    );
    for (const m of MIGRATIONS.filter((x) => x.version < 7)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations VALUES (?, ?, 0)').run(m.version, m.name);
    }
    const ins = db.prepare(
      "INSERT INTO incidents (kind, detail, created_at) VALUES ('code_used_twice', ?, 1)",
    );
    ins.run(JSON.stringify({ card_id: 'c1', devices: ['pos-01', 'pos-02'], seq: 7 }));
    ins.run(JSON.stringify({ card_id: 'c2', device: 'gate-02', seq: 9 }));
    expect(migrate(db)).toEqual(MIGRATIONS.filter((x) => x.version >= 7).map((x) => x.version));
    const rows = (db.prepare('SELECT detail FROM incidents ORDER BY id').all() as { detail: string }[]).map(
      (r) => JSON.parse(r.detail),
    );
    expect(rows).toEqual([
      {
        source: 'offline_payment',
        card_id: 'c1',
        device_id: 'pos-02',
        first_device_id: 'pos-01',
        seq: 7,
        amount: null,
      },
      {
        source: 'attendance',
        card_id: 'c2',
        device_id: 'gate-02',
        first_device_id: null,
        seq: 9,
        amount: null,
      },
    ]);
    db.close();
  });
});
