/**
 * A card's validity and the token format's limits (src/domains/cards.ts):
 *
 * - an issuer key rotation signs every card again with its own `iat` and expiry: it extends no
 *   card, and an expired card stays expired, online and at a synced reader;
 * - valid directory data that makes a credential the token format cannot carry (a group over 64
 *   characters, over 600 bytes, a parent naming too many long card ids) is a 422 `ERR_VALIDATION`
 *   naming the field, never a 5xx: no status index taken, no row written; a school id of up to 64
 *   characters still gives card ids of at most 64;
 * - the issuer key's trust-list window does not follow the virtual clock: a clock set back before
 *   the school's creation still issues cards that verify online and offline, and a trust list
 *   stored by an earlier version (its window from the school's creation) is signed again;
 * - a role that does not match the person is a 400 naming `body/role`.
 */
import {
  CARD_STATUS,
  createPresentation,
  decodeCredential,
  decodeTrustList,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  getStatus,
  importPrivateJwk,
  importPublicJwk,
  type Jwk,
  type PrivateKey,
  signTrustList,
  type TrustList,
  verifyCredentialIssuer,
  verifyRoster,
  verifyStatusList,
  verifyTrustList,
} from '@campus-card/core';
import { createVerifier } from '@campus-card/verifier';
import { afterEach, describe, expect, it } from 'vitest';
import { forgetTrustCaches, newCardId, rotateIssuerKey } from '../../src/domains/cards.js';
import type { MockPlatform } from '../../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  type Signer,
  signed,
  tableDigests,
} from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

const DAY_S = 86_400;

interface Card {
  card_id: string;
  school_id: string;
  person_id: string;
  status: string;
  status_index: number;
  issued_at: string;
  expires_at: string;
  credential: string;
}
interface Problem {
  status: number;
  code: string;
  retryable: boolean;
  errors?: { path: string; message: string }[];
}

/** The status index the school's next card takes (a query of its own: the platform caches its statements). */
const nextIndex = (p: MockPlatform, school: string): number | undefined =>
  (
    p.state.db.prepare('SELECT next_status_index AS n FROM school_keys WHERE school_id = ?').get(school) as
      | { n: number }
      | undefined
  )?.n;
const cardOf = (p: MockPlatform, person: string) => p.demo!.cards.find((c) => c.personId === person)!;
const getCard = async (p: MockPlatform, cardId: string) =>
  json<Card>(await p.app.inject(signed(p, operator(p), 'GET', `/v1/cards/${cardId}`)));
const newPhone = () => generateKeyPair('ES256').privateKey;
const issue = (p: MockPlatform, person: string, role: string, phone: PrivateKey = newPhone()) =>
  p.app.inject(
    signed(p, operator(p), 'POST', '/v1/cards', {
      person_id: person,
      role,
      holder_jwk: exportJwk(phone.publicKey),
    }),
  );
const createPerson = async (p: MockPlatform, body: Record<string, unknown>) => {
  const res = await p.app.inject(signed(p, operator(p), 'POST', '/v1/people', body));
  expect(res.statusCode, res.body).toBe(201);
};
const createSchool = async (p: MockPlatform, school_id: string, campuses?: string[]) => {
  const res = await p.app.inject(
    signed(p, operator(p), 'POST', '/v1/schools', {
      school_id,
      name: 'S',
      ...(campuses ? { campuses } : {}),
    }),
  );
  expect(res.statusCode, res.body).toBe(201);
};

/** A fresh QR code of a credential (base64url) with its phone key. */
async function qrFrom(p: MockPlatform, credential: string, key: PrivateKey): Promise<string> {
  return encodeQr(
    await createPresentation(
      { credential: fromBase64Url(credential)!, t: p.clock.nowSeconds(), scene: 1 },
      key,
    ),
  );
}

/** Resolves a code online, as gate-01. */
const resolve = (p: MockPlatform, qr_text: string) =>
  p.app.inject(
    signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/identity/resolve', { qr_text, scene: 'access' }),
  );

/** The demo school's trust material, fetched and verified as a gate does. */
async function material(p: MockPlatform, g: Signer = deviceSigner(p, 'gate-01'), school = 'sch-demo') {
  const get = async (k: string) =>
    new Uint8Array((await p.app.inject(signed(p, g, 'GET', `/v1/schools/${school}/${k}`))).rawPayload);
  const root = json<{ jwk: Jwk }>(await p.app.inject(signed(p, g, 'GET', `/v1/schools/${school}/root-key`)));
  const rootKey = importPublicJwk(root.jwk);
  const bytes = {
    trustList: await get('trust-list'),
    statusList: await get('status-list'),
    roster: await get('roster'),
  };
  const trustList: TrustList = verifyTrustList(bytes.trustList, [rootKey]);
  return { rootKey, bytes, trustList };
}

/** A gate's verifier synced now with the school's published material. */
async function syncedGate(p: MockPlatform) {
  const { rootKey, bytes } = await material(p);
  const now = p.clock.nowSeconds();
  const v = createVerifier({ rootKeys: [rootKey] });
  expect(v.loadTrustList(bytes.trustList, { now })).toMatchObject({ ok: true });
  expect(v.loadStatusList(bytes.statusList, { now })).toMatchObject({ ok: true });
  expect(v.loadRoster(bytes.roster, { now })).toMatchObject({ ok: true });
  return (qr: string) => v.verify(qr, { now, reader: { id: 'gate-01' } });
}

describe('an issuer key rotation keeps every card validity', () => {
  it("an expired card stays expired, online and offline; no card's iat or expiry moves", async () => {
    p = await demoPlatform();
    const s2 = cardOf(p, 's-002');
    const phone = importPrivateJwk(s2.holderPrivateJwk);
    const renewed = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${s2.cardId}/renew`, { validity_days: 1 }),
    );
    expect(renewed.statusCode, renewed.body).toBe(200);
    const short = json<Card>(renewed);
    p.clock.advance(3 * DAY_S);
    const before = await resolve(p, await qrFrom(p, short.credential, phone));
    expect([before.statusCode, json(before).code]).toEqual([422, 'ERR_CREDENTIAL_EXPIRED']);
    const rows = new Map<string, Card>();
    for (const c of p.demo!.cards) rows.set(c.cardId, await getCard(p, c.cardId));

    const r = await rotateIssuerKey(p.state, 'sch-demo');
    expect(r.reissued).toBe(p.demo!.cards.length);

    // every card: a new credential under the new key, with the iat and expiry it had
    const { bytes, trustList } = await material(p);
    for (const [id, was] of rows) {
      const now = await getCard(p, id);
      expect([now.issued_at, now.expires_at, now.status]).toEqual([
        was.issued_at,
        was.expires_at,
        was.status,
      ]);
      expect(now.credential).not.toBe(was.credential);
      const { claims } = await verifyCredentialIssuer(fromBase64Url(now.credential)!, trustList);
      expect([claims.iat * 1000, claims.exp * 1000]).toEqual([
        Date.parse(was.issued_at),
        Date.parse(was.expires_at),
      ]);
    }
    const after = await getCard(p, s2.cardId);
    expect(after.expires_at).toBe(short.expires_at);
    // the roster lists the card with its expiry (past); the status list has it valid: expiry is the credential's
    const roster = verifyRoster(bytes.roster, trustList);
    expect(roster.cards.find((c) => c.cardId === s2.cardId)?.exp).toBe(Date.parse(short.expires_at) / 1000);
    expect(getStatus(verifyStatusList(bytes.statusList, trustList), after.status_index)).toBe(
      CARD_STATUS.valid,
    );

    // refused online and at a reader synced since
    const online = await resolve(p, await qrFrom(p, after.credential, phone));
    expect([online.statusCode, json(online).code]).toEqual([422, 'ERR_CREDENTIAL_EXPIRED']);
    const verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, after.credential, phone))).toMatchObject({
      accepted: false,
      reason: 'EXPIRED',
    });
    // a card still valid passes, with its credential signed again
    const s1 = await getCard(p, cardOf(p, 's-001').cardId);
    const s1Phone = importPrivateJwk(cardOf(p, 's-001').holderPrivateJwk);
    expect(await verify(await qrFrom(p, s1.credential, s1Phone))).toMatchObject({ accepted: true });
  });
});

describe('a credential the token format cannot carry', () => {
  /** The problem of a refused request, and what it changed: no status index, no row. */
  async function refused(
    p: MockPlatform,
    school: string,
    send: () => Promise<{ statusCode: number; body: string }>,
  ) {
    const skip = new Set(['nonces', 'idempotency']);
    const next = () => nextIndex(p, school);
    const index = next();
    const tables = tableDigests(p, skip);
    const res = await send();
    expect(res.statusCode, res.body).toBe(422);
    const problem = json<Problem>(res);
    expect([problem.code, problem.retryable]).toEqual(['ERR_VALIDATION', false]);
    expect(next()).toBe(index);
    expect(changedTables(tables, tableDigests(p, skip))).toEqual([]);
    return problem;
  }

  /** The platform still issues cards: a new teacher of `school` gets one, at the next index. */
  async function stillIssues(p: MockPlatform, school: string, person: string, index: number) {
    await createPerson(p, { school_id: school, person_id: person, kind: 'teacher', name: 'T' });
    const res = await issue(p, person, 'teacher');
    expect(res.statusCode, res.body).toBe(201);
    expect(json<Card>(res).status_index).toBe(index);
  }

  it('a school id of 58 to 64 characters gives card ids of 64 characters at most, distinct per school', async () => {
    p = await demoPlatform();
    const long = `sch-${'a'.repeat(60)}`; // 64
    const twin = `sch-${'a'.repeat(59)}b`; // the same first characters
    const ids: string[] = [];
    for (const school of [long, twin]) {
      await createSchool(p, school);
      await createPerson(p, {
        school_id: school,
        person_id: `t-${school.at(-1)}`,
        kind: 'teacher',
        name: 'T',
      });
      const res = await issue(p, `t-${school.at(-1)}`, 'teacher');
      expect(res.statusCode, res.body).toBe(201);
      const card = json<Card>(res);
      expect(card.card_id.length).toBeLessThanOrEqual(64);
      ids.push(card.card_id);
      const tl = decodeTrustList(
        new Uint8Array(
          (await p.app.inject(signed(p, operator(p), 'GET', `/v1/schools/${school}/trust-list`))).rawPayload,
        ),
      ).trustList;
      const { claims } = await verifyCredentialIssuer(fromBase64Url(card.credential)!, tl);
      expect(claims.cardId).toBe(card.card_id);
      expect((await getCard(p, card.card_id)).school_id).toBe(school);
    }
    expect(ids[0]).not.toBe(ids[1]);
    // ids that fit keep their form; the long form never looks like one
    expect(newCardId('sch-demo', 4)).toBe('sch-demo-000004');
    expect(newCardId('x'.repeat(57), 1)).toBe(`${'x'.repeat(57)}-000001`);
    expect(newCardId('x'.repeat(58), 1)).toMatch(/^x{40}\.[0-9a-f]{16}:000001$/);
    expect(newCardId('x'.repeat(64), 4_294_967_295)).toHaveLength(64);
  });

  it("a group over 64 characters (class_id, campus): 422 naming the person's field, no index, no row", async () => {
    p = await demoPlatform();
    await createPerson(p, {
      school_id: 'sch-demo',
      person_id: 's-long',
      kind: 'student',
      name: 'L',
      class_id: `c${'7'.repeat(59)}`,
    });
    const a = await refused(p, 'sch-demo', () => issue(p, 's-long', 'student'));
    expect(a.errors).toHaveLength(1);
    expect(a.errors?.[0]?.path).toBe('body/person_id');
    expect(a.errors?.[0]?.message).toMatch(/class_id makes the group "class:c7+" 66 characters/);

    await createPerson(p, {
      school_id: 'sch-demo',
      person_id: 't-campus',
      kind: 'teacher',
      name: 'C',
      campus: 'M'.repeat(64),
    });
    const b = await refused(p, 'sch-demo', () => issue(p, 't-campus', 'teacher'));
    expect(b.errors?.map((e) => e.path)).toEqual(['body/person_id']);
    expect(b.errors?.[0]?.message).toMatch(/campus makes the group "campus:M+" 71 characters/);

    const next = nextIndex(p, 'sch-demo') as number;
    await stillIssues(p, 'sch-demo', 't-after', next);

    // the first card of a school without keys yet: refused before any key is made
    await createSchool(p, 'sch-fresh');
    await createPerson(p, {
      school_id: 'sch-fresh',
      person_id: 'f-long',
      kind: 'student',
      name: 'L',
      class_id: `c${'7'.repeat(59)}`,
    });
    await refused(p, 'sch-fresh', () => issue(p, 'f-long', 'student'));
    expect(nextIndex(p, 'sch-fresh')).toBeUndefined();
    await stillIssues(p, 'sch-fresh', 'f-after', 0);
  });

  it('a teacher of 64 classes: the credential would be over 600 bytes: 422, no index, no row', async () => {
    p = await demoPlatform();
    const class_ids = Array.from({ length: 64 }, (_, i) => `class-${String(i).padStart(3, '0')}`);
    await createPerson(p, {
      school_id: 'sch-demo',
      person_id: 't-many',
      kind: 'teacher',
      name: 'M',
      class_ids,
    });
    const problem = await refused(p, 'sch-demo', () => issue(p, 't-many', 'teacher'));
    expect(problem.errors?.map((e) => e.path)).toEqual(['body/person_id']);
    expect(problem.errors?.[0]?.message).toMatch(/credential claims is \d+ bytes; the limit is 600/);
    const next = nextIndex(p, 'sch-demo') as number;
    await stillIssues(p, 'sch-demo', 't-after', next);
  });

  it("a parent's credential naming too many long card ids: the parent's issue, and a student's issue that would add one, are 422", async () => {
    p = await demoPlatform();
    const school = `sch-${'x'.repeat(56)}`; // 60 characters: card ids of 64
    await createSchool(p, school);
    const students = Array.from({ length: 8 }, (_, i) => `ls-${i}`);
    for (const s of students)
      await createPerson(p, { school_id: school, person_id: s, kind: 'student', name: 'S' });
    for (const s of students.slice(0, 6)) {
      const res = await issue(p, s, 'student');
      expect(res.statusCode, res.body).toBe(201);
      expect(json<Card>(res).card_id).toHaveLength(64);
    }
    // a parent of six students with cards: its own credential would not fit
    await createPerson(p, {
      school_id: school,
      person_id: 'lp-all',
      kind: 'parent',
      name: 'P',
      student_ids: students,
    });
    const own = await refused(p, school, () => issue(p, 'lp-all', 'parent'));
    expect(own.errors?.map((e) => e.path)).toEqual(['body/person_id']);
    expect(own.errors?.[0]?.message).toMatch(/^person lp-all: credential .* \d+ bytes; the limit is 600/);

    // a parent of four of them holds a card; a fifth student's card would be one too many for it
    await createPerson(p, {
      school_id: school,
      person_id: 'lp-four',
      kind: 'parent',
      name: 'P',
      student_ids: ['ls-0', 'ls-1', 'ls-2', 'ls-3', 'ls-6'],
    });
    const parent = await issue(p, 'lp-four', 'parent');
    expect(parent.statusCode, parent.body).toBe(201);
    const parentCard = json<Card>(parent);
    expect(decodeCredential(fromBase64Url(parentCard.credential)!).claims.linkedCards).toHaveLength(4);
    const student = await refused(p, school, () => issue(p, 'ls-6', 'student'));
    expect(student.errors?.map((e) => e.path)).toEqual(['body/person_id']);
    expect(student.errors?.[0]?.message).toContain(`parent card ${parentCard.card_id} (person lp-four)`);
    expect(await getCard(p, parentCard.card_id)).toEqual(parentCard);

    // the school still issues: a student no parent card names, a teacher
    const index = nextIndex(p, school) as number;
    const other = await issue(p, 'ls-7', 'student');
    expect(other.statusCode, other.body).toBe(201);
    expect(json<Card>(other).status_index).toBe(index);
    await stillIssues(p, school, 'lt-after', index + 1);
  });
});

describe("a parent's credential the token format cannot carry, on an unlink", () => {
  it('the unlink is a 422 naming the parent card; nothing changes, no index is taken', async () => {
    p = await demoPlatform();
    const school = `sch-${'x'.repeat(56)}`; // card ids of 64 characters
    await createSchool(p, school);
    const students = Array.from({ length: 6 }, (_, i) => `ls-${i}`);
    for (const s of students)
      await createPerson(p, { school_id: school, person_id: s, kind: 'student', name: 'S' });
    await createPerson(p, {
      school_id: school,
      person_id: 'lp',
      kind: 'parent',
      name: 'P',
      student_ids: students,
    });
    const parent = json<Card>(await issue(p, 'lp', 'parent'));
    const first = json<Card>(await issue(p, 'ls-0', 'student'));
    // a database of an earlier version: the parent's credential names ls-0's card only, while five
    // more linked students got cards (issued while the parent card was out of the way)
    const setStatus = p.state.db.prepare('UPDATE cards SET status = ? WHERE card_id = ?');
    setStatus.run('revoked', parent.card_id);
    for (const s of students.slice(1)) expect((await issue(p, s, 'student')).statusCode).toBe(201);
    setStatus.run('active', parent.card_id);
    const held = await getCard(p, parent.card_id);
    expect(decodeCredential(fromBase64Url(held.credential)!).claims.linkedCards).toEqual([first.card_id]);

    const index = nextIndex(p, school);
    const skip = new Set(['nonces', 'idempotency']);
    const tables = tableDigests(p, skip);
    // the parent's new credential would name the other five: over 600 bytes
    const res = await p.app.inject(signed(p, operator(p), 'POST', `/v1/cards/${first.card_id}/unlink`, {}));
    expect(res.statusCode, res.body).toBe(422);
    const problem = json<Problem>(res);
    expect([problem.code, problem.retryable]).toEqual(['ERR_VALIDATION', false]);
    expect(problem.errors?.map((e) => e.path)).toEqual(['params/card_id']);
    expect(problem.errors?.[0]?.message).toContain(`parent card ${parent.card_id} (person lp)`);
    expect(nextIndex(p, school)).toBe(index);
    expect(changedTables(tables, tableDigests(p, skip))).toEqual([]);
    expect((await getCard(p, first.card_id)).status).toBe('active');
  });
});

describe('the virtual clock set back before the school was created', () => {
  const setClock = async (p: MockPlatform, set: string) => {
    const res = await p.app.inject({ method: 'POST', url: '/admin/clock', payload: { set } });
    expect(res.statusCode, res.body).toBe(200);
  };

  it("a new card's code resolves online and verifies offline with the published material; a rotation too", async () => {
    p = await demoPlatform(); // the school was created at T0, 2026-01-05
    await setClock(p, '2025-12-01T00:00:00Z');
    await createPerson(p, { school_id: 'sch-demo', person_id: 's-early', kind: 'student', name: 'E' });
    const phone = newPhone();
    const res = await issue(p, 's-early', 'student', phone);
    expect(res.statusCode, res.body).toBe(201);
    const card = json<Card>(res);
    const online = await resolve(p, await qrFrom(p, card.credential, phone));
    expect(online.statusCode, online.body).toBe(200);
    let verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, card.credential, phone))).toMatchObject({
      accepted: true,
      cardId: card.card_id,
    });

    // the key's window is fixed: not the school's creation, not the clock
    const { trustList } = await material(p);
    expect(trustList.keys.map((k) => [k.nbf, k.exp])).toEqual([
      [0, Date.UTC(9999, 11, 31, 23, 59, 59) / 1000],
    ]);

    // a rotation with the clock set back: the card, signed again with its own iat, still verifies
    await rotateIssuerKey(p.state, 'sch-demo');
    const rotated = await getCard(p, card.card_id);
    expect(rotated.issued_at).toBe(card.issued_at);
    verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, rotated.credential, phone))).toMatchObject({ accepted: true });
    const again = await resolve(p, await qrFrom(p, rotated.credential, phone));
    expect(again.statusCode, again.body).toBe(200);
  });

  it('a trust list stored by an earlier version (its key valid from the school creation) is signed again, at a new version', async () => {
    p = await demoPlatform();
    const { trustList: current } = await material(p);
    // what an earlier version stored: the key valid from a day before the school's creation, for ten years
    const root = importPrivateJwk(
      JSON.parse(
        p.state.db
          .prepare("SELECT root_jwk FROM school_keys WHERE school_id = 'sch-demo'")
          .pluck()
          .get() as string,
      ),
    );
    const created =
      (p.state.db
        .prepare("SELECT created_at FROM schools WHERE school_id = 'sch-demo'")
        .pluck()
        .get() as number) / 1000;
    const nbf = created - DAY_S;
    const old = await signTrustList(
      {
        version: current.version,
        iat: p.clock.nowSeconds(),
        authority: 'sch-demo',
        keys: current.keys.map((k) => ({ ...k, nbf, exp: nbf + 3650 * DAY_S })),
      },
      root,
    );
    p.state.db
      .prepare(
        "UPDATE trust_material SET bytes = ?, etag = ?, iat = ?, dirty = 0 WHERE school_id = 'sch-demo' AND kind = 'trust-list'",
      )
      .run(Buffer.from(old), `"trust-list-v${current.version}-old"`, p.clock.nowSeconds());
    forgetTrustCaches(p.state);

    await setClock(p, '2025-12-01T00:00:00Z');
    const { trustList } = await material(p);
    expect(trustList.version).toBe(current.version + 1);
    expect(trustList.keys.map((k) => k.nbf)).toEqual([0]);
    await createPerson(p, { school_id: 'sch-demo', person_id: 's-early', kind: 'student', name: 'E' });
    const phone = newPhone();
    const card = json<Card>(await issue(p, 's-early', 'student', phone));
    const online = await resolve(p, await qrFrom(p, card.credential, phone));
    expect(online.statusCode, online.body).toBe(200);
    const verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, card.credential, phone))).toMatchObject({ accepted: true });
  });
});

describe('a role the person does not have', () => {
  it('is a 400 ERR_VALIDATION naming body/role', async () => {
    p = await demoPlatform();
    const res = await issue(p, 's-001', 'teacher');
    expect(res.statusCode, res.body).toBe(400);
    const problem = json<Problem>(res);
    expect(problem.code).toBe('ERR_VALIDATION');
    expect(problem.errors?.map((e) => e.path)).toEqual(['body/role']);
  });
});
