/**
 * Identity routes across schools (src/domains/identity.ts): a device resolves codes and card UIDs,
 * and checks permissions, of its own school's cards only. Another school's card is unknown to it:
 * nothing about that card (school, person, status) comes back.
 */
import {
  computeUidHash,
  decodeCredential,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  toHex,
} from '@campus-card/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  schoolB,
  signed,
  tableDigests,
} from '../helpers.js';

let p: MockPlatform | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const usedCodes = (p: MockPlatform) =>
  (p.state.db.prepare('SELECT COUNT(*) AS n FROM used_codes').get() as { n: number }).n;

describe("another school's cards at identity routes", () => {
  it("a UID lookup finds only cards of the caller's school, whatever the stored hash", async () => {
    p = await demoPlatform();
    const gb = await schoolB(p);
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const uid = card.physicalUidHex!;
    // A row of school A that carries the hash school B's readers compute for this UID (a
    // collision, or a row written by hand): the lookup must still not cross schools.
    p.state.db
      .prepare('UPDATE cards SET physical_uid_hash = ? WHERE card_id = ?')
      .run(toHex(computeUidHash('sch-b', new Uint8Array(Buffer.from(uid, 'hex')))), card.cardId);
    const r = await p.app.inject(
      signed(p, gb, 'POST', '/v1/identity/resolve', { uid_hex: uid, scene: 'access' }),
    );
    expect([r.statusCode, json(r).code]).toEqual([422, 'ERR_UNKNOWN_CARD']);
    expect(r.body).not.toContain('s-001');
  });

  it("a code of school A is refused at school B's gate and not consumed; a permission check is 404", async () => {
    p = await demoPlatform();
    const gb = await schoolB(p);
    const before = usedCodes(p);
    const qr = await qrOf(p, 's-001', 1);
    const r = await p.app.inject(
      signed(p, gb, 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access' }),
    );
    expect(r.statusCode).toBe(422);
    expect(r.body).not.toContain('s-001');
    expect(usedCodes(p)).toBe(before);
    // the code still works at its own school
    const own = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access' }),
    );
    expect(own.statusCode, own.body).toBe(200);
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const check = await p.app.inject(
      signed(p, gb, 'POST', '/v1/identity/permissions/check', { card_id: card.cardId, scene: 'access' }),
    );
    expect([check.statusCode, json(check).code]).toEqual([404, 'ERR_NOT_FOUND']);
  });
});

describe('the online identity carries what an offline reader decides on (C2)', () => {
  it("a card's groups: the same as its credential's (and the roster's), so a reader's groups rule decides alike online", async () => {
    p = await demoPlatform();
    const gate = deviceSigner(p, 'gate-01');
    for (const card of p.demo!.cards) {
      const qr = await qrOf(p, card.personId, 1);
      const r = await p.app.inject(
        signed(p, gate, 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access', consume: false }),
      );
      expect(r.statusCode, r.body).toBe(200);
      const claims = decodeCredential(fromBase64Url(card.credential)!).claims;
      const online = json<{ identity: { groups?: string[]; linked_card_ids?: string[] } }>(r).identity;
      expect([card.personId, online.groups]).toEqual([card.personId, claims.groups]);
      // a parent's linked cards: card ids, as the credential has them (not the students' person ids)
      expect([card.personId, online.linked_card_ids]).toEqual([card.personId, claims.linkedCards ?? []]);
    }
    expect(
      p.demo!.cards.some(
        (c) => (decodeCredential(fromBase64Url(c.credential)!).claims.linkedCards ?? []).length > 0,
      ),
    ).toBe(true);
    // e.g. the student s-001 of class 7-2, dorm B3 room 204; the teacher t-001 teaches 7-2
    const s001 = p.demo!.cards.find((c) => c.personId === 's-001')!;
    const byUid = await p.app.inject(
      signed(p, gate, 'POST', '/v1/identity/resolve', { uid_hex: s001.physicalUidHex, scene: 'access' }),
    );
    expect(json<{ identity: { groups: string[] } }>(byUid).identity.groups).toEqual([
      'class:7-2',
      'dorm:B3',
      'room:B3-204',
      'campus:Main',
    ]);
  });
});

describe('permission check at a dorm door', () => {
  it("admits the building's residents whatever its name holds (a hyphen too), as a reader's dorm group rule does", async () => {
    p = await demoPlatform();
    const op = operator(p);
    const person = await p.app.inject(
      signed(p, op, 'POST', '/v1/people', {
        person_id: 's-n1',
        school_id: 'sch-demo',
        kind: 'student',
        name: 'N',
        dorm: 'N-1',
        room: '101',
      }),
    );
    expect(person.statusCode, person.body).toBe(201);
    const card = await p.app.inject(
      signed(p, op, 'POST', '/v1/cards', {
        person_id: 's-n1',
        role: 'student',
        holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
      }),
    );
    expect(card.statusCode, card.body).toBe(201);
    const cardId = json<{ card_id: string }>(card).card_id;
    const lock = deviceSigner(p, 'lock-b3');
    const check = async (zone: string) => {
      const r = await p!.app.inject(
        signed(p!, lock, 'POST', '/v1/identity/permissions/check', {
          card_id: cardId,
          scene: 'access',
          zone,
        }),
      );
      expect(r.statusCode, r.body).toBe(200);
      return json<{ allowed: boolean; reason: string }>(r);
    };
    expect(await check('dorm:N-1')).toMatchObject({ allowed: true, reason: 'OK' });
    expect(await check('dorm:N-1-101')).toMatchObject({ allowed: true, reason: 'OK' });
    expect(await check('dorm:N-2')).toMatchObject({ allowed: false, reason: 'NOT_RESIDENT' });
    expect(await check('dorm:N')).toMatchObject({ allowed: false, reason: 'NOT_RESIDENT' });
    expect(await check('dorm:B3')).toMatchObject({ allowed: false, reason: 'NOT_RESIDENT' });
    // a resident of a building named `N`, beside `N-1`: N-1's doors are not N's rooms
    const n = await p.app.inject(
      signed(p, op, 'POST', '/v1/people', {
        person_id: 's-n',
        school_id: 'sch-demo',
        kind: 'student',
        name: 'M',
        dorm: 'N',
        room: '101',
      }),
    );
    expect(n.statusCode, n.body).toBe(201);
    const nCard = await p.app.inject(
      signed(p, op, 'POST', '/v1/cards', {
        person_id: 's-n',
        role: 'student',
        holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
      }),
    );
    const nCardId = json<{ card_id: string }>(nCard).card_id;
    const checkN = async (zone: string) =>
      json<{ allowed: boolean; reason: string }>(
        await p!.app.inject(
          signed(p!, lock, 'POST', '/v1/identity/permissions/check', {
            card_id: nCardId,
            scene: 'access',
            zone,
          }),
        ),
      );
    expect(await checkN('dorm:N')).toMatchObject({ allowed: true, reason: 'OK' });
    expect(await checkN('dorm:N-2')).toMatchObject({ allowed: true, reason: 'OK' }); // no building N-2: N's wing 2
    expect(await checkN('dorm:N-1')).toMatchObject({ allowed: false, reason: 'NOT_RESIDENT' });
    expect(await checkN('dorm:N-1-101')).toMatchObject({ allowed: false, reason: 'NOT_RESIDENT' });
    expect(await check('dorm:N-1-101')).toMatchObject({ allowed: true, reason: 'OK' });
    // the demo's B3 residents as before
    const s001 = p.demo!.cards.find((c) => c.personId === 's-001')!.cardId;
    const r = await p.app.inject(
      signed(p, lock, 'POST', '/v1/identity/permissions/check', { card_id: s001, scene: 'access' }),
    );
    expect(json(r)).toMatchObject({ zone: 'dorm:B3', allowed: true });
  });
});

describe('a code already used, resolved without consuming it (C3: dead once read)', () => {
  it('is 409 ERR_CODE_ALREADY_USED and reveals no one, wherever it was used; a fresh code still peeks', async () => {
    p = await demoPlatform();
    const gate = deviceSigner(p, 'gate-01');
    const lib = deviceSigner(p, 'lib-01');
    const peek = (dev: typeof gate, qr: string) =>
      p!.app.inject(
        signed(p!, dev, 'POST', '/v1/identity/resolve', { qr_text: qr, scene: 'access', consume: false }),
      );
    // a fresh code peeks (200) and stays unused: it is then read once, for real
    const fresh = await qrOf(p, 's-002', 1);
    expect((await peek(lib, fresh)).statusCode).toBe(200);
    expect(usedCodes(p)).toBe(0);
    const read = await p.app.inject(
      signed(p, gate, 'POST', '/v1/identity/resolve', { qr_text: fresh, scene: 'access' }),
    );
    expect(read.statusCode, read.body).toBe(200);
    // now dead: a peek at another device, or at the one that read it, names no one
    for (const dev of [lib, gate]) {
      const again = await peek(dev, fresh);
      expect([dev.id, again.statusCode, json(again).code]).toEqual([dev.id, 409, 'ERR_CODE_ALREADY_USED']);
      expect(again.body).not.toContain('s-002');
    }
    // a code paid with at a POS is dead too
    const paid = await qrOf(p, 's-001', 2);
    const pos = deviceSigner(p, 'pos-01');
    const pay = await p.app.inject(
      signed(p, pos, 'POST', '/v1/payments', { out_trade_no: 'PEEK-1', amount: 100, qr_text: paid }),
    );
    expect(pay.statusCode, pay.body).toBe(201);
    const before = tableDigests(p, new Set(['nonces', 'idempotency']));
    const afterPay = await peek(gate, paid);
    expect([afterPay.statusCode, json(afterPay).code]).toEqual([409, 'ERR_CODE_ALREADY_USED']);
    expect(afterPay.body).not.toContain('张三');
    expect(changedTables(before, tableDigests(p, new Set(['nonces', 'idempotency'])))).toEqual([]);
  });
});

describe('permission check zone', () => {
  it('an empty zone is 400 ERR_VALIDATION naming body/zone, not a decision for a zone named ""', async () => {
    p = await demoPlatform();
    const card = p.demo!.cards.find((c) => c.personId === 's-001')!.cardId;
    const r = await p.app.inject(
      signed(p, deviceSigner(p, 'lock-b3'), 'POST', '/v1/identity/permissions/check', {
        card_id: card,
        scene: 'access',
        zone: '',
      }),
    );
    expect([r.statusCode, json(r).code]).toEqual([400, 'ERR_VALIDATION']);
    expect(json<{ errors: { path: string }[] }>(r).errors.map((e) => e.path)).toEqual(['body/zone']);
    // the body is judged before any card is looked up
    const unknown = await p.app.inject(
      signed(p, deviceSigner(p, 'lock-b3'), 'POST', '/v1/identity/permissions/check', {
        card_id: 'no-such-card',
        scene: 'access',
        zone: '',
      }),
    );
    expect([unknown.statusCode, json(unknown).code]).toEqual([400, 'ERR_VALIDATION']);
  });
});

describe('a principal that may not call an identity route', () => {
  it('is told so in its own words: 403, "an operator may not call resolveIdentity", the code not consumed', async () => {
    p = await demoPlatform();
    const qr = await qrOf(p, 's-001');
    const res = await p.app.inject(signed(p, operator(p), 'POST', '/v1/identity/resolve', { qr_text: qr }));
    expect([res.statusCode, json(res).code, json(res).detail]).toEqual([
      403,
      'ERR_FORBIDDEN',
      'an operator may not call resolveIdentity',
    ]);
    expect(usedCodes(p)).toBe(0);
  });
});
