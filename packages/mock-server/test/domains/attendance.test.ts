/**
 * The platform keeps the one-use registry of codes across all devices (issue 4, I3, C3): a code
 * admitted by two readers is reported, whether or not the readers also name the card.
 */
import {
  createPresentation,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  importPrivateJwk,
} from '@campus-card/core';
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

describe('events of a card that is not active at upload: they report what the reader did', () => {
  let p: MockPlatform | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });
  const at = (s: number) => new Date(s * 1000).toISOString();
  const upload = (pf: MockPlatform, device: string, events: unknown[]) =>
    pf.app.inject(signed(pf, deviceSigner(pf, device), 'POST', '/v1/events/batches', { events }));
  const subscribe = async (pf: MockPlatform, who: string) => {
    const r = await pf.app.inject(
      signed(pf, operator(pf), 'POST', '/v1/webhook-subscriptions', {
        url: `http://127.0.0.1:9/${who}`,
        event_types: ['attendance.recorded'],
        recipient_person_id: who,
      }),
    );
    expect(r.statusCode, r.body).toBe(201);
  };
  const cardPost = (pf: MockPlatform, cardId: string, action: string) =>
    pf.app.inject(signed(pf, operator(pf), 'POST', `/v1/cards/${cardId}/${action}`, {}));
  const pushes = (pf: MockPlatform) =>
    (
      pf.state.db
        .prepare("SELECT url, body FROM pushes WHERE event_type = 'attendance.recorded' ORDER BY url")
        .all() as {
        url: string;
        body: string;
      }[]
    ).map((r) => ({
      to: r.url.split('/').at(-1),
      data: (JSON.parse(r.body) as { data: Record<string, unknown> }).data,
    }));

  it('admitted at 08:00 offline, the card reported lost at 08:30, uploaded at 09:00: the person is named, recorded and pushed', async () => {
    p = await demoPlatform();
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const qr = await qrOf(p, 's-001', 1); // 08:00, on the gate, offline
    for (const who of ['s-001', 'p-001', 't-001']) await subscribe(p, who);
    p.clock.advance(1800);
    expect((await cardPost(p, card.cardId, 'report-lost')).statusCode).toBe(200);
    p.clock.advance(1800);
    const up = await upload(p, 'gate-01', [
      {
        seq: 1,
        kind: 'attendance',
        direction: 'in',
        occurred_at: at(T0 / 1000),
        qr_text: qr,
        decision: 'allowed',
      },
    ]);
    expect(json(up)).toMatchObject({ accepted: 1, duplicates: 0 });
    // the attendance record of the pupil
    const listed = json<{ data: Record<string, unknown>[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/events?person_id=s-001')),
    ).data;
    expect(listed).toMatchObject([
      {
        seq: 1,
        device_id: 'gate-01',
        person_id: 's-001',
        card_id: card.cardId,
        class_id: '7-2',
        decision: 'allowed',
        reason: null,
        occurred_at: '2026-01-05T08:00:00Z',
      },
    ]);
    // pushed as usual: the pupil, the parent, the class teacher
    expect(pushes(p)).toEqual(
      ['p-001', 's-001', 't-001'].map((to) => ({
        to,
        data: expect.objectContaining({ person_id: 's-001', seq: 1 }),
      })),
    );
    // the code is used: it counts in the one-use registry
    expect(
      p.state.db.prepare('SELECT COUNT(*) AS n FROM used_codes WHERE card_id = ?').get(card.cardId),
    ).toEqual({
      n: 1,
    });
  });

  it('a code, a card tap before and a card tap after the report: all three name the person, and so do a code of the card once revoked and a tap before the unlink', async () => {
    p = await demoPlatform();
    p.clock.advance(600);
    const t = p.clock.nowSeconds();
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const qr = await qrOf(p, 's-001', 1, t - 5);
    await subscribe(p, 's-001');
    expect((await cardPost(p, card.cardId, 'report-lost')).statusCode).toBe(200);
    p.clock.advance(30);
    const up = await upload(p, 'gate-01', [
      { seq: 1, kind: 'access', occurred_at: at(t - 5), qr_text: qr, decision: 'allowed' },
      { seq: 2, kind: 'access', occurred_at: at(t - 5), uid_hex: card.physicalUidHex, decision: 'allowed' },
      // the gate had not synced yet: it admitted the lost card after the report, and says so
      { seq: 3, kind: 'access', occurred_at: at(t + 20), uid_hex: card.physicalUidHex, decision: 'allowed' },
    ]);
    expect(json(up)).toMatchObject({ accepted: 3 });
    expect((await cardPost(p, card.cardId, 'unlink')).statusCode).toBe(200); // at t + 30
    p.clock.advance(10);
    const later = await upload(p, 'gate-01', [
      // a synced gate turned the revoked (unlinked) card's code away: also the pupil's
      {
        seq: 4,
        kind: 'access',
        occurred_at: at(t + 25),
        qr_text: await qrOf(p, 's-001', 2, t + 25),
        decision: 'denied',
        reason: 'REVOKED',
      },
      // a tap made before the unlink names the card the UID was linked to then: the pupil's
      { seq: 5, kind: 'access', occurred_at: at(t + 25), uid_hex: card.physicalUidHex, decision: 'denied' },
      // the physical UID was let go at the unlink: a tap made since names no card
      { seq: 6, kind: 'access', occurred_at: at(t + 35), uid_hex: card.physicalUidHex, decision: 'denied' },
    ]);
    expect(json(later)).toMatchObject({ accepted: 3 });
    const rows = p.state.db
      .prepare(
        "SELECT seq, person_id, card_id, decision, reason FROM events WHERE device_id = 'gate-01' ORDER BY seq",
      )
      .all();
    expect(rows).toEqual([
      { seq: 1, person_id: 's-001', card_id: card.cardId, decision: 'allowed', reason: null },
      { seq: 2, person_id: 's-001', card_id: card.cardId, decision: 'allowed', reason: null },
      { seq: 3, person_id: 's-001', card_id: card.cardId, decision: 'allowed', reason: null },
      { seq: 4, person_id: 's-001', card_id: card.cardId, decision: 'denied', reason: 'REVOKED' },
      { seq: 5, person_id: 's-001', card_id: card.cardId, decision: 'denied', reason: null },
      { seq: 6, person_id: null, card_id: null, decision: 'denied', reason: 'UNRESOLVED' },
    ]);
    expect(pushes(p).map((x) => x.data.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a code first used by another reader before the report, uploaded after it: code_used_twice, naming both', async () => {
    p = await demoPlatform();
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const qr = await qrOf(p, 's-001', 1);
    const who = await p.app.inject(
      signed(p, deviceSigner(p, 'lib-01'), 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access' }),
    );
    expect(who.statusCode, who.body).toBe(200);
    expect((await cardPost(p, card.cardId, 'report-lost')).statusCode).toBe(200);
    const up = await upload(p, 'gate-01', [
      { seq: 1, kind: 'access', occurred_at: at(T0 / 1000), qr_text: qr, decision: 'allowed' },
    ]);
    expect(json(up)).toMatchObject({ accepted: 1 });
    const incidents = json<{ data: unknown[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/incidents?kind=code_used_twice')),
    ).data;
    expect(incidents).toMatchObject([
      { card_id: card.cardId, device_id: 'gate-01', first_device_id: 'lib-01' },
    ]);
  });

  it('still fail-closed on everything but the status: unknown UID, a code too old or signed by another phone, a card expired at the event', async () => {
    p = await demoPlatform();
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const other = p.demo!.cards.find((c) => c.personId === 's-002')!;
    const t = p.clock.nowSeconds();
    const old = await qrOf(p, 's-001', 1, t - 200);
    // s-001's credential, signed with s-002's phone key
    const forged = encodeQr(
      await createPresentation(
        { credential: fromBase64Url(card.credential)!, t },
        importPrivateJwk(other.holderPrivateJwk),
      ),
    );
    expect((await cardPost(p, card.cardId, 'report-lost')).statusCode).toBe(200);
    // the card expired (at 07:00) before the tap (at 08:00); a tap's UID is judged by the card's
    // history (what it was linked to then, and its expiry then), so the history says so too
    p.state.db.prepare('UPDATE cards SET expires_at = ? WHERE card_id = ?').run(T0 - 3_600_000, card.cardId);
    p.state.db
      .prepare('UPDATE card_history SET expires_at = ? WHERE card_id = ?')
      .run(T0 - 3_600_000, card.cardId);
    const up = await upload(p, 'gate-01', [
      { seq: 1, kind: 'access', occurred_at: at(t), uid_hex: 'deadbeefdeadbeef', decision: 'allowed' },
      { seq: 2, kind: 'access', occurred_at: at(t), qr_text: old, decision: 'allowed' },
      { seq: 3, kind: 'access', occurred_at: at(t), qr_text: forged, decision: 'allowed' },
      { seq: 4, kind: 'access', occurred_at: at(t), uid_hex: card.physicalUidHex, decision: 'allowed' },
    ]);
    expect(json(up)).toMatchObject({ accepted: 4 });
    const rows = p.state.db
      .prepare("SELECT seq, person_id, card_id, reason FROM events WHERE device_id = 'gate-01' ORDER BY seq")
      .all();
    expect(rows).toEqual(
      [1, 2, 3, 4].map((seq) => ({ seq, person_id: null, card_id: null, reason: 'UNRESOLVED' })),
    );
    expect(p.state.db.prepare('SELECT COUNT(*) AS n FROM used_codes').get()).toEqual({ n: 0 });
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

describe('a card tap names the card its UID was linked to at the tap, not at the upload', () => {
  let p: MockPlatform | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });
  const at = (ms: number) => new Date(ms).toISOString();
  const upload = (pf: MockPlatform, events: unknown[]) =>
    pf.app.inject(signed(pf, deviceSigner(pf, 'gate-01'), 'POST', '/v1/events/batches', { events }));
  const people = ['s-001', 'p-001', 's-002', 'p-002', 't-001', 't-002'];
  const subscribeAll = async (pf: MockPlatform) => {
    for (const who of people) {
      const r = await pf.app.inject(
        signed(pf, operator(pf), 'POST', '/v1/webhook-subscriptions', {
          url: `http://127.0.0.1:9/${who}`,
          event_types: ['attendance.recorded'],
          recipient_person_id: who,
        }),
      );
      expect(r.statusCode, r.body).toBe(201);
    }
  };
  const cardPost = (pf: MockPlatform, cardId: string, action: string, body: unknown = {}) =>
    pf.app.inject(signed(pf, operator(pf), 'POST', `/v1/cards/${cardId}/${action}`, body));
  /** Who got an `attendance.recorded` push, and the person it named. */
  const pushed = (pf: MockPlatform) =>
    (
      pf.state.db
        .prepare("SELECT url, body FROM pushes WHERE event_type = 'attendance.recorded' ORDER BY url")
        .all() as { url: string; body: string }[]
    ).map((r) => [
      r.url.split('/').at(-1),
      (JSON.parse(r.body) as { data: { person_id: string } }).data.person_id,
    ]);
  const stored = (pf: MockPlatform) =>
    pf.state.db
      .prepare(
        "SELECT seq, person_id, card_id, class_id, reason FROM events WHERE device_id = 'gate-01' ORDER BY seq",
      )
      .all();

  it("tapped at 08:00, unlinked and its UID linked to another pupil's card at 08:30, uploaded at 09:00: the first pupil's, pushed to them, their parent and teacher", async () => {
    p = await demoPlatform();
    const c1 = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const c2 = p.demo!.cards.find((c) => c.personId === 's-002')!;
    const uid = c1.physicalUidHex!;
    await subscribeAll(p);
    const tap = T0; // 08:00, on the gate, offline
    p.clock.advance(1800);
    expect((await cardPost(p, c1.cardId, 'unlink')).statusCode).toBe(200);
    const link = await cardPost(p, c2.cardId, 'physical-card', { uid_hex: uid, card_number: 'PC-s-001' });
    expect(link.statusCode, link.body).toBe(200);
    p.clock.advance(1800);
    const up = await upload(p, [
      {
        seq: 1,
        kind: 'attendance',
        direction: 'in',
        occurred_at: at(tap),
        uid_hex: uid,
        decision: 'allowed',
      },
      // a tap made since the relink is the other pupil's
      {
        seq: 2,
        kind: 'attendance',
        direction: 'in',
        occurred_at: at(p.clock.now() - 60_000),
        uid_hex: uid,
        decision: 'allowed',
      },
    ]);
    expect(json(up)).toMatchObject({ accepted: 2, duplicates: 0 });
    expect(stored(p)).toEqual([
      { seq: 1, person_id: 's-001', card_id: c1.cardId, class_id: '7-2', reason: null },
      { seq: 2, person_id: 's-002', card_id: c2.cardId, class_id: '7-2', reason: null },
    ]);
    expect(pushed(p)).toEqual([
      ['p-001', 's-001'],
      ['p-002', 's-002'],
      ['s-001', 's-001'],
      ['s-002', 's-002'],
      ['t-001', 's-001'],
      ['t-001', 's-002'],
    ]);
    // and the operator's query tells the same
    const listed = json<{ data: Record<string, unknown>[] }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/events?person_id=s-001')),
    ).data;
    expect(listed).toMatchObject([{ seq: 1, person_id: 's-001', occurred_at: '2026-01-05T08:00:00Z' }]);
  });

  it("tapped at 08:00, unlinked at 08:30 (linked to no card since), uploaded at 09:00: the pupil's; a tap after the unlink is unresolved", async () => {
    p = await demoPlatform();
    const c1 = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const uid = c1.physicalUidHex!;
    await subscribeAll(p);
    p.clock.advance(1800);
    expect((await cardPost(p, c1.cardId, 'unlink')).statusCode).toBe(200);
    p.clock.advance(1800);
    const up = await upload(p, [
      { seq: 1, kind: 'attendance', direction: 'in', occurred_at: at(T0), uid_hex: uid, decision: 'allowed' },
      { seq: 2, kind: 'access', occurred_at: at(T0 + 2_400_000), uid_hex: uid, decision: 'denied' },
    ]);
    expect(json(up)).toMatchObject({ accepted: 2 });
    expect(stored(p)).toEqual([
      { seq: 1, person_id: 's-001', card_id: c1.cardId, class_id: '7-2', reason: null },
      { seq: 2, person_id: null, card_id: null, class_id: null, reason: 'UNRESOLVED' },
    ]);
    expect(pushed(p)).toEqual([
      ['p-001', 's-001'],
      ['s-001', 's-001'],
      ['t-001', 's-001'],
    ]);
  });

  it('a code is judged as before: it names its card after a relink of the physical card, and a code of a phone key replaced since stays unresolved', async () => {
    p = await demoPlatform();
    const c1 = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const c2 = p.demo!.cards.find((c) => c.personId === 's-002')!;
    await subscribeAll(p);
    const code = await qrOf(p, 's-001', 1); // 08:00
    const other = await qrOf(p, 's-002', 1); // 08:00
    p.clock.advance(1800);
    // s-001's physical card goes to s-002's card; s-002's phone key is replaced
    expect(
      (await cardPost(p, c1.cardId, 'physical-card', { uid_hex: 'a1b2c3d4', card_number: 'PC-9' }))
        .statusCode,
    ).toBe(200);
    expect((await cardPost(p, c1.cardId, 'unlink')).statusCode).toBe(200);
    const link = await cardPost(p, c2.cardId, 'physical-card', { uid_hex: 'a1b2c3d4', card_number: 'PC-9' });
    expect(link.statusCode, link.body).toBe(200);
    const renew = await cardPost(p, c2.cardId, 'renew', {
      holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
    });
    expect(renew.statusCode, renew.body).toBe(200);
    p.clock.advance(1800);
    const up = await upload(p, [
      {
        seq: 1,
        kind: 'attendance',
        direction: 'in',
        occurred_at: at(T0),
        qr_text: code,
        decision: 'allowed',
      },
      {
        seq: 2,
        kind: 'attendance',
        direction: 'in',
        occurred_at: at(T0),
        qr_text: other,
        decision: 'allowed',
      },
    ]);
    expect(json(up)).toMatchObject({ accepted: 2 });
    expect(stored(p)).toEqual([
      { seq: 1, person_id: 's-001', card_id: c1.cardId, class_id: '7-2', reason: null },
      { seq: 2, person_id: null, card_id: null, class_id: null, reason: 'UNRESOLVED' },
    ]);
    expect(pushed(p)).toEqual([
      ['p-001', 's-001'],
      ['s-001', 's-001'],
      ['t-001', 's-001'],
    ]);
    // the admitted code is used; the one that did not resolve is not
    expect(p.state.db.prepare('SELECT card_id FROM used_codes').all()).toEqual([{ card_id: c1.cardId }]);
  });
});

describe('an event that names its card twice', () => {
  let p: MockPlatform | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });
  const at = (s: number) => new Date(s * 1000).toISOString();
  const upload = (pf: MockPlatform, device: string, events: unknown[]) =>
    pf.app.inject(signed(pf, deviceSigner(pf, device), 'POST', '/v1/events/batches', { events }));

  it('a code and the UID of a card tap: the code names the card (the code was consumed, yet the event stayed UNRESOLVED)', async () => {
    p = await demoPlatform();
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const t = p.clock.nowSeconds();
    const events = [
      { seq: 1, qr_text: await qrOf(p, 's-001', 1), decision: 'allowed' },
      { seq: 2, qr_text: await qrOf(p, 's-001', 1), decision: 'denied', reason: 'POLICY_DENIED' },
    ].map((e) => ({ ...e, kind: 'access', occurred_at: at(t), uid_hex: card.physicalUidHex }));
    const up = await upload(p, 'gate-01', events);
    expect(json(up)).toMatchObject({ accepted: 2 });
    const rows = p.state.db
      .prepare("SELECT seq, person_id, card_id, reason FROM events WHERE device_id = 'gate-01' ORDER BY seq")
      .all();
    expect(rows).toEqual([
      { seq: 1, person_id: 's-001', card_id: card.cardId, reason: null }, // today: null, null, 'UNRESOLVED'
      { seq: 2, person_id: 's-001', card_id: card.cardId, reason: 'POLICY_DENIED' },
    ]);
    // only the admitted code is used
    expect(p.state.db.prepare('SELECT COUNT(*) AS n FROM used_codes').get()).toEqual({ n: 1 });
  });
});

describe('event times a device cannot have had', () => {
  let p: MockPlatform | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  it('after now, or before the device was registered and over 30 days ago (beyond the 300 s tolerance): 422 ERR_OCCURRED_AT naming the event, nothing stored', async () => {
    p = await demoPlatform();
    const platform = p;
    const gate = deviceSigner(platform, 'gate-01');
    const registered = (
      platform.state.db.prepare("SELECT created_at FROM devices WHERE device_id = 'gate-01'").get() as {
        created_at: number;
      }
    ).created_at;
    const now = platform.clock.now();
    const event = (seq: number, at: number) => ({
      seq,
      kind: 'access',
      direction: 'in',
      occurred_at: new Date(at).toISOString(),
      uid_hex: '04a1b2c3d4e5f6',
      decision: 'allowed',
    });
    const upload = (events: unknown[]) =>
      platform.app.inject(signed(platform, gate, 'POST', '/v1/events/batches', { events }));
    const skip = new Set(['nonces', 'idempotency', 'trust_material']);
    const before = tableDigests(platform, skip);
    const day = 86_400_000;
    expect(registered).toBe(now); // the demo's devices are registered as the platform starts
    for (const [bad, where] of [
      [now + 365 * day, 'after now'],
      [now + 301_000, 'after now'],
      [now - 30 * day - 301_000, 'before the device was registered and more than 30 days ago'],
      [Date.UTC(1970, 0, 1), 'before the device was registered and more than 30 days ago'], // a dead clock battery
    ] as const) {
      const r = await upload([event(1, now - 1_000), event(2, bad), event(3, now)]);
      expect(r.statusCode).toBe(422);
      const problem = json<{ code: string; detail: string; errors: { path: string; message: string }[] }>(r);
      expect(problem.code).toBe('ERR_OCCURRED_AT');
      expect(problem.errors).toEqual([
        { path: 'body/events/1/occurred_at', message: expect.stringContaining(where) },
      ]);
    }
    // the whole batch is refused: the good events too (the device uploads them again, without the bad one)
    expect(changedTables(before, tableDigests(platform, skip))).toEqual([]);
    // a device clock a little ahead (within the tolerance) is no reason to refuse, nor is the
    // backlog of a device registered today, recorded before (a freshly seeded mock)
    const ok = await upload([event(1, now + 299_000), event(2, now - 30 * day), event(3, now - 3_600_000)]);
    expect(ok.statusCode).toBe(200);
    expect(json(ok)).toMatchObject({ accepted: 3, acked_seqs: [1, 2, 3] });
  });
});
