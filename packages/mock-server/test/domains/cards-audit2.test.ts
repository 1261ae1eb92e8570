/**
 * Cards domain, second audit (src/domains/cards.ts):
 *
 * - a renewal that ends the card sooner than its credential does gives it a new status index: the
 *   previous credential, valid longer, would otherwise pass every reader in full mode after the
 *   card had expired online (C2: the same decision at every device);
 * - linking the physical card a card already has is the card as it is: no new credential, no new
 *   roster version; a new number for the same UID signs the credential again but leaves the roster
 *   (which carries UID hashes, not numbers) at its version;
 * - a card that would expire after the last time the contract can write (9999-12-31T23:59:59Z,
 *   reachable with the virtual clock) is a 422 naming `body/validity_days`, not a 500;
 * - a phone key given as an OKP JWK with a `y` (which only EC keys have) is refused, as any other
 *   malformed key: 400 naming `body/holder_jwk`.
 */
import {
  CARD_STATUS,
  createPresentation,
  encodeQr,
  exportJwk,
  fromBase64Url,
  generateKeyPair,
  getStatus,
  importPrivateJwk,
  importPublicJwk,
  type Jwk,
  type PrivateKey,
  verifyStatusList,
  verifyTrustList,
} from '@campus-card/core';
import { createVerifier } from '@campus-card/verifier';
import { afterEach, describe, expect, it } from 'vitest';
import type { MockPlatform } from '../../src/index.js';
import {
  changedTables,
  demoPlatform,
  deviceSigner,
  json,
  operator,
  qrOf,
  signed,
  tableDigests,
} from '../helpers.js';

let p: MockPlatform;
afterEach(async () => p?.close());

const DAY_S = 86_400;
/** Tables every signed POST writes to (its nonce, its idempotency outcome), whatever it does. */
const UNRELATED = new Set(['nonces', 'idempotency']);

interface Card {
  card_id: string;
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
const issue = (p: MockPlatform, body: object) =>
  p.app.inject(signed(p, operator(p), 'POST', '/v1/cards', body));
const resolve = (p: MockPlatform, qr_text: string) =>
  p.app.inject(
    signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/identity/resolve', { qr_text, scene: 'access' }),
  );
const material = async (p: MockPlatform, kind: string, etag?: string) =>
  p.app.inject(
    signed(p, deviceSigner(p, 'gate-01'), 'GET', `/v1/schools/sch-demo/${kind}`, undefined, {
      headers: etag === undefined ? {} : { 'if-none-match': etag },
    }),
  );

/** A gate that synced the school's trust list, status list and roster now. */
async function syncedGate(p: MockPlatform) {
  const bytes = async (k: string) => new Uint8Array((await material(p, k)).rawPayload);
  const root = json<{ jwk: Jwk }>(
    await p.app.inject(signed(p, deviceSigner(p, 'gate-01'), 'GET', '/v1/schools/sch-demo/root-key')),
  );
  const now = p.clock.nowSeconds();
  const v = createVerifier({ rootKeys: [importPublicJwk(root.jwk)] });
  expect(v.loadTrustList(await bytes('trust-list'), { now }).ok).toBe(true);
  expect(v.loadStatusList(await bytes('status-list'), { now }).ok).toBe(true);
  expect(v.loadRoster(await bytes('roster'), { now }).ok).toBe(true);
  const tl = verifyTrustList(await bytes('trust-list'), [importPublicJwk(root.jwk)]);
  return {
    verify: (qr: string) => v.verify(qr, { now, reader: { id: 'gate-01' } }),
    status: async (index: number) => getStatus(verifyStatusList(await bytes('status-list'), tl), index),
  };
}

/** A QR code made from a credential (base64url) with a phone key, now. */
async function qrFrom(p: MockPlatform, credential: string, key: PrivateKey): Promise<string> {
  const bytes = await createPresentation(
    { credential: fromBase64Url(credential)!, t: p.clock.nowSeconds(), scene: 1 },
    key,
  );
  return encodeQr(bytes);
}

describe('a renewal that ends the card sooner', () => {
  it('gives a new status index: the previous credential, valid longer, is refused by a synced reader once the card expired, as online', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-002'); // issued at T0 for 365 days
    const before = await getCard(p, demo.cardId);
    const res = await cardPost(p, demo.cardId, 'renew', { validity_days: 1 });
    expect(res.statusCode, res.body).toBe(200);
    const renewed = json<Card>(res);
    expect(Date.parse(renewed.expires_at)).toBeLessThan(Date.parse(before.expires_at));
    expect([renewed.holder_kid, renewed.status]).toEqual([before.holder_kid, 'active']);
    expect(renewed.status_index).not.toBe(before.status_index);

    // two days on, the card has expired: online, and at a reader synced since, for both credentials
    p.clock.advance(2 * DAY_S);
    const online = await resolve(p, await qrOf(p, 's-002', 1));
    expect(online.statusCode, online.body).not.toBe(200);
    const gate = await syncedGate(p);
    expect(await gate.status(before.status_index)).toBe(CARD_STATUS.revoked);
    expect(await gate.verify(await qrOf(p, 's-002', 1))).toMatchObject({
      accepted: false,
      reason: 'REVOKED',
    });
    const phone = importPrivateJwk(demo.holderPrivateJwk);
    expect(await gate.verify(await qrFrom(p, renewed.credential, phone))).toMatchObject({
      accepted: false,
      reason: 'EXPIRED',
    });
  });

  it('a renewal that ends the card later than before keeps the index (the previous credential grants no more)', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-002');
    const before = await getCard(p, demo.cardId);
    p.clock.advance(100 * DAY_S);
    // 300 days from now is 35 days after the previous expiry
    const res = await cardPost(p, demo.cardId, 'renew', { validity_days: 300 });
    expect(res.statusCode, res.body).toBe(200);
    expect(json<Card>(res).status_index).toBe(before.status_index);
    const gate = await syncedGate(p);
    expect(await gate.verify(await qrOf(p, 's-002', 1))).toMatchObject({ accepted: true });
  });
});

describe('linking the physical card a card already has', () => {
  it('the same UID and number: the card as it is; no new credential, no new roster version, no write', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-001'); // linked to its physical card by the demo
    const before = await getCard(p, demo.cardId);
    const roster0 = await material(p, 'roster');
    const status0 = await material(p, 'status-list');
    const tables = tableDigests(p, UNRELATED);
    const res = await cardPost(p, demo.cardId, 'physical-card', {
      uid_hex: demo.physicalUidHex!.toUpperCase(),
      card_number: before.physical_card_number,
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(json<Card>(res)).toEqual(before);
    expect(await getCard(p, demo.cardId)).toEqual(before);
    expect(changedTables(tables, tableDigests(p, UNRELATED))).toEqual([]);
    expect((await material(p, 'roster', roster0.headers.etag as string)).statusCode).toBe(304);
    expect((await material(p, 'status-list', status0.headers.etag as string)).statusCode).toBe(304);
  });

  it('the same UID under a new number: a new credential naming it; the roster (UID hashes) keeps its version', async () => {
    p = await demoPlatform();
    const demo = cardOf(p, 's-001');
    const before = await getCard(p, demo.cardId);
    const roster0 = await material(p, 'roster');
    const res = await cardPost(p, demo.cardId, 'physical-card', {
      uid_hex: demo.physicalUidHex!,
      card_number: 'PC-s-001-B',
    });
    expect(res.statusCode, res.body).toBe(200);
    const after = json<Card>(res);
    expect(after.physical_card_number).toBe('PC-s-001-B');
    expect(after.credential).not.toBe(before.credential);
    expect(after.status_index).toBe(before.status_index);
    expect((await material(p, 'roster', roster0.headers.etag as string)).statusCode).toBe(304);
    // the tap still resolves to the card
    const tap = await p.app.inject(
      signed(p, deviceSigner(p, 'gate-01'), 'POST', '/v1/identity/resolve', {
        uid_hex: demo.physicalUidHex!,
        scene: 'access',
      }),
    );
    expect(tap.statusCode, tap.body).toBe(200);
  });
});

describe('a card that would expire after 9999-12-31T23:59:59Z', () => {
  it('issue and renewal are a 422 ERR_VALIDATION naming body/validity_days, writing nothing; fewer days work', async () => {
    p = await demoPlatform();
    const set = await p.app.inject({
      method: 'POST',
      url: '/admin/clock',
      payload: { set: '9999-12-20T00:00:00Z' },
    });
    expect(set.statusCode, set.body).toBe(200);
    const demo = cardOf(p, 's-002');
    const beforeRenew = tableDigests(p, UNRELATED);
    const renew = await cardPost(p, demo.cardId, 'renew', {}); // the card's 365 days
    expect([renew.statusCode, json(renew).code], renew.body).toEqual([422, 'ERR_VALIDATION']);
    expect(json<{ errors: { path: string }[] }>(renew).errors.map((e) => e.path)).toEqual([
      'body/validity_days',
    ]);
    expect(changedTables(beforeRenew, tableDigests(p, UNRELATED))).toEqual([]);
    // a new card for a person without one
    expect((await cardPost(p, demo.cardId, 'unlink')).statusCode).toBe(200);
    const afterUnlink = tableDigests(p, UNRELATED);
    const phone = generateKeyPair('ES256').privateKey;
    const issued = await issue(p, {
      person_id: 's-002',
      role: 'student',
      holder_jwk: exportJwk(phone.publicKey),
      validity_days: 30,
    });
    expect([issued.statusCode, json(issued).code], issued.body).toEqual([422, 'ERR_VALIDATION']);
    expect(json<{ errors: { path: string }[] }>(issued).errors.map((e) => e.path)).toEqual([
      'body/validity_days',
    ]);
    expect(changedTables(afterUnlink, tableDigests(p, UNRELATED))).toEqual([]);
    const ok = await issue(p, {
      person_id: 's-002',
      role: 'student',
      holder_jwk: exportJwk(phone.publicKey),
      validity_days: 11,
    });
    expect(ok.statusCode, ok.body).toBe(201);
    expect(json<Card>(ok).expires_at).toBe('9999-12-31T00:00:00Z');
  });
});

describe('a phone key as an OKP JWK with a y', () => {
  it('is refused on issue and renewal: 400 ERR_VALIDATION naming body/holder_jwk', async () => {
    p = await demoPlatform();
    const jwk = exportJwk(generateKeyPair('EdDSA').privateKey.publicKey);
    const demo = cardOf(p, 's-002');
    const before = await getCard(p, demo.cardId);
    const renew = await cardPost(p, demo.cardId, 'renew', { holder_jwk: { ...jwk, y: jwk.x } });
    expect([renew.statusCode, json(renew).code], renew.body).toEqual([400, 'ERR_VALIDATION']);
    expect(json<{ errors: { path: string }[] }>(renew).errors.map((e) => e.path)).toEqual([
      'body/holder_jwk',
    ]);
    expect(await getCard(p, demo.cardId)).toEqual(before);
    expect((await cardPost(p, demo.cardId, 'unlink')).statusCode).toBe(200);
    const issued = await issue(p, {
      person_id: 's-002',
      role: 'student',
      holder_jwk: { ...jwk, y: jwk.x },
    });
    expect([issued.statusCode, json(issued).code], issued.body).toEqual([400, 'ERR_VALIDATION']);
    // the same key without the y is a key
    const ok = await issue(p, { person_id: 's-002', role: 'student', holder_jwk: jwk });
    expect(ok.statusCode, ok.body).toBe(201);
  });
});
