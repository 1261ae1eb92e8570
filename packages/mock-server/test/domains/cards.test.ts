/**
 * Card renewal and unlinking (issue 4 §2, src/domains/cards.ts).
 *
 * Renew: same card id, status index and (unless a new one is given) phone key; a new credential
 * signed by the school issuer, issued now, valid for the same number of days as before (or
 * `validity_days`); the roster gets a new version, the status list does not (nothing in it changed).
 *
 * Unlink: the card becomes `revoked`, the signed status list gets a new version (new ETag) with
 * the card's index set to revoked, the roster drops the card, codes of the card are refused
 * (422 ERR_REVOKED, from the status list), the card lets go of its physical card (its UID names no
 * card: 422 ERR_UNKNOWN_CARD, until it is linked to the holder's next card), and no later status
 * change or renewal is possible (409); the person may be issued a new card.
 *
 * A parent's credential follows its linked students' cards: an unlink of one signs it again
 * without the card, under a new status index (the old one revoked); an issue signs it again with
 * the new card, under the same index.
 *
 * A physical card link signs the card's credential again with the card number (`physicalCard`),
 * under the same index. An issuer key rotation keeps what card changes commit while it signs: it
 * signs those cards again from their new rows, under the new key.
 */
import { randomUUID } from 'node:crypto';
import {
  CARD_STATUS,
  createPresentation,
  decodeCredential,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  getStatus,
  importPrivateJwk,
  importPublicJwk,
  issueCredential,
  type Jwk,
  type PrivateKey,
  type TrustList,
  toBase64Url,
  verifyCredentialIssuer,
  verifyRoster,
  verifyStatusList,
  verifyTrustList,
} from '@campus-card/core';
import { createVerifier, DEFAULT_MAX_STALENESS } from '@campus-card/verifier';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_OPERATOR } from '../../src/demo.js';
import { resolveCredentialInput, rotateIssuerKey } from '../../src/domains/cards.js';
import { createClock, type MockPlatform, type VirtualClock } from '../../src/index.js';
import { demoPlatform, deviceSigner, json, operator, qrOf, schoolB, signed, T0 } from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

const DAY_S = 86_400;
const T0_S = T0 / 1000;

interface Card {
  card_id: string;
  school_id: string;
  person_id: string;
  role: string;
  status: string;
  status_index: number;
  holder_kid: string;
  physical_card_number: string | null;
  issued_at: string;
  expires_at: string;
  credential: string;
}

const cardOf = (p: MockPlatform, person: string) => p.demo!.cards.find((c) => c.personId === person)!;
const getCard = async (p: MockPlatform, cardId: string) =>
  json<Card>(await p.app.inject(signed(p, operator(p), 'GET', `/v1/cards/${cardId}`)));
const cardPost = (p: MockPlatform, cardId: string, action: string, body: object = {}) =>
  p.app.inject(signed(p, operator(p), 'POST', `/v1/cards/${cardId}/${action}`, body));
const balance = async (p: MockPlatform, who: string) =>
  json<{ balance: number }>(await p.app.inject(signed(p, operator(p), 'GET', `/v1/wallets/${who}`))).balance;

/** The school's trust list, verified against its root key. */
async function trustList(p: MockPlatform): Promise<TrustList> {
  const root = json<{ jwk: Jwk }>(
    await p.app.inject(signed(p, operator(p), 'GET', '/v1/schools/sch-demo/root-key')),
  );
  const tl = await p.app.inject(signed(p, operator(p), 'GET', '/v1/schools/sch-demo/trust-list'));
  expect(tl.statusCode).toBe(200);
  return verifyTrustList(new Uint8Array(tl.rawPayload), [importPublicJwk(root.jwk)]);
}

/** Fetches signed trust material as the gate does, with an optional If-None-Match. */
const fetchMaterial = (p: MockPlatform, kind: 'status-list' | 'roster', etag?: string) =>
  p.app.inject(
    signed(p, deviceSigner(p, 'gate-01'), 'GET', `/v1/schools/sch-demo/${kind}`, undefined, {
      headers: etag === undefined ? {} : { 'if-none-match': etag },
    }),
  );

/** A QR code made from a credential (base64url) with a phone key, now. */
async function qrFrom(p: MockPlatform, credential: string, key: PrivateKey, scene = 2): Promise<string> {
  const bytes = await createPresentation(
    { credential: fromBase64Url(credential)!, t: p.clock.nowSeconds(), scene },
    key,
  );
  return encodeQr(bytes);
}

const pay = (p: MockPlatform, no: string, input: { qr_text: string } | { uid_hex: string }, amount = 100) =>
  p.app.inject(
    signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments', { out_trade_no: no, amount, ...input }),
  );

describe('card renewal', () => {
  it("to a new phone key: the old phone's credential is refused offline too (a new status index, the old one revoked)", async () => {
    p = await demoPlatform();
    const g = deviceSigner(p, 'gate-01');
    const card = cardOf(p, 's-001');
    const before = await getCard(p, card.cardId);
    const oldQr = await qrOf(p, 's-001', 1); // the old phone, kept by whoever found it
    expect((await cardPost(p, card.cardId, 'report-lost')).statusCode).toBe(200);
    const phone = generateKeyPair('ES256').privateKey;
    const renewed = await cardPost(p, card.cardId, 'renew', { holder_jwk: exportJwk(phone.publicKey) });
    expect(renewed.statusCode, renewed.body).toBe(200);
    expect((await cardPost(p, card.cardId, 'restore')).statusCode).toBe(200);
    const after = await getCard(p, card.cardId);
    expect(after.status_index).not.toBe(before.status_index);
    expect(after.card_id).toBe(before.card_id);
    // a reader that synced after the change
    const material = async (k: string) =>
      new Uint8Array((await p.app.inject(signed(p, g, 'GET', `/v1/schools/sch-demo/${k}`))).rawPayload);
    const root = json<{ jwk: Jwk }>(
      await p.app.inject(signed(p, g, 'GET', '/v1/schools/sch-demo/root-key')),
    ).jwk;
    const now = p.clock.nowSeconds();
    const v = createVerifier({ rootKeys: [importPublicJwk(root)] });
    expect(v.loadTrustList(await material('trust-list'), { now }).ok).toBe(true);
    expect(v.loadStatusList(await material('status-list'), { now }).ok).toBe(true);
    expect(v.loadRoster(await material('roster'), { now }).ok).toBe(true);
    expect(await v.verify(oldQr, { now, reader: { id: 'gate-01' } })).toMatchObject({
      accepted: false,
      reason: 'REVOKED',
    });
    // the new phone's code passes, offline and online
    const newQr = await qrFrom(p, after.credential, phone, 1);
    expect(await v.verify(newQr, { now, reader: { id: 'gate-01' } })).toMatchObject({
      accepted: true,
      cardId: card.cardId,
    });
    const online = await p.app.inject(
      signed(p, g, 'POST', '/v1/identity/resolve', { qr_text: newQr, scene: 'access' }),
    );
    expect(online.statusCode, online.body).toBe(200);
  });

  it('two renewals at once (one millisecond, a frozen clock): one wins, the other is a 409, never two 200s', async () => {
    p = await demoPlatform();
    const card = cardOf(p, 's-002');
    const k1 = generateKeyPair('ES256').privateKey;
    const k2 = generateKeyPair('ES256').privateKey;
    const [r1, r2] = await Promise.all(
      [k1, k2].map((k) => cardPost(p, card.cardId, 'renew', { holder_jwk: exportJwk(k.publicKey) })),
    );
    expect([r1?.statusCode, r2?.statusCode].sort()).toEqual([200, 409]);
    const won = r1?.statusCode === 200 ? k1 : k2;
    const now = await getCard(p, card.cardId);
    expect(now.holder_kid).toBe(toBase64Url(won.kid));
  });

  it('gives a new credential, issued now, as long as before, for the same card, index and phone key', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-002');
    const before = await getCard(p, demo.cardId);
    expect(before).toMatchObject({
      status: 'active',
      issued_at: '2026-01-05T08:00:00Z',
      expires_at: '2027-01-05T08:00:00Z',
    });
    p.clock.advance(10 * DAY_S);
    // what readers hold just before the renewal
    const roster0 = await fetchMaterial(p, 'roster');
    const status0 = await fetchMaterial(p, 'status-list');
    const res = await cardPost(p, demo.cardId, 'renew');
    expect(res.statusCode, res.body).toBe(200);
    const renewed = json<Card>(res);
    expect(renewed).toEqual({
      ...before,
      issued_at: '2026-01-15T08:00:00Z',
      expires_at: '2027-01-15T08:00:00Z',
      credential: renewed.credential,
    });
    expect(renewed.credential).not.toBe(before.credential);
    expect(await getCard(p, demo.cardId)).toEqual(renewed);

    // the credential: signed by the school's issuer, with the card's claims and the later validity
    const bytes = fromBase64Url(renewed.credential)!;
    const tl = await trustList(p);
    const verified = await verifyCredentialIssuer(bytes, tl);
    expect(verified.claims).toMatchObject({
      school: 'sch-demo',
      cardId: demo.cardId,
      role: 'student',
      iat: T0_S + 10 * DAY_S,
      validityDays: 365,
      exp: T0_S + 375 * DAY_S,
      statusIndex: before.status_index,
      physicalCard: undefined,
      groups: ['class:7-2', 'dorm:B3', 'room:B3-205', 'campus:Main'],
      linkedCards: [],
    });
    expect(toBase64Url(verified.claims.holderKey.kid)).toBe(before.holder_kid);
    const old = decodeCredential(fromBase64Url(before.credential)!).claims;
    expect([old.iat, old.exp]).toEqual([T0_S, T0_S + 365 * DAY_S]);

    // readers see a new roster (new expiry); the status list is unchanged (same card, status, index)
    const roster1 = await fetchMaterial(p, 'roster', roster0.headers.etag as string);
    expect(roster1.statusCode).toBe(200);
    expect(roster1.headers.etag).not.toBe(roster0.headers.etag);
    const roster = verifyRoster(new Uint8Array(roster1.rawPayload), tl);
    expect(roster.cards.find((c) => c.cardId === demo.cardId)?.exp).toBe(T0_S + 375 * DAY_S);
    const status1 = await fetchMaterial(p, 'status-list', status0.headers.etag as string);
    expect(status1.statusCode).toBe(304);

    // the phone pays with the renewed credential and its (unchanged) key
    const key = importPrivateJwk(demo.holderPrivateJwk);
    const ok = await pay(p, 'RN1', { qr_text: await qrFrom(p, renewed.credential, key) });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(json(ok)).toMatchObject({ status: 'success', card_id: demo.cardId, person_id: 's-002' });
    expect(await balance(p, 's-002')).toBe(4_900);
  });

  it('with a new phone key and validity_days: codes of the old key are refused', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-001');
    const phone = generateKeyPair('ES256').privateKey;
    p.clock.advance(3_600);
    const res = await cardPost(p, demo.cardId, 'renew', {
      holder_jwk: exportJwk(phone.publicKey),
      validity_days: 7,
    });
    expect(res.statusCode, res.body).toBe(200);
    const renewed = json<Card>(res);
    expect(renewed).toMatchObject({
      card_id: demo.cardId,
      status: 'active',
      holder_kid: toBase64Url(phone.publicKey.kid),
      physical_card_number: 'PC-s-001',
      issued_at: '2026-01-05T09:00:00Z',
      expires_at: '2026-01-12T09:00:00Z',
    });
    const claims = decodeCredential(fromBase64Url(renewed.credential)!).claims;
    expect([claims.validityDays, claims.physicalCard]).toEqual([7, 'PC-s-001']);
    expect(claims.holderKey.kid).toEqual(phone.publicKey.kid);

    // a code of the old credential and old phone key: the card has moved on, to a new status index,
    // and the old credential's index is revoked (so readers offline refuse it too)
    const stale = await pay(p, 'RK1', { qr_text: await qrOf(p, 's-001', 2) });
    expect([stale.statusCode, json(stale).code]).toEqual([422, 'ERR_REVOKED']);
    const fresh = await pay(p, 'RK2', { qr_text: await qrFrom(p, renewed.credential, phone) });
    expect(fresh.statusCode, fresh.body).toBe(201);
    expect(await balance(p, 's-001')).toBe(9_900);
    // the next default renewal keeps the 7-day length
    p.clock.advance(DAY_S);
    const again = json<Card>(await cardPost(p, demo.cardId, 'renew'));
    expect([again.issued_at, again.expires_at]).toEqual(['2026-01-06T09:00:00Z', '2026-01-13T09:00:00Z']);
    expect(again.holder_kid).toBe(toBase64Url(phone.publicKey.kid));
  });

  it('refuses unknown (404) and revoked (409) cards', async () => {
    p = await demoPlatform();
    const nope = await cardPost(p, 'sch-demo-999999', 'renew');
    expect([nope.statusCode, json(nope).code]).toEqual([404, 'ERR_NOT_FOUND']);
    const demo = cardOf(p, 's-003');
    expect((await cardPost(p, demo.cardId, 'unlink')).statusCode).toBe(200);
    const revoked = await cardPost(p, demo.cardId, 'renew');
    expect([revoked.statusCode, json(revoked).code]).toEqual([409, 'ERR_CARD_NOT_ACTIVE']);
    expect((await getCard(p, demo.cardId)).credential).toBe(demo.credential);
  });
});

describe('card unlink', () => {
  it('revokes the card in a new signed status list (new ETag); its codes stop paying and resolving', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-002');
    const other = cardOf(p, 's-003');
    const tl = await trustList(p);
    const s0 = await fetchMaterial(p, 'status-list');
    const list0 = verifyStatusList(new Uint8Array(s0.rawPayload), tl);
    const index = (await getCard(p, demo.cardId)).status_index;
    const otherIndex = (await getCard(p, other.cardId)).status_index;
    expect([getStatus(list0, index), getStatus(list0, otherIndex)]).toEqual([
      CARD_STATUS.valid,
      CARD_STATUS.valid,
    ]);
    // a payment before: the platform has now cached this status list for verification
    expect((await pay(p, 'U0', { qr_text: await qrOf(p, 's-002', 2) })).statusCode).toBe(201);
    const roster0 = verifyRoster(new Uint8Array((await fetchMaterial(p, 'roster')).rawPayload), tl);
    expect(roster0.cards.map((c) => c.cardId)).toContain(demo.cardId);

    const res = await cardPost(p, demo.cardId, 'unlink', { reason: 'left school' });
    expect(res.statusCode, res.body).toBe(200);
    expect(json<Card>(res)).toMatchObject({ card_id: demo.cardId, status: 'revoked', status_index: index });
    expect((await getCard(p, demo.cardId)).status).toBe('revoked');

    // the status list: a new version, a new ETag, the index revoked, the others unchanged
    const s1 = await fetchMaterial(p, 'status-list', s0.headers.etag as string);
    expect(s1.statusCode).toBe(200);
    expect(s1.headers.etag).not.toBe(s0.headers.etag);
    const list1 = verifyStatusList(new Uint8Array(s1.rawPayload), tl);
    expect(list1.version).toBe(list0.version + 1);
    expect(s1.headers.etag).toMatch(new RegExp(`^"status-list-v${list1.version}-[0-9a-f]{12}"$`));
    expect(getStatus(list1, index)).toBe(CARD_STATUS.revoked);
    expect(getStatus(list1, otherIndex)).toBe(CARD_STATUS.valid);
    // and it is stable until the next change
    expect((await fetchMaterial(p, 'status-list', s1.headers.etag as string)).statusCode).toBe(304);
    // the roster no longer carries the card
    const roster1 = verifyRoster(new Uint8Array((await fetchMaterial(p, 'roster')).rawPayload), tl);
    expect(roster1.cards.map((c) => c.cardId)).not.toContain(demo.cardId);
    expect(roster1.cards).toHaveLength(roster0.cards.length - 1);

    // a fresh code of the card: refused by the status list, no debit, code not consumed
    const usedBefore = (p.state.db.prepare('SELECT COUNT(*) AS n FROM used_codes').get() as { n: number }).n;
    const refused = await pay(p, 'U1', { qr_text: await qrOf(p, 's-002', 2) });
    expect([refused.statusCode, json(refused).code]).toEqual([422, 'ERR_REVOKED']);
    const resolve = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/identity/resolve', {
        qr_text: await qrOf(p, 's-002', 1),
        scene: 'access',
      }),
    );
    expect([resolve.statusCode, json(resolve).code]).toEqual([422, 'ERR_REVOKED']);
    expect((p.state.db.prepare('SELECT COUNT(*) AS n FROM used_codes').get() as { n: number }).n).toBe(
      usedBefore,
    );
    expect(await balance(p, 's-002')).toBe(4_900);
    // other cards still pay
    expect((await pay(p, 'U2', { qr_text: await qrOf(p, 's-003', 2) })).statusCode).toBe(201);

    // revoked is final
    for (const action of ['unlink', 'restore', 'report-lost']) {
      const r = await cardPost(p, demo.cardId, action);
      expect([action, r.statusCode, json(r).code]).toEqual([action, 409, 'ERR_CARD_NOT_ACTIVE']);
    }
    const s2 = await fetchMaterial(p, 'status-list', s1.headers.etag as string);
    expect(s2.statusCode).toBe(304);
  });

  it('the linked physical card stops too; a lost (suspended) card can be unlinked; a new card may be issued', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-001');
    const uid = { uid_hex: demo.physicalUidHex! };
    expect((await pay(p, 'PU0', uid)).statusCode).toBe(201);
    const index = (await getCard(p, demo.cardId)).status_index;
    const tl = await trustList(p);
    const statusAt = async () =>
      getStatus(
        verifyStatusList(new Uint8Array((await fetchMaterial(p, 'status-list')).rawPayload), tl),
        index,
      );

    expect(json<Card>(await cardPost(p, demo.cardId, 'report-lost')).status).toBe('suspended');
    expect(await statusAt()).toBe(CARD_STATUS.suspended);
    expect(json<Card>(await cardPost(p, demo.cardId, 'unlink')).status).toBe('revoked');
    expect(await statusAt()).toBe(CARD_STATUS.revoked);

    // the unlinked card let go of the physical card: its UID names no card any more
    const tap = await pay(p, 'PU1', uid);
    expect([tap.statusCode, json(tap).code, json(tap).detail]).toEqual([
      422,
      'ERR_UNKNOWN_CARD',
      'no card is linked to this UID',
    ]);
    const gate = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/identity/resolve', { ...uid, scene: 'access' }),
    );
    expect([gate.statusCode, json(gate).code]).toEqual([422, 'ERR_UNKNOWN_CARD']);
    expect(await balance(p, 's-001')).toBe(9_900);

    // one live card per school, person and role (C1): the revoked card no longer counts
    const phone = generateKeyPair('ES256').privateKey;
    const issued = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/cards', {
        person_id: 's-001',
        role: 'student',
        holder_jwk: exportJwk(phone.publicKey),
      }),
    );
    expect(issued.statusCode, issued.body).toBe(201);
    const card = json<Card>(issued);
    expect(card.card_id).not.toBe(demo.cardId);
    expect(card.status_index).not.toBe(index);
    expect([card.status, card.physical_card_number]).toEqual(['active', null]);
    expect(await statusAt()).toBe(CARD_STATUS.revoked);
    const ok = await pay(p, 'PU2', { qr_text: await qrFrom(p, card.credential, phone) });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(json(ok)).toMatchObject({ card_id: card.card_id, person_id: 's-001', status: 'success' });
    // the same wallet
    expect(await balance(p, 's-001')).toBe(9_800);
  });
});

describe("a parent's linked cards", () => {
  const linksOf = (c: Card) => decodeCredential(fromBase64Url(c.credential)!).claims.linkedCards;
  const phoneOf = (p: MockPlatform, person: string) => importPrivateJwk(cardOf(p, person).holderPrivateJwk);
  /** Issues a student's card, with a new phone key. */
  const issue = async (p: MockPlatform, person: string) => {
    const res = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/cards', {
        person_id: person,
        role: 'student',
        holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
      }),
    );
    expect(res.statusCode, res.body).toBe(201);
    return json<Card>(res);
  };

  it("a linked student's card unlinked: the parent's credential naming it is revoked; the one fetched next names the others", async () => {
    p = await demoPlatform();
    const parent = cardOf(p, 'p-002'); // linked to s-002 and s-003
    const [s2, s3] = [cardOf(p, 's-002').cardId, cardOf(p, 's-003').cardId];
    const before = await getCard(p, parent.cardId);
    expect(linksOf(before)).toEqual([s2, s3]);
    const oldQr = await qrOf(p, 'p-002', 1); // the parent's phone, before it fetches again
    const tl = await trustList(p);
    const s0 = await fetchMaterial(p, 'status-list');
    const r0 = await fetchMaterial(p, 'roster');
    const list0 = verifyStatusList(new Uint8Array(s0.rawPayload), tl);

    const key = 'unlink-s-002';
    const unlink = () =>
      p.app.inject(signed(p, operator(p), 'POST', `/v1/cards/${s2}/unlink`, {}, { idempotencyKey: key }));
    const res = await unlink();
    expect(res.statusCode, res.body).toBe(200);

    // the card's credential: the remaining link, a new status index; same card, phone key, validity
    const after = await getCard(p, parent.cardId);
    expect(linksOf(after)).toEqual([s3]);
    expect(after.status_index).not.toBe(before.status_index);
    expect(after).toMatchObject({
      card_id: before.card_id,
      status: 'active',
      holder_kid: before.holder_kid,
      issued_at: before.issued_at,
      expires_at: before.expires_at,
    });

    // one new version of each document (new ETags): the old index revoked, the new one valid
    const s1 = await fetchMaterial(p, 'status-list', s0.headers.etag as string);
    expect(s1.statusCode).toBe(200);
    const list1 = verifyStatusList(new Uint8Array(s1.rawPayload), tl);
    expect(list1.version).toBe(list0.version + 1);
    expect([getStatus(list1, before.status_index), getStatus(list1, after.status_index)]).toEqual([
      CARD_STATUS.revoked,
      CARD_STATUS.valid,
    ]);
    expect((await fetchMaterial(p, 'status-list', s1.headers.etag as string)).statusCode).toBe(304);
    const r1 = await fetchMaterial(p, 'roster', r0.headers.etag as string);
    expect(r1.statusCode).toBe(200);
    const entry = verifyRoster(new Uint8Array(r1.rawPayload), tl).cards.find(
      (c) => c.cardId === parent.cardId,
    );
    expect(entry?.statusIndex).toBe(after.status_index);

    // a reader synced since refuses the old credential; the new one passes with the new linkedCards
    const verify = await syncedGate(p);
    expect(await verify(oldQr)).toMatchObject({ accepted: false, reason: 'REVOKED' });
    const newQr = await qrFrom(p, after.credential, phoneOf(p, 'p-002'), 1);
    expect(await verify(newQr)).toMatchObject({ accepted: true, cardId: parent.cardId, linkedCards: [s3] });
    // online alike
    const resolve = async (qr_text: string) =>
      p.app.inject(
        signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/identity/resolve', { qr_text, scene: 'access' }),
      );
    const old = await resolve(await qrOf(p, 'p-002', 1));
    expect([old.statusCode, json(old).code]).toEqual([422, 'ERR_REVOKED']);
    const fresh = await resolve(await qrFrom(p, after.credential, phoneOf(p, 'p-002'), 1));
    expect(fresh.statusCode, fresh.body).toBe(200);
    expect(json<{ identity: { linked_card_ids: string[] } }>(fresh).identity.linked_card_ids).toEqual([s3]);

    // the same request again: replayed, nothing signed again
    const again = await unlink();
    expect([again.statusCode, again.headers['idempotent-replayed']]).toEqual([200, 'true']);
    expect(await getCard(p, parent.cardId)).toEqual(after);
    expect((await fetchMaterial(p, 'status-list', s1.headers.etag as string)).statusCode).toBe(304);

    // the phone and its wallet are the parent's: a sale captured offline with the superseded
    // credential is still booked (only what it says of the linked cards is withdrawn)
    const offline = await p.app.inject(
      signed(p, deviceSigner(p, 'pos-01'), 'POST', '/v1/payments/offline-batches', {
        items: [
          {
            seq: 1,
            out_trade_no: 'LINK-OFF-1',
            amount: 100,
            qr_text: await qrOf(p, 'p-002', 2),
            captured_at: new Date(p.clock.now()).toISOString(),
          },
        ],
      }),
    );
    expect(offline.statusCode, offline.body).toBe(200);
    expect(json<{ results: { outcome: string }[] }>(offline).results[0]?.outcome).toBe('accepted');

    // the student gets a new card: the credential gains it, under the same index (the one before,
    // naming fewer cards, may stay valid: it grants less)
    const card = await issue(p, 's-002');
    const widened = await getCard(p, parent.cardId);
    expect(linksOf(widened)).toEqual([card.card_id, s3]);
    expect(widened.status_index).toBe(after.status_index);
    const verify2 = await syncedGate(p);
    expect(await verify2(await qrFrom(p, widened.credential, phoneOf(p, 'p-002'), 1))).toMatchObject({
      accepted: true,
      linkedCards: [card.card_id, s3],
    });
    expect(await verify2(await qrFrom(p, after.credential, phoneOf(p, 'p-002'), 1))).toMatchObject({
      accepted: true,
      linkedCards: [s3],
    });
    expect(await verify2(await qrOf(p, 'p-002', 1))).toMatchObject({ accepted: false, reason: 'REVOKED' });
  });

  it("a linked student's card replaced (lost, unlinked, issued again): the credential naming the old card is refused, the new one names the new card", async () => {
    p = await demoPlatform();
    const parent = cardOf(p, 'p-001'); // linked to s-001
    const student = cardOf(p, 's-001').cardId;
    const before = await getCard(p, parent.cardId);
    expect(linksOf(before)).toEqual([student]);

    // reported lost: still the student's card (it may be restored), the credential stays
    expect((await cardPost(p, student, 'report-lost')).statusCode).toBe(200);
    expect(await getCard(p, parent.cardId)).toEqual(before);
    expect((await cardPost(p, student, 'unlink')).statusCode).toBe(200);
    const card = await issue(p, 's-001');
    expect(card.card_id).not.toBe(student);

    const after = await getCard(p, parent.cardId);
    expect(linksOf(after)).toEqual([card.card_id]);
    expect(after.status_index).not.toBe(before.status_index);
    const verify = await syncedGate(p);
    expect(await verify(await qrOf(p, 'p-001', 1))).toMatchObject({ accepted: false, reason: 'REVOKED' });
    expect(await verify(await qrFrom(p, after.credential, phoneOf(p, 'p-001'), 1))).toMatchObject({
      accepted: true,
      cardId: parent.cardId,
      linkedCards: [card.card_id],
    });

    // the student's card renewed to a new phone: the same card id, nothing changes for the parent
    const renewed = await cardPost(p, card.card_id, 'renew', {
      holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
    });
    expect(renewed.statusCode, renewed.body).toBe(200);
    expect(await getCard(p, parent.cardId)).toEqual(after);
    // a renewal of the parent's card keeps the links and the index
    expect(json<Card>(await cardPost(p, parent.cardId, 'renew'))).toMatchObject({
      status_index: after.status_index,
    });
    expect(linksOf(await getCard(p, parent.cardId))).toEqual([card.card_id]);
  });

  it("two of a parent's students' cards unlinked at once: a retry at most, never a credential naming an unlinked card", async () => {
    p = await demoPlatform();
    const parent = cardOf(p, 'p-002');
    const before = await getCard(p, parent.cardId);
    const students = [cardOf(p, 's-002').cardId, cardOf(p, 's-003').cardId];
    const unlink = (i: number) =>
      p.app.inject(
        signed(
          p,
          operator(p),
          'POST',
          `/v1/cards/${students[i]}/unlink`,
          {},
          { idempotencyKey: `unlink-${i}` },
        ),
      );
    const first = await Promise.all([unlink(0), unlink(1)]);
    for (const [i, r] of first.entries()) {
      if (r.statusCode === 200) continue;
      expect([r.statusCode, json(r).code, json(r).retryable]).toEqual([409, 'ERR_CONFLICT', true]);
      expect((await unlink(i)).statusCode).toBe(200); // the same key: the 409 was not stored
    }
    const after = await getCard(p, parent.cardId);
    expect(linksOf(after)).toEqual([]);
    const verify = await syncedGate(p);
    expect(await verify(await qrOf(p, 'p-002', 1))).toMatchObject({ accepted: false, reason: 'REVOKED' });
    expect(await verify(await qrFrom(p, after.credential, phoneOf(p, 'p-002'), 1))).toMatchObject({
      accepted: true,
      linkedCards: [],
    });
    expect(after.status_index).not.toBe(before.status_index);
  });

  it.each([
    ['s-001', 'a student with another parent, whose credential the unlink signs again'],
    ['s-009', 'a student whose only parent has no card yet'],
  ])(
    "a parent's card issued while a linked student's card is unlinked never names the unlinked card (%s: %s)",
    async (sid) => {
      p = await demoPlatform();
      const post = (url: string, body: object, idempotencyKey: string) =>
        p.app.inject(signed(p, operator(p), 'POST', url, body, { idempotencyKey }));
      const person = (body: object) => post('/v1/people', { school_id: 'sch-demo', ...body }, randomUUID());
      if (sid === 's-009') {
        expect((await person({ person_id: sid, kind: 'student', name: 'Pupil' })).statusCode).toBe(201);
        await issue(p, sid);
      }
      const studentCard = p.state.db
        .prepare("SELECT card_id FROM cards WHERE person_id = ? AND status <> 'revoked'")
        .get(sid) as { card_id: string };
      const created = await person({
        person_id: 'p-009',
        kind: 'parent',
        name: 'Guardian',
        student_ids: [sid],
      });
      expect(created.statusCode, created.body).toBe(201);
      const phone = generateKeyPair('ES256').privateKey;
      const body = { person_id: 'p-009', role: 'parent', holder_jwk: exportJwk(phone.publicKey) };
      const requests = [
        () => post('/v1/cards', body, 'issue-p-009'),
        () => post(`/v1/cards/${studentCard.card_id}/unlink`, {}, `unlink-${sid}`),
      ];
      const first = await Promise.all(requests.map((r) => r()));
      console.log(
        'CONC2',
        sid,
        first.map((r) => r.statusCode),
      );
      for (const [i, r] of first.entries()) {
        if (r.statusCode < 300) continue;
        expect([r.statusCode, json(r).code, json(r).retryable]).toEqual([409, 'ERR_CONFLICT', true]);
        expect((await requests[i]!()).statusCode).toBeLessThan(300); // the 409 was not stored
      }
      const card = await getCard(p, json<Card>(await requests[0]!()).card_id);
      expect(linksOf(card)).toEqual([]);
      const verify = await syncedGate(p);
      expect(await verify(await qrFrom(p, card.credential, phone, 1))).toMatchObject({
        accepted: true,
        linkedCards: [],
      });
    },
  );

  it("a renewal of a parent's credential that names a card no longer linked gives it a new status index", async () => {
    p = await demoPlatform();
    const parent = cardOf(p, 'p-001');
    const before = await getCard(p, parent.cardId);
    // as a database of an earlier version left it: the student's card revoked, the credential kept
    p.state.db
      .prepare("UPDATE cards SET status = 'revoked' WHERE card_id = ?")
      .run(cardOf(p, 's-001').cardId);
    const res = await cardPost(p, parent.cardId, 'renew');
    expect(res.statusCode, res.body).toBe(200);
    const after = json<Card>(res);
    expect(linksOf(after)).toEqual([]);
    expect(after.status_index).not.toBe(before.status_index);
    const verify = await syncedGate(p);
    expect(await verify(await qrOf(p, 'p-001', 1))).toMatchObject({ accepted: false, reason: 'REVOKED' });
    expect(await verify(await qrFrom(p, after.credential, phoneOf(p, 'p-001'), 1))).toMatchObject({
      accepted: true,
      linkedCards: [],
    });
  });
});

describe('If-None-Match (RFC 9110 §13.1.2)', () => {
  it('uses the weak comparison: W/"tag" and a list naming the tag are 304, others 200', async () => {
    p = await demoPlatform();
    const first = await fetchMaterial(p, 'status-list');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"status-list-v\d+-[0-9a-f]{12}"$/);
    const status = async (inm: string) => (await fetchMaterial(p, 'status-list', inm)).statusCode;
    expect(await status(etag)).toBe(304);
    expect(await status(`W/${etag}`)).toBe(304); // today: 200
    expect(await status(`"other", W/${etag}`)).toBe(304);
    expect(await status(`"other",${etag}`)).toBe(304);
    expect(await status('*')).toBe(304);
    expect(await status('"other", W/"status-list"')).toBe(200);
    expect(await status(`w/${etag}`)).toBe(200); // W/ is case-sensitive
    expect(await status(etag.slice(1, -1))).toBe(200); // not quoted: not an entity-tag
    expect(await status(`"a,b", ${etag}`)).toBe(304); // a comma inside a tag is not a separator
    // a 304 carries the ETag, a 200 the bytes
    const res = await fetchMaterial(p, 'status-list', `W/${etag}`);
    expect([res.headers.etag, res.rawPayload.length]).toEqual([etag, 0]);
  });
});

describe('which trust material a card change gives a new version', () => {
  it('a status change bumps the status list only; keys, UIDs and membership bump the roster', async () => {
    p = await demoPlatform();
    const etags = async () => ({
      status: (await fetchMaterial(p, 'status-list')).headers.etag as string,
      roster: (await fetchMaterial(p, 'roster')).headers.etag as string,
    });
    /** Which of the two documents changed since `before` (a 304 to the old ETag is "unchanged"). */
    const changed = async (before: { status: string; roster: string }) => ({
      status: (await fetchMaterial(p, 'status-list', before.status)).statusCode === 200,
      roster: (await fetchMaterial(p, 'roster', before.roster)).statusCode === 200,
    });
    const demo = cardOf(p, 's-002');

    let e = await etags();
    expect((await cardPost(p, demo.cardId, 'report-lost')).statusCode).toBe(200);
    expect(await changed(e)).toEqual({ status: true, roster: false }); // today: roster true
    e = await etags();
    expect((await cardPost(p, demo.cardId, 'restore')).statusCode).toBe(200);
    expect(await changed(e)).toEqual({ status: true, roster: false });

    e = await etags();
    expect((await cardPost(p, demo.cardId, 'renew')).statusCode).toBe(200);
    expect(await changed(e)).toEqual({ status: false, roster: true });

    e = await etags();
    const link = await cardPost(p, demo.cardId, 'physical-card', {
      uid_hex: 'a1b2c3d4',
      card_number: 'PC-9',
    });
    expect(link.statusCode, link.body).toBe(200);
    expect(await changed(e)).toEqual({ status: false, roster: true });

    e = await etags();
    expect((await cardPost(p, demo.cardId, 'unlink')).statusCode).toBe(200);
    expect(await changed(e)).toEqual({ status: true, roster: true });

    e = await etags();
    const phone = generateKeyPair('ES256').privateKey;
    const issued = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/cards', {
        person_id: 's-002',
        role: 'student',
        holder_jwk: exportJwk(phone.publicKey),
      }),
    );
    expect(issued.statusCode, issued.body).toBe(201);
    expect(await changed(e)).toEqual({ status: true, roster: true });
  });
});

describe('physical card after an unlink', () => {
  it("links to the pupil's new phone card; the old card keeps its physical card number", async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-001');
    const uid = demo.physicalUidHex!;
    const before = await getCard(p, demo.cardId);
    expect(before.physical_card_number).toBe('PC-s-001');
    expect((await cardPost(p, demo.cardId, 'unlink')).statusCode).toBe(200);
    const phone = generateKeyPair('ES256').privateKey;
    const issued = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/cards', {
        person_id: 's-001',
        role: 'student',
        holder_jwk: exportJwk(phone.publicKey),
      }),
    );
    expect(issued.statusCode, issued.body).toBe(201);
    const card = json<Card>(issued);
    const link = await cardPost(p, card.card_id, 'physical-card', { uid_hex: uid, card_number: 'PC-s-001' });
    expect([link.statusCode, json(link).code]).toEqual([200, undefined]); // today: [409, 'ERR_CONFLICT']
    expect(json<Card>(link).physical_card_number).toBe('PC-s-001');
    // the revoked card keeps the number, for history
    expect(await getCard(p, demo.cardId)).toMatchObject({
      status: 'revoked',
      physical_card_number: 'PC-s-001',
    });
    // the physical card now pays for the new card, from the same wallet
    const tap = await pay(p, 'RL1', { uid_hex: uid });
    expect(tap.statusCode, tap.body).toBe(201);
    expect(json(tap)).toMatchObject({ card_id: card.card_id, person_id: 's-001', status: 'success' });
    // and the new roster lists the UID under the new card only
    const roster = verifyRoster(
      new Uint8Array((await fetchMaterial(p, 'roster')).rawPayload),
      await trustList(p),
    );
    const withUid = roster.cards.filter((c) => c.uidHashes.length > 0).map((c) => c.cardId);
    expect(withUid).toContain(card.card_id);
    expect(withUid).not.toContain(demo.cardId);
  });
});

describe("another school's cards and trust material", () => {
  it("a gate of school B cannot read school A's card or person", async () => {
    p = await demoPlatform();
    const gb = await schoolB(p);
    const card = cardOf(p, 's-001');
    const a = await p.app.inject(signed(p, gb, 'GET', `/v1/cards/${card.cardId}`));
    const b = await p.app.inject(signed(p, gb, 'GET', '/v1/people/s-001'));
    expect([a.statusCode, b.statusCode]).toEqual([404, 404]); // today: [200, 200]
    // the same answer as for a card that does not exist: nothing confirms the id
    const none = await p.app.inject(signed(p, gb, 'GET', '/v1/cards/sch-demo-999999'));
    const problem = (r: { body: string }) => json<{ code: string; detail: string }>(r);
    expect([problem(a).code, problem(a).detail.replace(card.cardId, 'X')]).toEqual([
      problem(none).code,
      problem(none).detail.replace('sch-demo-999999', 'X'),
    ]);
    // school A's own devices and merchants, and the operator, still read them
    for (const who of [deviceSigner(p, 'gate-01'), deviceSigner(p, 'pos-01'), operator(p)]) {
      const r = await p.app.inject(signed(p, who, 'GET', `/v1/cards/${card.cardId}`));
      expect([who.id, r.statusCode]).toEqual([who.id, 200]);
    }
  });

  it("a gate of school B gets none of school A's trust material; its own and the operator's reads work", async () => {
    p = await demoPlatform();
    const gb = await schoolB(p);
    const paths = ['status-list', 'roster', 'trust-list', 'root-key'];
    for (const kind of paths) {
      const r = await p.app.inject(signed(p, gb, 'GET', `/v1/schools/sch-demo/${kind}`));
      expect([kind, r.statusCode, json(r).code]).toEqual([kind, 404, 'ERR_NOT_FOUND']); // today: 200
      expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(r.headers.etag).toBeUndefined();
      const own = await p.app.inject(signed(p, gb, 'GET', `/v1/schools/sch-b/${kind}`));
      expect([kind, own.statusCode]).toEqual([kind, 200]);
      for (const who of [deviceSigner(p, 'gate-01'), operator(p)]) {
        const r2 = await p.app.inject(signed(p, who, 'GET', `/v1/schools/sch-demo/${kind}`));
        expect([kind, who.id, r2.statusCode]).toEqual([kind, who.id, 200]);
      }
    }
    // a merchant of school A cannot read school B's either
    const m = await p.app.inject(
      signed(p, deviceSigner(p, p.demo!.merchants[0]!.id), 'GET', '/v1/schools/sch-b/roster'),
    );
    expect(m.statusCode).toBe(404);
  });
});

describe('one version, one byte string', () => {
  /** A frozen clock that, while `ticking`, moves 1 s at every nowSeconds() read. */
  function tickingClock(): VirtualClock & { ticking: boolean } {
    const base = createClock({ start: T0, frozen: true });
    const clock = {
      ...base,
      ticking: false,
      nowSeconds() {
        const s = base.nowSeconds();
        if (clock.ticking) base.advance(1);
        return s;
      },
    };
    return clock;
  }

  it('a change while the list is being signed: the fetch answers the newer version, signed once', async () => {
    const base = createClock({ start: T0, frozen: true });
    let onRead: (() => void) | undefined;
    const clock: VirtualClock = {
      ...base,
      nowSeconds() {
        const hook = onRead;
        onRead = undefined;
        hook?.();
        return base.nowSeconds();
      },
    };
    p = await demoPlatform({ clock });
    const tl = await trustList(p);
    const first = verifyStatusList(new Uint8Array((await fetchMaterial(p, 'status-list')).rawPayload), tl);
    const demo = cardOf(p, 's-002');
    expect((await cardPost(p, demo.cardId, 'report-lost')).statusCode).toBe(200);
    // the card is restored at the moment the reported list (version + 1) is being signed
    const { touchTrustMaterial } = await import('../../src/domains/cards.js');
    const req = signed(p, deviceSigner(p, 'gate-01'), 'GET', '/v1/schools/sch-demo/status-list');
    onRead = () => {
      p!.state.db.prepare("UPDATE cards SET status = 'active' WHERE card_id = ?").run(demo.cardId);
      touchTrustMaterial(p!.state, 'sch-demo', ['status-list']);
    };
    const res = await p.app.inject(req);
    expect(onRead).toBeUndefined();
    expect(res.statusCode, res.body).toBe(200);
    const got = verifyStatusList(new Uint8Array(res.rawPayload), tl);
    expect(got.version).toBe(first.version + 2);
    expect(getStatus(got, (await getCard(p, demo.cardId)).status_index)).toBe(CARD_STATUS.valid);
    const row = p.state.db
      .prepare(
        "SELECT version, dirty, bytes FROM trust_material WHERE school_id = 'sch-demo' AND kind = 'status-list'",
      )
      .get() as { version: number; dirty: number; bytes: Buffer };
    expect([row.version, row.dirty, Buffer.compare(row.bytes, res.rawPayload)]).toEqual([
      first.version + 2,
      0,
      0,
    ]);
  });

  it('two concurrent fetches of a changed status list get the same version and the same bytes', async () => {
    const clock = tickingClock();
    p = await demoPlatform({ clock });
    const tl = await trustList(p);
    const first = await fetchMaterial(p, 'status-list');
    expect((await cardPost(p, cardOf(p, 's-002').cardId, 'report-lost')).statusCode).toBe(200);
    clock.ticking = true;
    const [a, b] = await Promise.all([
      fetchMaterial(p, 'status-list', first.headers.etag as string),
      fetchMaterial(p, 'status-list', first.headers.etag as string),
    ]);
    clock.ticking = false;
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    const [la, lb] = [a, b].map((r) => verifyStatusList(new Uint8Array(r.rawPayload), tl));
    expect(la!.version).toBe(lb!.version);
    expect(a.headers.etag).toBe(b.headers.etag);
    expect(Buffer.compare(a.rawPayload, b.rawPayload)).toBe(0); // today: two signatures, two iats
    // and it is what the platform serves from now on
    const again = await fetchMaterial(p, 'status-list');
    expect(Buffer.compare(again.rawPayload, a.rawPayload)).toBe(0);
    expect((await fetchMaterial(p, 'status-list', a.headers.etag as string)).statusCode).toBe(304);
  });
});

describe('trust material is re-signed before readers find it stale', () => {
  const kinds = ['trust-list', 'status-list', 'roster'] as const;
  const get = async (p: MockPlatform, k: string) =>
    new Uint8Array(
      (await p.app.inject(signed(p, deviceSigner(p, 'gate-01'), 'GET', `/v1/schools/sch-demo/${k}`)))
        .rawPayload,
    );

  it('a quiet day does not make every card STALE', async () => {
    p = await demoPlatform();
    const g = deviceSigner(p, 'gate-01');
    const root = json<{ jwk: Jwk }>(
      await p.app.inject(signed(p, g, 'GET', '/v1/schools/sch-demo/root-key')),
    ).jwk;
    await get(p, 'trust-list');
    await get(p, 'status-list');
    for (let h = 0; h < 25; h++) {
      p.clock.advance(3600); // hourly sync, no card changes
      await get(p, 'status-list');
    }
    const now = p.clock.nowSeconds();
    const v = createVerifier({ rootKeys: [importPublicJwk(root)] });
    v.loadTrustList(await get(p, 'trust-list'), { now });
    v.loadStatusList(await get(p, 'status-list'), { now });
    const d = await v.verify(await qrOf(p, 's-001'), { now, reader: { id: 'gate-01' } });
    expect([d.accepted, d.accepted ? null : d.reason]).toEqual([true, null]); // today: [false, 'STATUS_LIST_STALE']
  });

  it('each kind gets a new version, signed now, once half its reader limit has passed, and not before', async () => {
    p = await demoPlatform();
    const tl = await trustList(p);
    const root = json<{ jwk: Jwk }>(
      await p.app.inject(signed(p, operator(p), 'GET', '/v1/schools/sch-demo/root-key')),
    ).jwk;
    const stamp = async (k: (typeof kinds)[number]) => {
      const b = await get(p, k);
      const doc =
        k === 'status-list'
          ? verifyStatusList(b, tl)
          : k === 'roster'
            ? verifyRoster(b, tl)
            : verifyTrustList(b, [importPublicJwk(root)]);
      return { version: doc.version, iat: doc.iat };
    };
    const half = {
      'trust-list': DEFAULT_MAX_STALENESS.trustList / 2,
      'status-list': DEFAULT_MAX_STALENESS.statusList / 2,
      roster: DEFAULT_MAX_STALENESS.roster / 2,
    };
    expect(half).toEqual({ 'trust-list': 15 * DAY_S, 'status-list': 12 * 3600, roster: 3.5 * DAY_S });
    for (const k of kinds) {
      const t0 = p.clock.nowSeconds();
      const first = await stamp(k);
      expect(first.iat).toBe(t0);
      p.clock.advance(half[k] - 1);
      expect(await stamp(k)).toEqual(first); // not yet: the same document
      p.clock.advance(1);
      expect(await stamp(k)).toEqual({ version: first.version + 1, iat: t0 + half[k] });
    }
  });

  it('a document stored before its signing time was kept (migration 10) is signed again, at a new version', async () => {
    p = await demoPlatform();
    const tl = await trustList(p);
    const first = await get(p, 'status-list');
    p.state.db.prepare("UPDATE trust_material SET iat = NULL WHERE kind = 'status-list'").run();
    const again = verifyStatusList(await get(p, 'status-list'), tl);
    expect(again.version).toBe(verifyStatusList(first, tl).version + 1);
    expect(Buffer.compare(await get(p, 'status-list'), Buffer.from(first))).not.toBe(0);
  });

  it('the re-sign ages are settings', async () => {
    p = await demoPlatform({ settings: { statusListResignAfterS: 600 } });
    const tl = await trustList(p);
    const first = verifyStatusList(await get(p, 'status-list'), tl);
    p.clock.advance(599);
    expect(verifyStatusList(await get(p, 'status-list'), tl).version).toBe(first.version);
    p.clock.advance(1);
    expect(verifyStatusList(await get(p, 'status-list'), tl).version).toBe(first.version + 1);
    await p.close();
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(demoPlatform({ settings: { rosterResignAfterS: bad } })).rejects.toThrow(RangeError);
    }
    p = undefined as unknown as MockPlatform;
  });
});

/** A gate's verifier, synced now with the school's trust list, status list and roster. */
async function syncedGate(p: MockPlatform) {
  const g = deviceSigner(p, 'gate-01');
  const material = async (k: string) =>
    new Uint8Array((await p.app.inject(signed(p, g, 'GET', `/v1/schools/sch-demo/${k}`))).rawPayload);
  const root = json<{ jwk: Jwk }>(await p.app.inject(signed(p, g, 'GET', '/v1/schools/sch-demo/root-key')));
  const now = p.clock.nowSeconds();
  const v = createVerifier({ rootKeys: [importPublicJwk(root.jwk)] });
  expect(v.loadTrustList(await material('trust-list'), { now }).ok).toBe(true);
  expect(v.loadStatusList(await material('status-list'), { now }).ok).toBe(true);
  expect(v.loadRoster(await material('roster'), { now }).ok).toBe(true);
  return (input: string | { uid: Uint8Array }) => v.verify(input, { now, reader: { id: 'gate-01' } });
}

const claimsOf = (c: { credential: string }) => decodeCredential(fromBase64Url(c.credential)!).claims;
const uidOf = (hex: string) => ({ uid: new Uint8Array(Buffer.from(hex, 'hex')) });

describe("the credential names the card's physical card", () => {
  it('a link signs it again with the number (same phone key, index, validity); a replacement names the new card', async () => {
    p = await demoPlatform();
    // the demo links s-001's physical card once its card is issued: the credential names it
    expect(claimsOf(cardOf(p, 's-001')).physicalCard).toBe('PC-s-001');
    const demo = cardOf(p, 's-002');
    const phone = importPrivateJwk(demo.holderPrivateJwk);
    const before = await getCard(p, demo.cardId);
    expect(claimsOf(before).physicalCard).toBeUndefined();
    p.clock.advance(3_600);

    const res = await cardPost(p, demo.cardId, 'physical-card', { uid_hex: 'a1b2c3d4', card_number: 'PC-9' });
    expect(res.statusCode, res.body).toBe(200);
    const linked = json<Card>(res);
    expect(linked).toEqual({ ...before, physical_card_number: 'PC-9', credential: linked.credential });
    expect(await getCard(p, demo.cardId)).toEqual(linked);
    const { claims } = await verifyCredentialIssuer(fromBase64Url(linked.credential)!, await trustList(p));
    expect(claims).toEqual({ ...claimsOf(before), physicalCard: 'PC-9' });

    // a reader synced since: the phone's code carries the number, the physical card is admitted
    let verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, linked.credential, phone, 1))).toMatchObject({
      accepted: true,
      cardId: demo.cardId,
      physicalCard: 'PC-9',
    });
    expect(await verify(uidOf('a1b2c3d4'))).toMatchObject({ accepted: true, cardId: demo.cardId });

    // replaced by another physical card: the credential names the new one, under the same index
    const res2 = await cardPost(p, demo.cardId, 'physical-card', {
      uid_hex: 'b2c3d4e5',
      card_number: 'PC-10',
    });
    expect(res2.statusCode, res2.body).toBe(200);
    const replaced = json<Card>(res2);
    expect(replaced.status_index).toBe(before.status_index);
    expect(claimsOf(replaced)).toMatchObject({ physicalCard: 'PC-10', statusIndex: before.status_index });
    verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, replaced.credential, phone, 1))).toMatchObject({
      accepted: true,
      physicalCard: 'PC-10',
    });
    // the old physical card admits and pays no more (roster, online); the previous credential is
    // not revoked: its `physicalCard` is a label, it admits nothing the card does not
    expect(await verify(uidOf('a1b2c3d4'))).toMatchObject({ accepted: false, reason: 'UNKNOWN_CARD' });
    const tap = await pay(p, 'PC-OLD', { uid_hex: 'a1b2c3d4' });
    expect([tap.statusCode, json(tap).code]).toEqual([422, 'ERR_UNKNOWN_CARD']);
    expect(await verify(await qrFrom(p, linked.credential, phone, 1))).toMatchObject({
      accepted: true,
      physicalCard: 'PC-9',
    });
  });

  it('a link and a renewal to a new phone at once: a retry at most; the credential names both', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-002');
    const phone = generateKeyPair('ES256').privateKey;
    const requests = [
      () => cardPost(p, demo.cardId, 'renew', { holder_jwk: exportJwk(phone.publicKey) }),
      () => cardPost(p, demo.cardId, 'physical-card', { uid_hex: 'a1b2c3d4', card_number: 'PC-9' }),
    ];
    const first = await Promise.all(requests.map((r) => r()));
    for (const [i, r] of first.entries()) {
      if (r.statusCode === 200) continue;
      expect([r.statusCode, json(r).code, json(r).retryable]).toEqual([409, 'ERR_CONFLICT', true]);
      const again = await requests[i]!();
      expect(again.statusCode, again.body).toBe(200);
    }
    const card = await getCard(p, demo.cardId);
    expect(card).toMatchObject({
      physical_card_number: 'PC-9',
      holder_kid: toBase64Url(phone.publicKey.kid),
    });
    expect(claimsOf(card)).toMatchObject({ physicalCard: 'PC-9', statusIndex: card.status_index });
    expect(claimsOf(card).holderKey.kid).toEqual(phone.publicKey.kid);
    const verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, card.credential, phone, 1))).toMatchObject({
      accepted: true,
      physicalCard: 'PC-9',
    });
  });
});

describe('an issuer key rotation while cards change', () => {
  /** Runs `rotateIssuerKey` without awaiting it; `pending()` tells whether it is still signing. */
  const startRotation = (p: MockPlatform, school = 'sch-demo') => {
    let settled = false;
    const rotation = rotateIssuerKey(p.state, school);
    rotation.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    return { rotation, pending: () => !settled };
  };

  it('a renewal, a report of loss and a link committed while it signs are kept, under the new key', async () => {
    p = await demoPlatform();
    const [s1, s2, t2] = [cardOf(p, 's-001'), cardOf(p, 's-002'), cardOf(p, 't-002')];
    const before = await getCard(p, s1.cardId);
    const phone = generateKeyPair('ES256').privateKey;
    const { rotation, pending } = startRotation(p);
    const renewed = await p.invoke(
      'renewCard',
      { params: { card_id: s1.cardId }, body: { holder_jwk: exportJwk(phone.publicKey) } },
      DEMO_OPERATOR,
    );
    expect(renewed.status).toBe(200);
    expect(
      (await p.invoke('reportCardLost', { params: { card_id: s2.cardId }, body: {} }, DEMO_OPERATOR)).status,
    ).toBe(200);
    const link = await p.invoke(
      'linkPhysicalCard',
      { params: { card_id: t2.cardId }, body: { uid_hex: 'a1b2c3d4', card_number: 'PC-t-002' } },
      DEMO_OPERATOR,
    );
    expect(link.status).toBe(200);
    expect(pending()).toBe(true); // all three committed while the rotation was signing
    const r = await rotation;
    expect(r.reissued).toBe(p.demo!.cards.length);

    // every card: its row as the change left it, its credential signed by the new key from that row
    const tl = await trustList(p);
    expect(tl.keys.map((k) => toBase64Url(k.key.kid))).toEqual([r.issuerKid]);
    const list = verifyStatusList(new Uint8Array((await fetchMaterial(p, 'status-list')).rawPayload), tl);
    const renewedCard = await getCard(p, s1.cardId);
    expect(renewedCard.holder_kid).toBe(toBase64Url(phone.publicKey.kid));
    expect(renewedCard.status_index).not.toBe(before.status_index);
    for (const [id, status, physical] of [
      [s1.cardId, CARD_STATUS.valid, 'PC-s-001'],
      [s2.cardId, CARD_STATUS.suspended, undefined],
      [t2.cardId, CARD_STATUS.valid, 'PC-t-002'],
    ] as const) {
      const card = await getCard(p, id);
      const { claims } = await verifyCredentialIssuer(fromBase64Url(card.credential)!, tl);
      expect([claims.statusIndex, toBase64Url(claims.holderKey.kid), claims.physicalCard]).toEqual([
        card.status_index,
        card.holder_kid,
        physical,
      ]);
      expect(getStatus(list, card.status_index)).toBe(status);
    }
    expect(getStatus(list, before.status_index)).toBe(CARD_STATUS.revoked);

    // readers synced since: the new phone passes, the old phone and the lost card do not
    const verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, renewedCard.credential, phone, 1))).toMatchObject({
      accepted: true,
      cardId: s1.cardId,
    });
    expect(await verify(await qrOf(p, 's-001', 1))).toMatchObject({ accepted: false });
    const lost = await getCard(p, s2.cardId);
    expect(lost.status).toBe('suspended');
    expect(
      await verify(await qrFrom(p, lost.credential, importPrivateJwk(s2.holderPrivateJwk), 1)),
    ).toMatchObject({ accepted: false, reason: 'REVOKED' });
  });

  it('a card issued while it signs gets a credential under the new key', async () => {
    p = await demoPlatform();
    const person = await p.app.inject(
      signed(p, operator(p), 'POST', '/v1/people', {
        school_id: 'sch-demo',
        person_id: 't-009',
        kind: 'teacher',
        name: 'New',
      }),
    );
    expect(person.statusCode, person.body).toBe(201);
    const phone = generateKeyPair('ES256').privateKey;
    const { rotation, pending } = startRotation(p);
    const issued = await p.invoke(
      'issueCard',
      { body: { person_id: 't-009', role: 'teacher', holder_jwk: exportJwk(phone.publicKey) } },
      DEMO_OPERATOR,
    );
    expect(issued.status).toBe(201);
    expect(pending()).toBe(true);
    const r = await rotation;
    expect(r.reissued).toBe(p.demo!.cards.length + 1);
    const card = await getCard(p, (issued.body as Card).card_id);
    const { claims } = await verifyCredentialIssuer(fromBase64Url(card.credential)!, await trustList(p));
    expect(claims.cardId).toBe(card.card_id);
    const verify = await syncedGate(p);
    expect(await verify(await qrFrom(p, card.credential, phone, 1))).toMatchObject({ accepted: true });
  });

  it('an issue signed under the key it retired is a retryable 409; the retry is signed by the new key', async () => {
    p = await demoPlatform();
    await schoolB(p);
    const person = await p.invoke(
      'createPerson',
      { body: { school_id: 'sch-b', person_id: 't-b01', kind: 'teacher', name: 'B' } },
      DEMO_OPERATOR,
    );
    expect(person.status).toBe(201);
    const body = {
      person_id: 't-b01',
      role: 'teacher',
      holder_jwk: exportJwk(generateKeyPair('ES256').privateKey.publicKey),
    };
    // the issue signs (under the school's first key) before it commits; the school has no card
    // yet, so the rotation commits at once, in between
    const issuing = p.invoke('issueCard', { body }, DEMO_OPERATOR);
    const r = await rotateIssuerKey(p.state, 'sch-b');
    expect(r.reissued).toBe(0);
    await expect(issuing).rejects.toMatchObject({ status: 409, code: 'ERR_CONFLICT', retryable: true });
    const retry = await p.invoke('issueCard', { body }, DEMO_OPERATOR);
    expect(retry.status).toBe(201);
    const credential = fromBase64Url((retry.body as Card).credential)!;
    expect(toBase64Url(decodeCredential(credential).sign1.kid!)).toBe(r.issuerKid);
  });

  it('a trust list read while it commits is not kept: the new key is trusted at once, the retired one no longer', async () => {
    p = await demoPlatform();
    const gate = await schoolB(p);
    expect((await p.app.inject(signed(p, gate, 'GET', '/v1/schools/sch-b/trust-list'))).statusCode).toBe(200);
    const retired = importPrivateJwk(
      JSON.parse(
        p.state.db
          .prepare("SELECT issuer_jwk FROM school_keys WHERE school_id = 'sch-b'")
          .pluck()
          .get() as string,
      ),
    );
    // a scan reads the school's trust list (signed, under the key about to retire) and awaits; the
    // rotation (no card to sign: it commits at once) runs before the scan resumes
    const principal = {
      id: 'gate-b',
      kind: 'device',
      schoolId: 'sch-b',
      merchantId: null,
      zone: 'gate:main',
      deviceType: 'gate',
    } as const;
    const scan = resolveCredentialInput(p.state, principal, { qr_text: 'not a code' });
    await rotateIssuerKey(p.state, 'sch-b');
    await expect(scan).rejects.toMatchObject({ status: 422 });
    const person = { school_id: 'sch-b', person_id: 't-b01', kind: 'teacher', name: 'B' };
    expect((await p.invoke('createPerson', { body: person }, DEMO_OPERATOR)).status).toBe(201);
    const phone = generateKeyPair('ES256').privateKey;
    const issued = await p.invoke(
      'issueCard',
      { body: { person_id: 't-b01', role: 'teacher', holder_jwk: exportJwk(phone.publicKey) } },
      DEMO_OPERATOR,
    );
    const card = issued.body as Card;
    const resolve = async (credential: Uint8Array) =>
      p.app.inject(
        signed(p, gate, 'POST', '/v1/identity/resolve', {
          qr_text: await qrFrom(p, toBase64Url(credential), phone, 1),
          scene: 'access',
        }),
      );
    const current = await resolve(fromBase64Url(card.credential)!);
    expect(current.statusCode, current.body).toBe(200);
    // the same card's credential, signed by the retired key
    const forged = await issueCredential(
      {
        school: 'sch-b',
        cardId: card.card_id,
        role: 'teacher',
        iat: p.clock.nowSeconds(),
        validityDays: 30,
        holderKey: phone.publicKey,
        statusIndex: card.status_index,
      },
      retired,
    );
    const old = await resolve(forged);
    expect([old.statusCode, json(old).code]).toEqual([422, 'ERR_UNKNOWN_ISSUER']);
  });

  it('gives up, rotating nothing, when cards keep changing (503, retryable); a retry rotates', async () => {
    p = await demoPlatform();
    const card = cardOf(p, 's-001');
    const trust0 = await trustList(p);
    const tx = p.state.tx.bind(p.state);
    // each time the rotation comes to write, a card has changed since it was signed
    p.state.tx = <T>(fn: () => T): T => {
      p.state.db.prepare('UPDATE cards SET updated_at = updated_at + 1 WHERE card_id = ?').run(card.cardId);
      return tx(fn);
    };
    await expect(rotateIssuerKey(p.state, 'sch-demo')).rejects.toMatchObject({
      status: 503,
      code: 'ERR_INTERNAL',
      retryable: true,
    });
    p.state.tx = tx;
    expect((await getCard(p, card.cardId)).credential).toBe(card.credential);
    expect((await trustList(p)).version).toBe(trust0.version);
    const r = await rotateIssuerKey(p.state, 'sch-demo');
    expect(r.trustListVersion).toBe(trust0.version + 1);
  });
});
