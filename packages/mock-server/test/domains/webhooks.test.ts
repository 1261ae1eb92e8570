/**
 * Pushes are delivered once each when nothing fails, however many wake-ups overlap a delivery
 * round (duplicates are a fault to switch on, never a side effect of load).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createClock, type MockPlatform, startMockPlatform } from '../../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  signed,
  startReceiver,
  T0,
  tableDigests,
} from '../helpers.js';

/** gate-01 uploads one allowed attendance event of s-001's card; returns that card. */
async function admitS001(p: MockPlatform): Promise<{ cardId: string }> {
  const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
  const up = await p.app.inject(
    signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', {
      events: [
        {
          seq: 1,
          kind: 'attendance',
          occurred_at: '2026-01-05T08:00:00Z',
          card_id: card.cardId,
          decision: 'allowed',
        },
      ],
    }),
  );
  expect(json(up)).toMatchObject({ accepted: 1 });
  return card;
}

describe('push delivery', () => {
  it('delivers each of many pushes exactly once under overlapping wake-ups', async () => {
    const ids: string[] = [];
    const hook = createServer((req, res) => {
      ids.push(String(req.headers['push-id'] ?? ''));
      // a slow receiver, so that new pushes keep waking the pump while a round is running
      setTimeout(() => res.end('ok'), 5);
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as { port: number }).port;
    await using server = await startMockPlatform({
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
      pushIntervalMs: 10,
    });
    const p = server.platform;
    const sub = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
        url: `http://127.0.0.1:${port}/hooks`,
        event_types: ['attendance.recorded'],
        recipient_person_id: 'p-001',
      }),
    );
    expect(sub.statusCode, sub.body).toBe(201);
    const at = new Date(T0).toISOString();
    const n = 30;
    for (let seq = 1; seq <= n; seq++) {
      const qr = await qrOf(p, 's-001', seq);
      const up = await p.app.inject(
        signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', {
          events: [
            { seq, kind: 'attendance', direction: 'in', occurred_at: at, qr_text: qr, decision: 'allowed' },
          ],
        }),
      );
      expect(up.statusCode, up.body).toBe(200);
    }
    for (let i = 0; i < 200 && ids.length < n; i++) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200)); // room for any duplicate to show up
    expect(ids.length).toBe(n);
    expect(new Set(ids).size).toBe(n);
    await new Promise<void>((r) => hook.close(() => r()));
  });
});

describe('the platform key', () => {
  it('exists from the start, so reading the keys writes nothing, and survives a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-card-keys-'));
    try {
      const dbPath = join(dir, 'p.db');
      const a = await demoPlatform({ dbPath });
      const rows = () => a.state.db.prepare('SELECT kid FROM platform_keys').all() as { kid: string }[];
      expect(rows()).toHaveLength(1);
      const before = tableDigests(a);
      const r = await a.app.inject(signed(a, operator(a), 'GET', '/v1/platform/keys'));
      expect(r.statusCode).toBe(200);
      const keys = json<{ webhook_signing: { kid: string }[] }>(r).webhook_signing;
      expect(keys.map((k) => k.kid)).toEqual([rows()[0]?.kid]);
      expect(changedTables(before, tableDigests(a))).toEqual([]);
      await a.close();
      const b = await demoPlatform({ dbPath });
      const again = json<{ webhook_signing: { kid: string }[] }>(
        await b.app.inject(signed(b, operator(b), 'GET', '/v1/platform/keys')),
      ).webhook_signing;
      expect(again.map((k) => k.kid)).toEqual(keys.map((k) => k.kid));
      await b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('who may subscribe to what', () => {
  it('a merchant cannot subscribe to a person’s pushes: 403 ERR_FORBIDDEN, no subscription, no pushes', async () => {
    const p = await demoPlatform();
    try {
      const shop = deviceSigner(p, 'm-shop');
      const skip = new Set(['nonces', 'idempotency']);
      const before = tableDigests(p, skip);
      for (const extra of [{}, { merchant_id: 'm-shop' }]) {
        const r = await p.app.inject(
          signed(p, shop, 'POST', '/v1/webhook-subscriptions', {
            url: 'http://127.0.0.1:9/hook',
            event_types: ['payment.succeeded', 'attendance.recorded'],
            recipient_person_id: 's-001',
            ...extra,
          }),
        );
        expect([r.statusCode, json(r).code]).toEqual([403, 'ERR_FORBIDDEN']);
        expect(r.headers['content-type']).toContain('application/problem+json');
      }
      expect(changedTables(before, tableDigests(p, skip))).toEqual([]);
      // s-001 pays at another merchant: nothing is queued for anyone
      const pay = await p.app.inject(
        signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', {
          out_trade_no: 'W1',
          amount: 100,
          qr_text: await qrOf(p, 's-001', 2),
        }),
      );
      expect(pay.statusCode).toBe(201);
      expect(p.state.db.prepare('SELECT COUNT(*) AS n FROM pushes').get()).toEqual({ n: 0 });
      // the merchant still subscribes to its own pushes; the operator to a person's
      const own = await p.app.inject(
        signed(p, shop, 'POST', '/v1/webhook-subscriptions', {
          url: 'http://127.0.0.1:9/hook',
          event_types: ['payment.succeeded'],
        }),
      );
      expect([own.statusCode, json(own).merchant_id, json(own).recipient_person_id]).toEqual([
        201,
        'm-shop',
        null,
      ]);
      const person = await p.app.inject(
        signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
          url: 'http://127.0.0.1:9/hook',
          event_types: ['attendance.recorded'],
          recipient_person_id: 's-001',
        }),
      );
      expect(person.statusCode).toBe(201);
    } finally {
      await p.close();
    }
  });
});

describe("a person's pushes stay in the person's school", () => {
  let p: MockPlatform | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  it('no push to a school B teacher of a class with the same name; the school A teacher still gets it', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const op = operator(p);
    const made = [
      await p.app.inject(signed(p, op, 'POST', '/v1/schools', { school_id: 'sch-b', name: 'B' })),
      await p.app.inject(
        signed(p, op, 'POST', '/v1/people', {
          school_id: 'sch-b',
          person_id: 't-b1',
          kind: 'teacher',
          name: 'T',
          class_ids: ['7-2'],
        }),
      ),
    ];
    expect(made.map((r) => r.statusCode)).toEqual([201, 201]);
    const r = await startReceiver();
    try {
      for (const [path, who] of [
        ['/b', 't-b1'],
        ['/a', 't-001'],
      ] as const) {
        const sub = await p.app.inject(
          signed(p, op, 'POST', '/v1/webhook-subscriptions', {
            url: `${r.base}${path}`,
            event_types: ['attendance.recorded', 'card.status_changed'],
            recipient_person_id: who,
          }),
        );
        expect(sub.statusCode, sub.body).toBe(201);
      }
      const card = await admitS001(p);
      const lost = await p.app.inject(signed(p, op, 'POST', `/v1/cards/${card.cardId}/report-lost`, {}));
      expect(lost.statusCode).toBe(200);
      await p.pushes.pump();
      await p.pushes.pump();
      const types = (path: string) => r.on(path).map((x) => x.headers['push-event-type']);
      expect(types('/b')).toEqual([]);
      expect(types('/a').sort()).toEqual(['attendance.recorded', 'card.status_changed']);
    } finally {
      await r.close();
    }
  });

  it('no push to a parent of another school, even with a guardian link to the pupil (data older than the school check at creation)', async () => {
    p = await demoPlatform({ pushIntervalMs: 3_600_000 });
    const op = operator(p);
    await p.app.inject(signed(p, op, 'POST', '/v1/schools', { school_id: 'sch-b', name: 'B' }));
    const parent = await p.app.inject(
      signed(p, op, 'POST', '/v1/people', {
        school_id: 'sch-b',
        person_id: 'p-b1',
        kind: 'parent',
        name: 'P',
      }),
    );
    expect(parent.statusCode).toBe(201);
    p.state.db.prepare("INSERT INTO guardians (student_id, parent_id) VALUES ('s-001', 'p-b1')").run();
    for (const who of ['p-b1', 'p-001']) {
      const sub = await p.app.inject(
        signed(p, op, 'POST', '/v1/webhook-subscriptions', {
          url: `http://127.0.0.1:9/${who}`,
          event_types: ['attendance.recorded'],
          recipient_person_id: who,
        }),
      );
      expect(sub.statusCode).toBe(201);
    }
    await admitS001(p);
    expect(p.state.db.prepare('SELECT url FROM pushes ORDER BY url').all()).toEqual([
      { url: 'http://127.0.0.1:9/p-001' },
    ]);
  });
});
