/**
 * Events that name their card by `card_id` (src/domains/attendance.ts `uploadEvents`), fourth
 * audit. The gate client names the card whenever its decision does (an offline QR scan, a card tap
 * resolved by its roster), so most events take this path; they are judged as a code's or a UID's
 * card is, by the card's history at `occurred_at`, whatever its status:
 * - a card expired at `occurred_at` (renewed since or not) leaves the event unresolved;
 * - so does a card issued after `occurred_at` (beyond the 300 s clock tolerance): a reader cannot
 *   have read it then (a card id from another platform, a mock started anew, names someone else
 *   here); only a reader's backlog from before its registration may name a card the platform
 *   issued with the reader (a school seeded or onboarded at once).
 */
import { exportJwk, generateKeyPair } from '@campus-card/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, signed, T0 } from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();
const upload = (pf: MockPlatform, events: unknown[]) =>
  pf.app.inject(signed(pf, deviceSigner(pf, 'gate-01'), 'POST', '/v1/events/batches', { events }));
const ev = (seq: number, card: string, at: number) => ({
  seq,
  kind: 'attendance',
  direction: 'in',
  occurred_at: iso(at),
  card_id: card,
  decision: 'allowed',
});
const stored = (pf: MockPlatform) =>
  pf.state.db
    .prepare("SELECT seq, person_id, card_id, reason FROM events WHERE device_id = 'gate-01' ORDER BY seq")
    .all();
const pushed = (pf: MockPlatform) =>
  (
    pf.state.db.prepare("SELECT body FROM pushes WHERE event_type = 'attendance.recorded'").all() as {
      body: string;
    }[]
  ).map((r) => (JSON.parse(r.body) as { data: { seq: number } }).data.seq);

/** A new pupil of class 7-2 with a card of `days` days, issued now; returns the card's id. */
async function newPupil(pf: MockPlatform, id: string, days: number): Promise<string> {
  const op = operator(pf);
  const person = await pf.app.inject(
    signed(pf, op, 'POST', '/v1/people', {
      school_id: 'sch-demo',
      person_id: id,
      kind: 'student',
      name: id,
      class_id: '7-2',
    }),
  );
  expect(person.statusCode, person.body).toBe(201);
  const card = await pf.app.inject(
    signed(pf, op, 'POST', '/v1/cards', {
      person_id: id,
      role: 'student',
      holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
      validity_days: days,
    }),
  );
  expect(card.statusCode, card.body).toBe(201);
  await pf.app.inject(
    signed(pf, op, 'POST', '/v1/webhook-subscriptions', {
      url: `http://127.0.0.1:9/${id}`,
      event_types: ['attendance.recorded'],
      recipient_person_id: id,
    }),
  );
  return json<{ card_id: string }>(card).card_id;
}

describe('an event naming a card by card_id', () => {
  it('expired at occurred_at, renewed since: unresolved, as a code or a tap of it; named while it was valid', async () => {
    p = await demoPlatform();
    const card = await newPupil(p, 'sx-1', 1); // valid from 08:00 for one day
    p.clock.set(T0 + DAY + 30 * MIN);
    const renew = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${card}/renew`, { validity_days: 30 }),
    );
    expect(renew.statusCode, renew.body).toBe(200);
    p.clock.set(T0 + DAY + HOUR);
    const up = await upload(p, [
      ev(1, card, T0 + DAY - 10 * MIN), // valid
      ev(2, card, T0 + DAY + 10 * MIN), // expired then, renewed at +30 min
      ev(3, card, T0 + DAY + 40 * MIN), // after the renewal
    ]);
    expect(json(up)).toMatchObject({ accepted: 3 });
    expect(stored(p)).toEqual([
      { seq: 1, person_id: 'sx-1', card_id: card, reason: null },
      { seq: 2, person_id: null, card_id: null, reason: 'UNRESOLVED' },
      { seq: 3, person_id: 'sx-1', card_id: card, reason: null },
    ]);
    expect(pushed(p).sort()).toEqual([1, 3]);
  });

  it('issued after occurred_at: unresolved beyond the 300 s tolerance; a backlog from before the reader was registered names a card issued with it', async () => {
    p = await demoPlatform(); // the gate and the demo cards: 08:00
    p.clock.set(T0 + HOUR);
    const card = await newPupil(p, 'sx-2', 30); // issued 09:00
    p.clock.set(T0 + 2 * HOUR);
    const demoCard = p.demo!.cards.find((c) => c.personId === 's-001')!.cardId;
    const up = await upload(p, [
      ev(1, card, T0 + 30 * MIN), // 08:30: the card did not exist
      ev(2, card, T0 + HOUR - 200_000), // within the tolerance of its issue
      ev(3, card, T0 + HOUR + MIN),
      ev(4, card, T0 - 30 * MIN), // backlog of 07:30, but the card came after the reader
      ev(5, demoCard, T0 - 30 * MIN), // backlog of 07:30: card and reader seeded together
    ]);
    expect(json(up)).toMatchObject({ accepted: 5 });
    expect(stored(p)).toEqual([
      { seq: 1, person_id: null, card_id: null, reason: 'UNRESOLVED' },
      { seq: 2, person_id: 'sx-2', card_id: card, reason: null },
      { seq: 3, person_id: 'sx-2', card_id: card, reason: null },
      { seq: 4, person_id: null, card_id: null, reason: 'UNRESOLVED' },
      { seq: 5, person_id: 's-001', card_id: demoCard, reason: null },
    ]);
    expect(
      pushed(p)
        .filter((s) => s !== 5)
        .sort(),
    ).toEqual([2, 3]);
  });
});

describe('two events under one seq in one batch', () => {
  it('naming the card differently (a card and an unknown UID, two unknown UIDs) are two events: 409 ERR_CONFLICT naming the second, nothing stored', async () => {
    p = await demoPlatform();
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!.cardId;
    const base = { seq: 7, kind: 'access', occurred_at: iso(T0), decision: 'denied', reason: 'UNKNOWN_CARD' };
    for (const [a, b] of [
      [{ card_id: card }, { uid_hex: 'deadbeefdeadbeef' }],
      [{ uid_hex: 'deadbeefdeadbeef' }, { uid_hex: '0badc0de0badc0de' }],
    ]) {
      const r = await upload(p, [
        { ...base, ...a },
        { ...base, seq: 8 },
        { ...base, ...b },
      ]);
      expect(r.statusCode, r.body).toBe(409);
      expect(json(r)).toMatchObject({
        code: 'ERR_CONFLICT',
        errors: [{ path: 'body/events/2/seq', message: expect.stringContaining('events/0') }],
      });
    }
    expect(stored(p)).toEqual([]);
    // the same event twice is still one: stored once, and its seq acknowledged once per event sent
    const same = { ...base, uid_hex: 'deadbeefdeadbeef' };
    const r = await upload(p, [same, { ...same }]);
    expect(json(r)).toEqual({ accepted: 1, duplicates: 1, acked_seqs: [7, 7], max_seq: 7 });
    expect(stored(p)).toHaveLength(1);
  });
});
