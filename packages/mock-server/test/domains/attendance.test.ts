/**
 * The platform keeps the one-use registry of codes across all devices (issue 4, I3, C3): a code
 * admitted by two readers is reported, whether or not the readers also name the card.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { createMockPlatform, MockPlatform } from '../../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  signed,
  T0,
  tableDigests,
} from '../helpers.js';

function incidents(p: Awaited<ReturnType<typeof createMockPlatform>>): { kind: string; detail: string }[] {
  return p.state.db.prepare('SELECT kind, detail FROM incidents ORDER BY rowid').all() as never;
}

describe('event upload and the one-use registry', () => {
  it('reports a code admitted on two devices, also when the events name the card', async () => {
    const p = await demoPlatform();
    const qr = await qrOf(p, 's-001', 1);
    const baseline = incidents(p).length;
    const cardId = (
      p.state.db.prepare("SELECT card_id FROM cards WHERE person_id = 's-001'").get() as {
        card_id: string;
      }
    ).card_id;
    const at = new Date(T0).toISOString();
    const upload = (device: string, seq: number, decision: 'allowed' | 'denied') =>
      p.app.inject(
        signed(p, deviceSigner(p, device), 'POST', '/v1/events/batches', {
          events: [
            { seq, kind: 'access', direction: 'in', occurred_at: at, qr_text: qr, card_id: cardId, decision },
          ],
        }),
      );
    const first = await upload('gate-01', 1001, 'allowed');
    expect(json(first)).toMatchObject({ accepted: 1 });
    expect(incidents(p)).toHaveLength(baseline);
    // a denied scan of the same code elsewhere is not a use
    const devices = (
      p.state.db.prepare("SELECT device_id FROM devices WHERE device_id != 'gate-01'").all() as {
        device_id: string;
      }[]
    ).map((d) => d.device_id);
    const other = devices.find(
      (d) => d.startsWith('gate') || d.startsWith('lib') || d.startsWith('dorm'),
    ) as string;
    expect(other).toBeDefined();
    expect(json(await upload(other, 1001, 'denied'))).toMatchObject({ accepted: 1 });
    expect(incidents(p)).toHaveLength(baseline);
    // admitted on a second device: reported
    expect(json(await upload(other, 1002, 'allowed'))).toMatchObject({ accepted: 1 });
    const found = incidents(p).slice(baseline);
    expect(found).toHaveLength(1);
    expect(found[0]?.kind).toBe('code_used_twice');
    // and reported to the operator
    const listed = json<{ data: unknown[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents?kind=code_used_twice')),
    ).data;
    expect(listed.at(-1)).toMatchObject({
      kind: 'code_used_twice',
      source: 'attendance',
      card_id: cardId,
      device_id: other,
      first_device_id: 'gate-01',
      seq: 1002,
      amount: null,
    });
    await p.close();
  });

  it("stores the reader's zone (else the device's) and the policy rule that denied", async () => {
    const p = await demoPlatform();
    const at = new Date(T0).toISOString();
    const cardId = (
      p.state.db.prepare("SELECT card_id FROM cards WHERE person_id = 's-001'").get() as { card_id: string }
    ).card_id;
    const deviceZone = (
      p.state.db.prepare("SELECT zone FROM devices WHERE device_id = 'gate-01'").get() as { zone: string }
    ).zone;
    const res = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', {
        events: [
          { seq: 1, kind: 'access', occurred_at: at, card_id: cardId, decision: 'allowed', zone: 'lab-204' },
          {
            seq: 2,
            kind: 'access',
            occurred_at: at,
            card_id: cardId,
            decision: 'denied',
            reason: 'POLICY_DENIED',
            rule: 'lab-members-only',
          },
        ],
      }),
    );
    expect(json(res)).toMatchObject({ accepted: 2 });
    const list = json<{
      data: { seq: number; zone: string; rule: string | null; reason: string | null }[];
    }>(await p.app.inject(signed(p, deviceSigner(p, 'gate-01'), 'GET', `/v1/events?person_id=s-001`)));
    const bySeq = new Map(list.data.map((e) => [e.seq, e]));
    expect(bySeq.get(1)).toMatchObject({ zone: 'lab-204', rule: null });
    expect(bySeq.get(2)).toMatchObject({
      zone: deviceZone,
      reason: 'POLICY_DENIED',
      rule: 'lab-members-only',
    });
    // the contract bounds both
    const bad = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', {
        events: [{ seq: 3, kind: 'access', occurred_at: at, card_id: cardId, decision: 'allowed', zone: '' }],
      }),
    );
    expect(bad.statusCode).toBe(400);
    await p.close();
  });
});

describe('events of a card that is not active at upload (fail-closed)', () => {
  it('a card tap or a code of a card reported lost is stored unresolved: no person, no push', async () => {
    const p = await demoPlatform();
    try {
      p.clock.advance(600);
      const t = p.clock.nowSeconds();
      const qr = await qrOf(p, 's-001', 1, t - 5);
      const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
      const sub = await p.app.inject(
        signed(p, operator(p), 'POST', '/v1/webhook-subscriptions', {
          url: 'http://127.0.0.1:9/hook',
          event_types: ['attendance.recorded'],
          recipient_person_id: 's-001',
        }),
      );
      expect(sub.statusCode).toBe(201);
      const lost = await p.app.inject(
        signed(p, operator(p), 'POST', `/v1/cards/${card.cardId}/report-lost`, {}),
      );
      expect(lost.statusCode).toBe(200);
      const pushesBefore = p.state.db.prepare('SELECT COUNT(*) AS n FROM pushes').get();
      p.clock.advance(30);
      const at = (s: number) => new Date(s * 1000).toISOString();
      const up = await p.app.inject(
        signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', {
          events: [
            { seq: 1, kind: 'access', occurred_at: at(t - 5), qr_text: qr, decision: 'allowed' },
            {
              seq: 2,
              kind: 'access',
              occurred_at: at(t - 5),
              uid_hex: card.physicalUidHex,
              decision: 'allowed',
            },
            {
              seq: 3,
              kind: 'access',
              occurred_at: at(t + 20),
              uid_hex: card.physicalUidHex,
              decision: 'allowed',
            },
          ],
        }),
      );
      expect(json(up)).toMatchObject({ accepted: 3 });
      const rows = p.state.db
        .prepare(
          "SELECT seq, person_id, card_id, reason FROM events WHERE device_id = 'gate-01' ORDER BY seq",
        )
        .all();
      expect(rows).toEqual(
        [1, 2, 3].map((seq) => ({ seq, person_id: null, card_id: null, reason: 'UNRESOLVED' })),
      );
      expect(p.state.db.prepare('SELECT COUNT(*) AS n FROM pushes').get()).toEqual(pushesBefore);
    } finally {
      await p.close();
    }
  });
});

describe('a code used twice by the same reader', () => {
  let p: MockPlatform | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });
  const listed = async (pf: MockPlatform) =>
    json<{ data: unknown[] }>(await pf.app.inject(signed(pf, operator(pf), 'GET', '/v1/incidents'))).data;

  it('a gate that resolved a code online and uploads the admission is one use: no incident', async () => {
    p = await demoPlatform();
    const gate = deviceSigner(p, 'gate-01');
    const qr = await qrOf(p, 's-001', 1);
    const who = await p.app.inject(
      signed(p, gate, 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access' }),
    );
    expect(who.statusCode, who.body).toBe(200);
    const up = await p.app.inject(
      signed(p, gate, 'POST', '/v1/events/batches', {
        events: [
          {
            seq: 1,
            kind: 'access',
            occurred_at: new Date(T0).toISOString(),
            qr_text: qr,
            decision: 'allowed',
          },
        ],
      }),
    );
    expect(json(up)).toMatchObject({ accepted: 1 });
    expect(await listed(p)).toEqual([]);
    // another reader uploading the same code is still reported, naming the first
    const other = await p.app.inject(
      signed(p, deviceSigner(p, 'lib-01'), 'POST', '/v1/events/batches', {
        events: [
          {
            seq: 1,
            kind: 'access',
            occurred_at: new Date(T0).toISOString(),
            qr_text: qr,
            decision: 'allowed',
          },
        ],
      }),
    );
    expect(json(other)).toMatchObject({ accepted: 1 });
    expect(await listed(p)).toMatchObject([
      { kind: 'code_used_twice', device_id: 'lib-01', first_device_id: 'gate-01' },
    ]);
  });

  it('a failure of the one-use registry other than "already used" fails the upload: 500, nothing stored, no incident', async () => {
    p = await demoPlatform();
    // the school's trust material is signed on first use (a cache, not a state change)
    const skip = new Set(['nonces', 'idempotency', 'trust_material']);
    const before = tableDigests(p, skip);
    // the registry's table refuses every write (as a full disk would)
    p.state.db.exec(
      "CREATE TEMP TRIGGER used_codes_broken BEFORE INSERT ON main.used_codes BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    );
    const up = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/events/batches', {
        events: [
          {
            seq: 1,
            kind: 'access',
            occurred_at: new Date(T0).toISOString(),
            qr_text: await qrOf(p, 's-001', 1),
            decision: 'allowed',
          },
        ],
      }),
    );
    expect(up.statusCode).toBe(500);
    p.state.db.exec('DROP TRIGGER temp.used_codes_broken');
    expect(changedTables(before, tableDigests(p, skip))).toEqual([]);
    expect(await listed(p)).toEqual([]);
  });
});
