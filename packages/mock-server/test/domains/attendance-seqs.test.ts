/**
 * Event uploads keyed by `(device_id, seq)`, the one-use registry seen from one reader, and the
 * `occurred_at` bound at its limit (issue 4 §2 "Attendance and access"; src/domains/attendance.ts
 * `uploadEvents`):
 * - the same event sent again (a lost answer, a replayed batch, an overlapping batch) is a
 *   duplicate: stored once, pushed once, acknowledged;
 * - another event under a seq already stored, or twice in one batch, is 409 `ERR_CONFLICT` naming
 *   it, and the batch stores nothing: acknowledged as a duplicate, the device would drop it;
 * - a code admitted twice by the same reader is a second use (`code_used_twice`), unless the first
 *   use was that reader's own online resolve of the scan it uploads;
 * - an `occurred_at` a fraction of a millisecond beyond the 300 s tolerance is beyond it.
 */
import { exportJwk, generateKeyPair } from '@campus-card/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  type Signer,
  schoolB,
  signed,
  T0,
  tableDigests,
} from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const AT = new Date(T0).toISOString();
const SKIP = new Set(['nonces', 'idempotency', 'trust_material']);
/**
 * {@link SKIP}, and the pushes, whose delivery attempts (to nobody listening) go on meanwhile, with
 * the push-signing key the first attempt makes.
 */
const SKIP_PUSHES = new Set([...SKIP, 'pushes', 'platform_keys']);
const upload = (pf: MockPlatform, device: string | Signer, events: unknown[]) =>
  pf.app.inject(
    signed(pf, typeof device === 'string' ? deviceSigner(pf, device) : device, 'POST', '/v1/events/batches', {
      events,
    }),
  );
const cardOf = (pf: MockPlatform, person: string) =>
  pf.demo!.cards.find((c) => c.personId === person)!.cardId;
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
/** Who got an `attendance.recorded` push, for whose event: "recipient <- person device#seq". */
const pushed = (pf: MockPlatform) =>
  (
    pf.state.db
      .prepare("SELECT url, body FROM pushes WHERE event_type = 'attendance.recorded' ORDER BY url, rowid")
      .all() as { url: string; body: string }[]
  ).map((r) => {
    const d = (JSON.parse(r.body) as { data: { person_id: string; device_id: string; seq: number } }).data;
    return `${r.url.split('/').at(-1)} <- ${d.person_id} ${d.device_id}#${d.seq}`;
  });
const incidents = async (pf: MockPlatform) =>
  json<{ data: Record<string, unknown>[] }>(
    await pf.app.inject(signed(pf, operator(pf), 'GET', '/v1/incidents?kind=code_used_twice')),
  ).data;

describe('the same seq sent again', () => {
  const ev = (pf: MockPlatform, seq: number, person: string, extra: object = {}) => ({
    seq,
    kind: 'attendance',
    direction: 'in',
    occurred_at: AT,
    card_id: cardOf(pf, person),
    decision: 'allowed',
    ...extra,
  });

  it('the same event, replayed or in an overlapping batch, is a duplicate: stored once, pushed once, acknowledged', async () => {
    p = await demoPlatform();
    for (const who of ['s-001', 'p-001', 't-001']) await subscribe(p, who);
    const first = await upload(p, 'gate-01', [ev(p, 1, 's-001'), ev(p, 2, 's-001', { direction: 'out' })]);
    expect(json(first)).toEqual({ accepted: 2, duplicates: 0, acked_seqs: [1, 2], max_seq: 2 });
    const pushes = pushed(p);
    expect(pushes).toHaveLength(6);
    // replayed whole (a new Idempotency-Key: not an idempotent replay of the answer)
    const replay = await upload(p, 'gate-01', [ev(p, 1, 's-001'), ev(p, 2, 's-001', { direction: 'out' })]);
    expect(json(replay)).toEqual({ accepted: 0, duplicates: 2, acked_seqs: [1, 2], max_seq: 2 });
    // overlapping: one old, one new, and the new one twice in the batch (its keys, and its audit's,
    // in another order)
    const audit = {
      trust_list: null,
      status_list: null,
      roster: null,
      last_sync_at: null,
      clock: AT,
      floor: null,
    };
    const three = ev(p, 3, 's-001', { audit });
    const reverse = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).reverse());
    const reordered = reverse({ ...three, audit: reverse(audit) });
    const overlap = await upload(p, 'gate-01', [ev(p, 2, 's-001', { direction: 'out' }), three, reordered]);
    expect(json(overlap)).toEqual({ accepted: 1, duplicates: 2, acked_seqs: [2, 3, 3], max_seq: 3 });
    expect(
      p.state.db.prepare("SELECT seq FROM events WHERE device_id = 'gate-01' ORDER BY seq").all(),
    ).toEqual([{ seq: 1 }, { seq: 2 }, { seq: 3 }]);
    // three events, each pushed once to the pupil, the parent and the class teacher
    expect(pushed(p)).toHaveLength(9);
  });

  it('another event under a seq already stored: 409 ERR_CONFLICT naming it, the batch stores and pushes nothing', async () => {
    p = await demoPlatform();
    for (const who of ['s-001', 's-002', 'p-001', 'p-002', 't-001']) await subscribe(p, who);
    const first = await upload(p, 'gate-01', [ev(p, 1, 's-001'), ev(p, 2, 's-001')]);
    expect(json(first)).toMatchObject({ accepted: 2 });
    const before = tableDigests(p, SKIP_PUSHES);
    const pushesBefore = pushed(p);
    // a gate that lost its outbox numbers from 1 again: its new events must not be taken for the old ones
    for (const [other, differs] of [
      [ev(p, 2, 's-002'), 'card'],
      [ev(p, 2, 's-001', { occurred_at: new Date(T0 - 60_000).toISOString() }), 'occurred_at'],
      [ev(p, 2, 's-001', { decision: 'denied', reason: 'POLICY_DENIED' }), 'decision'],
      [ev(p, 2, 's-001', { direction: 'out' }), 'direction'],
      [ev(p, 2, 's-001', { kind: 'pickup' }), 'kind'],
      [ev(p, 2, 's-001', { zone: 'gate:east' }), 'zone'],
      [ev(p, 2, 's-001', { item_id: 'book-1' }), 'item_id'],
    ] as const) {
      const r = await upload(p, 'gate-01', [ev(p, 3, 's-002'), other]);
      expect(r.statusCode, r.body).toBe(409);
      const problem = json<{ code: string; retryable: boolean; errors: { path: string; message: string }[] }>(
        r,
      );
      expect(problem).toMatchObject({ code: 'ERR_CONFLICT', retryable: false });
      expect(problem.errors).toEqual([
        { path: 'body/events/1/seq', message: expect.stringContaining(differs) },
      ]);
    }
    // nothing stored, used or pushed: not seq 3 either, which the device sends again
    expect(changedTables(before, tableDigests(p, SKIP_PUSHES))).toEqual([]);
    expect(pushed(p)).toEqual(pushesBefore);
    const again = await upload(p, 'gate-01', [ev(p, 3, 's-002')]);
    expect(json(again)).toEqual({ accepted: 1, duplicates: 0, acked_seqs: [3], max_seq: 3 });
  });

  it('two events under one seq in one batch: 409 ERR_CONFLICT naming the second, nothing stored', async () => {
    p = await demoPlatform();
    await subscribe(p, 's-002');
    const before = tableDigests(p, SKIP);
    const r = await upload(p, 'gate-01', [ev(p, 7, 's-001'), ev(p, 8, 's-001'), ev(p, 7, 's-002')]);
    expect(r.statusCode, r.body).toBe(409);
    expect(json(r)).toMatchObject({
      code: 'ERR_CONFLICT',
      errors: [{ path: 'body/events/2/seq', message: expect.stringContaining('events/0') }],
    });
    expect(changedTables(before, tableDigests(p, SKIP))).toEqual([]);
    expect(pushed(p)).toEqual([]);
  });

  it('an admitted code sent again after its phone key was replaced (it no longer resolves) is still a duplicate, used once', async () => {
    p = await demoPlatform();
    await subscribe(p, 's-001');
    const event = {
      seq: 1,
      kind: 'access',
      occurred_at: AT,
      qr_text: await qrOf(p, 's-001', 1),
      decision: 'allowed',
    };
    expect(json(await upload(p, 'gate-01', [event]))).toMatchObject({ accepted: 1 });
    const renew = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${cardOf(p, 's-001')}/renew`, {
        holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
      }),
    );
    expect(renew.statusCode, renew.body).toBe(200);
    const again = await upload(p, 'gate-01', [event]);
    expect(json(again)).toEqual({ accepted: 0, duplicates: 1, acked_seqs: [1], max_seq: 1 });
    expect(p.state.db.prepare("SELECT person_id FROM events WHERE device_id = 'gate-01'").all()).toEqual([
      { person_id: 's-001' },
    ]);
    expect(pushed(p)).toEqual(['s-001 <- s-001 gate-01#1']);
    expect(await incidents(p)).toEqual([]);
  });

  it('seqs 0 and 2^53 − 1 are stored and deduplicated like any other', async () => {
    p = await demoPlatform();
    const top = Number.MAX_SAFE_INTEGER;
    const events = [ev(p, 0, 's-001'), ev(p, top, 's-002')];
    expect(json(await upload(p, 'gate-01', events))).toEqual({
      accepted: 2,
      duplicates: 0,
      acked_seqs: [0, top],
      max_seq: top,
    });
    expect(json(await upload(p, 'gate-01', events))).toEqual({
      accepted: 0,
      duplicates: 2,
      acked_seqs: [0, top],
      max_seq: top,
    });
    expect((await upload(p, 'gate-01', [ev(p, top, 's-001')])).statusCode).toBe(409);
    expect((await upload(p, 'gate-01', [ev(p, top + 1, 's-001')])).statusCode).toBe(400);
    expect((await upload(p, 'gate-01', [ev(p, -1, 's-001')])).statusCode).toBe(400);
  });
});

describe('a code admitted twice by the same reader', () => {
  const scan = (seq: number, qr: string, decision = 'allowed') => ({
    seq,
    kind: 'access',
    occurred_at: AT,
    qr_text: qr,
    decision,
  });

  it('in two events (two batches, or one): a second use, reported naming the reader both times', async () => {
    p = await demoPlatform();
    const qr = await qrOf(p, 's-001', 1);
    expect(json(await upload(p, 'gate-01', [scan(1, qr)]))).toMatchObject({ accepted: 1 });
    expect(await incidents(p)).toEqual([]);
    // the gate lost its replay cache (a restart) and admitted the same screenshot again
    expect(json(await upload(p, 'gate-01', [scan(2, qr)]))).toMatchObject({ accepted: 1 });
    expect(await incidents(p)).toMatchObject([
      {
        kind: 'code_used_twice',
        source: 'attendance',
        card_id: cardOf(p, 's-001'),
        device_id: 'gate-01',
        first_device_id: 'gate-01',
        seq: 2,
      },
    ]);
    // in one batch too; a denied scan of the code is no use
    const other = await qrOf(p, 's-002', 1);
    const up = await upload(p, 'lib-01', [scan(1, other), scan(2, other, 'denied'), scan(3, other)]);
    expect(json(up)).toMatchObject({ accepted: 3 });
    expect((await incidents(p)).slice(1)).toMatchObject([
      { card_id: cardOf(p, 's-002'), device_id: 'lib-01', first_device_id: 'lib-01', seq: 3 },
    ]);
  });

  it('resolved online, then uploaded: one use; admitted once more by the same reader: a second use', async () => {
    p = await demoPlatform();
    const gate = deviceSigner(p, 'gate-01');
    const qr = await qrOf(p, 's-001', 1);
    const who = await p.app.inject(
      signed(p, gate, 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access' }),
    );
    expect(who.statusCode, who.body).toBe(200);
    expect(json(await upload(p, 'gate-01', [scan(1, qr)]))).toMatchObject({ accepted: 1 });
    expect(await incidents(p)).toEqual([]);
    // the same upload sent again is no use at all
    expect(json(await upload(p, 'gate-01', [scan(1, qr)]))).toMatchObject({ duplicates: 1 });
    expect(await incidents(p)).toEqual([]);
    expect(json(await upload(p, 'gate-01', [scan(2, qr)]))).toMatchObject({ accepted: 1 });
    expect(await incidents(p)).toMatchObject([{ device_id: 'gate-01', first_device_id: 'gate-01', seq: 2 }]);
  });
});

describe('occurred_at at the clock tolerance', () => {
  it('300 s after now is accepted; a fraction of a millisecond more is 422 ERR_OCCURRED_AT, nothing stored', async () => {
    p = await demoPlatform();
    const limit = new Date(p.clock.now() + 300_000).toISOString(); // …T08:05:00.000Z
    const event = (seq: number, at: string) => ({ seq, kind: 'access', occurred_at: at, decision: 'denied' });
    const before = tableDigests(p, SKIP);
    for (const beyond of [limit.replace('.000Z', '.0001Z'), limit.replace('.000Z', '.000000001Z')]) {
      const r = await upload(p, 'gate-01', [event(1, beyond)]);
      expect(r.statusCode, r.body).toBe(422);
      expect(json(r)).toMatchObject({
        code: 'ERR_OCCURRED_AT',
        errors: [{ path: 'body/events/0/occurred_at', message: expect.stringContaining('after now') }],
      });
    }
    expect(changedTables(before, tableDigests(p, SKIP))).toEqual([]);
    const ok = await upload(p, 'gate-01', [event(1, limit), event(2, limit.replace('.000Z', '.0000Z'))]);
    expect(json(ok)).toMatchObject({ accepted: 2 });
  });
});

describe('pushes of a class name two schools share', () => {
  it("each event is pushed once to the pupil, their parents and class teachers of the pupil's school, never to the other school's 7-2", async () => {
    p = await demoPlatform();
    const gateB = await schoolB(p);
    const post = async (url: string, body: object) => {
      const r = await p!.app.inject(signed(p!, operator(p!), 'POST', url, body));
      expect(r.statusCode, r.body).toBe(201);
      return json<{ card_id: string }>(r);
    };
    await post('/v1/people', {
      school_id: 'sch-b',
      person_id: 'sb-1',
      kind: 'student',
      name: 'B',
      class_id: '7-2',
    });
    await post('/v1/people', {
      school_id: 'sch-b',
      person_id: 'tb-1',
      kind: 'teacher',
      name: 'B',
      class_ids: ['7-2'],
    });
    await post('/v1/people', {
      school_id: 'sch-b',
      person_id: 'pb-1',
      kind: 'parent',
      name: 'B',
      student_ids: ['sb-1'],
    });
    const cardB = (
      await post('/v1/cards', {
        person_id: 'sb-1',
        role: 'student',
        holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
      })
    ).card_id;
    for (const who of ['s-001', 's-002', 'p-001', 'p-002', 't-001', 't-002', 'sb-1', 'pb-1', 'tb-1'])
      await subscribe(p, who);
    const ev = (seq: number, card: string) => ({
      seq,
      kind: 'attendance',
      direction: 'in',
      occurred_at: AT,
      card_id: card,
      decision: 'allowed',
    });
    // each gate also names the other school's card: unresolved, pushed to nobody
    const a = [ev(1, cardOf(p, 's-001')), ev(2, cardB)];
    const b = [ev(1, cardB), ev(2, cardOf(p, 's-001'))];
    expect(json(await upload(p, 'gate-01', a))).toMatchObject({ accepted: 2 });
    expect(json(await upload(p, gateB, b))).toMatchObject({ accepted: 2 });
    // sent again: nothing more
    expect(json(await upload(p, 'gate-01', a))).toMatchObject({ duplicates: 2 });
    expect(json(await upload(p, gateB, b))).toMatchObject({ duplicates: 2 });
    expect(pushed(p)).toEqual([
      'p-001 <- s-001 gate-01#1',
      'pb-1 <- sb-1 gate-b#1',
      's-001 <- s-001 gate-01#1',
      'sb-1 <- sb-1 gate-b#1',
      't-001 <- s-001 gate-01#1',
      'tb-1 <- sb-1 gate-b#1',
    ]);
    expect(
      p.state.db
        .prepare('SELECT device_id, seq, person_id, class_id FROM events ORDER BY device_id, seq')
        .all(),
    ).toEqual([
      { device_id: 'gate-01', seq: 1, person_id: 's-001', class_id: '7-2' },
      { device_id: 'gate-01', seq: 2, person_id: null, class_id: null },
      { device_id: 'gate-b', seq: 1, person_id: 'sb-1', class_id: '7-2' },
      { device_id: 'gate-b', seq: 2, person_id: null, class_id: null },
    ]);
    // a gate of one school never sees the other's events, whatever it asks for
    const seen = json<{ data: { device_id: string }[] }>(
      await p.app.inject(signed(p, gateB, 'GET', '/v1/events?class_id=7-2')),
    ).data;
    expect(seen.map((e) => e.device_id)).toEqual(['gate-b']);
    // the operator asks for one school's 7-2 by naming the school
    const byOperator = async (query: string) =>
      json<{ data: { device_id: string; seq: number }[] }>(
        await p!.app.inject(signed(p!, operator(p!), 'GET', `/v1/events?${query}`)),
      ).data.map((e) => `${e.device_id}#${e.seq}`);
    expect(await byOperator('class_id=7-2')).toEqual(['gate-01#1', 'gate-b#1']);
    expect(await byOperator('class_id=7-2&school_id=sch-demo')).toEqual(['gate-01#1']);
    expect(await byOperator('class_id=7-2&school_id=sch-b')).toEqual(['gate-b#1']);
    expect(await byOperator('school_id=sch-b')).toEqual(['gate-b#1', 'gate-b#2']);
    expect(await byOperator('school_id=sch-nope')).toEqual([]);
  });
});
