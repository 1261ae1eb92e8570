/**
 * A compact-mode code (token format §5.2: it names its card and phone key, not its credential)
 * that a POS accepted offline with the card's phone key of then, uploaded after a renewal replaced
 * that key (src/domains/cards.ts `resolveCredentialInput` with `statusAt`, `card_keys`, migration
 * 18). The platform keeps every phone key a card has had, so the code is judged as a full-mode
 * code of the same key is: booked when captured while the key was the card's, refused when
 * captured after the renewal, and a code of the new key captured before the renewal is refused.
 * Online (no `statusAt`) only the current key is known, as before.
 */
import { join } from 'node:path';
import {
  createCompactPresentation,
  encodeQr,
  exportJwk,
  generateKeyPair,
  importPrivateJwk,
  type PrivateKey,
} from '@campus-card/core';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createClock, createMockPlatform, type MockPlatform } from '../../src/index.js';
import {
  cardOf,
  demoPlatform,
  deviceSigner,
  incidentsOf,
  isoAt,
  json,
  operator,
  payWithCode,
  qrOf,
  signed,
  T0,
  testDir,
  uploadOffline,
  walletBalance,
} from '../helpers.js';

const open: MockPlatform[] = [];
afterEach(async () => {
  for (const p of open.splice(0).reverse()) await p.close();
});

/** The payment scene of a code. */
const PAY = 2;

/** A compact-mode code of `cardId`, made with `key` at `t` (unix seconds). */
async function compact(cardId: string, key: PrivateKey, t: number): Promise<string> {
  return encodeQr(await createCompactPresentation({ cardId, t, scene: PAY }, key));
}

const demoPhone = (p: MockPlatform, person: string): PrivateKey =>
  importPrivateJwk(p.demo!.cards.find((c) => c.personId === person)!.holderPrivateJwk);

/** Renews `cardId` with a new phone key; returns the key. */
async function replaceKey(p: MockPlatform, cardId: string): Promise<PrivateKey> {
  const phone = generateKeyPair('ES256').privateKey;
  const res = await p.app.inject(
    signed(p, operator(p), 'POST', `/v1/cards/${cardId}/renew`, { holder_jwk: exportJwk(phone.publicKey) }),
  );
  expect(res.statusCode, res.body).toBe(200);
  return phone;
}

const item = (seq: number, qr_text: string, t: number, amount = 300) => ({
  seq,
  out_trade_no: `KH-${seq}`,
  amount,
  qr_text,
  captured_at: isoAt(t),
});

const outcomes = (r: { results: { outcome: string; code: string | null }[] }) =>
  r.results.map((x) => [x.outcome, x.code]);

const ledgerCheck = async (p: MockPlatform) =>
  json<{ balanced: boolean; problems: string[] }>(
    await p.app.inject(signed(p, operator(p), 'GET', '/v1/ledger/check')),
  );

describe('an offline compact-mode code of a phone key a renewal replaced', () => {
  it('captured before the renewal settles, once; captured after is refused, as a code of the new key captured before', async () => {
    const p = await demoPlatform();
    open.push(p);
    p.clock.advance(600);
    const card = cardOf(p, 's-001');
    const old = demoPhone(p, 's-001');
    const t = p.clock.nowSeconds();
    const before = await compact(card, old, t - 5);
    const fullBefore = await qrOf(p, 's-001', PAY, t - 5);
    p.clock.advance(1);
    const phone = await replaceKey(p, card);
    p.clock.advance(1);
    const now = p.clock.nowSeconds();
    const pos = deviceSigner(p, 'pos-01');
    const result = await uploadOffline(p, pos, [
      // before the change: 'rejected', 'ERR_UNKNOWN_CARD' (the old key was no longer known)
      item(1, before, t - 5, 300),
      item(2, fullBefore, t - 5, 200),
      // a code of the new key, captured before the card had it (made with the new phone, dated back)
      item(3, await compact(card, phone, t - 5), t - 5, 400),
      // a code of the old key captured after the renewal
      item(4, await compact(card, old, now), now, 500),
      item(5, await compact(card, phone, now), now, 100),
    ]);
    expect(outcomes(result)).toEqual([
      ['accepted', null],
      ['accepted', null],
      ['rejected', 'ERR_CODE_INVALID'],
      ['rejected', 'ERR_CODE_INVALID'],
      ['accepted', null],
    ]);
    const orders = p.state.db
      .prepare("SELECT out_trade_no, card_id, amount FROM orders WHERE out_trade_no LIKE 'KH-%' ORDER BY 1")
      .all();
    expect(orders).toEqual([
      { out_trade_no: 'KH-1', card_id: card, amount: 300 },
      { out_trade_no: 'KH-2', card_id: card, amount: 200 },
      { out_trade_no: 'KH-5', card_id: card, amount: 100 },
    ]);
    expect(walletBalance(p, 's-001')).toBe(10_000 - 600);
    // both signatures checked out: the refusals name the card
    expect((await incidentsOf(p)).map((i) => [i.kind, i.card_id, i.seq, i.amount, i.code]).sort()).toEqual([
      ['offline_payment_refused', card, 3, 400, 'ERR_CODE_INVALID'],
      ['offline_payment_refused', card, 4, 500, 'ERR_CODE_INVALID'],
    ]);

    // the same batch again: duplicates, the wallet debited once
    const again = await uploadOffline(p, pos, [item(1, before, t - 5, 300)]);
    expect(outcomes(again)).toEqual([['duplicate', null]]);
    expect(walletBalance(p, 's-001')).toBe(10_000 - 600);
    expect(await ledgerCheck(p)).toMatchObject({ balanced: true, problems: [] });
  });

  it('a key replaced twice: each code is judged by the key of its own capture time', async () => {
    const p = await demoPlatform();
    open.push(p);
    p.clock.advance(600);
    const card = cardOf(p, 's-002');
    const k1 = demoPhone(p, 's-002');
    const t1 = p.clock.nowSeconds();
    p.clock.advance(60);
    const k2 = await replaceKey(p, card);
    p.clock.advance(60);
    const t2 = p.clock.nowSeconds();
    p.clock.advance(60);
    const k3 = await replaceKey(p, card);
    p.clock.advance(60);
    const t3 = p.clock.nowSeconds();
    const start = walletBalance(p, 's-002');
    const result = await uploadOffline(p, deviceSigner(p, 'pos-01'), [
      item(1, await compact(card, k1, t1), t1, 100),
      item(2, await compact(card, k2, t2), t2, 100),
      item(3, await compact(card, k3, t3), t3, 100),
      item(4, await compact(card, k1, t2), t2, 100),
      item(5, await compact(card, k3, t2), t2, 100),
      item(6, await compact(card, k2, t3), t3, 100),
    ]);
    expect(outcomes(result)).toEqual([
      ['accepted', null],
      ['accepted', null],
      ['accepted', null],
      ['rejected', 'ERR_CODE_INVALID'],
      ['rejected', 'ERR_CODE_INVALID'],
      ['rejected', 'ERR_CODE_INVALID'],
    ]);
    expect(walletBalance(p, 's-002')).toBe(start - 300);
    expect(await ledgerCheck(p)).toMatchObject({ balanced: true });
  });

  it('online, only the current key is known, as before', async () => {
    const p = await demoPlatform();
    open.push(p);
    const card = cardOf(p, 's-001');
    const old = demoPhone(p, 's-001');
    p.clock.advance(1);
    const phone = await replaceKey(p, card);
    const pos = deviceSigner(p, 'pos-01');
    const refused = await payWithCode(p, pos, 'ON-1', 100, await compact(card, old, p.clock.nowSeconds()));
    expect([refused.statusCode, json(refused).code]).toEqual([422, 'ERR_UNKNOWN_CARD']);
    const paid = await payWithCode(p, pos, 'ON-2', 100, await compact(card, phone, p.clock.nowSeconds()));
    expect(paid.statusCode, paid.body).toBe(201);
    expect(json(paid)).toMatchObject({ status: 'success', card_id: card });
  });

  it("a key of another card is not the card's, whenever captured", async () => {
    const p = await demoPlatform();
    open.push(p);
    p.clock.advance(600);
    const card = cardOf(p, 's-001');
    const t = p.clock.nowSeconds();
    // s-002's old key, then s-001's key replaced: s-001's card never had s-002's key
    const other = demoPhone(p, 's-002');
    p.clock.advance(1);
    await replaceKey(p, cardOf(p, 's-002'));
    await replaceKey(p, card);
    p.clock.advance(1);
    const result = await uploadOffline(p, deviceSigner(p, 'pos-01'), [
      item(1, await compact(card, other, t), t, 100),
    ]);
    expect(outcomes(result)).toEqual([['rejected', 'ERR_UNKNOWN_CARD']]);
    expect(walletBalance(p, 's-001')).toBe(10_000);
  });
});

describe('an offline compact-mode code of a card expired at its capture, renewed since', () => {
  it('is refused as a full-mode code of it is, while one captured before the expiry settles', async () => {
    const p = await demoPlatform();
    open.push(p);
    const card = cardOf(p, 's-001');
    const key = demoPhone(p, 's-001');
    const { expires_at: exp } = p.state.db
      .prepare('SELECT expires_at FROM cards WHERE card_id = ?')
      .get(card) as { expires_at: number };
    const valid = Math.floor(exp / 1000) - 600;
    const expired = Math.floor(exp / 1000) + 600;
    const codes = [await compact(card, key, valid), await compact(card, key, expired)];
    const full = await qrOf(p, 's-001', PAY, expired);
    p.clock.set(exp + 1_200_000);
    const renew = await p.app.inject(
      signed(p, operator(p), 'POST', `/v1/cards/${card}/renew`, { validity_days: 30 }),
    );
    expect(renew.statusCode, renew.body).toBe(200);
    p.clock.set(exp + 1_800_000);
    const result = await uploadOffline(p, deviceSigner(p, 'pos-01'), [
      item(1, codes[0] as string, valid, 100),
      // before: 'ERR_CARD_NOT_ACTIVE' (the current expiry let the code verify)
      item(2, codes[1] as string, expired, 100),
      item(3, full, expired, 100),
    ]);
    expect(outcomes(result)).toEqual([
      ['accepted', null],
      ['rejected', 'ERR_CREDENTIAL_EXPIRED'],
      ['rejected', 'ERR_CREDENTIAL_EXPIRED'],
    ]);
    expect(walletBalance(p, 's-001')).toBe(10_000 - 100);
  });
});

describe('the phone keys a card has had, in a database file', () => {
  /** A platform on `dbPath` at `start` (ms), without the demo (the file has it). */
  const reopen = async (dbPath: string, start: number, demo: MockPlatform['demo']) => {
    const p = await createMockPlatform({ dbPath, demo: false, clock: createClock({ start, frozen: true }) });
    open.push(p);
    Object.assign(p, { demo });
    return p;
  };

  it('are kept across a restart', async () => {
    const dbPath = join(testDir('cc-card-keys-'), 'platform.db');
    const p1 = await createMockPlatform({
      dbPath,
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
    });
    p1.clock.advance(600);
    const card = cardOf(p1, 's-001');
    const old = demoPhone(p1, 's-001');
    const t = p1.clock.nowSeconds();
    const before = await compact(card, old, t - 5);
    p1.clock.advance(1);
    await replaceKey(p1, card);
    const demo = p1.demo;
    const later = p1.clock.now() + 60_000;
    await p1.close();

    const p2 = await reopen(dbPath, later, demo);
    const result = await uploadOffline(p2, deviceSigner(p2, 'pos-01'), [item(1, before, t - 5)]);
    expect(outcomes(result)).toEqual([['accepted', null]]);
    expect(walletBalance(p2, 's-001')).toBe(10_000 - 300);
  });

  it('migration 18 keeps the current key of each card of a database made before it', async () => {
    const dbPath = join(testDir('cc-card-keys-'), 'platform.db');
    const p1 = await createMockPlatform({
      dbPath,
      demo: true,
      clock: createClock({ start: T0, frozen: true }),
    });
    p1.clock.advance(600);
    const card = cardOf(p1, 's-001');
    const k1 = demoPhone(p1, 's-001');
    const t1 = p1.clock.nowSeconds();
    p1.clock.advance(60);
    // a key given while the platform was at version 17: only `cards` kept its JWK
    const k2 = await replaceKey(p1, card);
    p1.clock.advance(60);
    const t2 = p1.clock.nowSeconds();
    const demo = p1.demo;
    const at = p1.clock.now() + 60_000;
    await p1.close();
    // the file as version 17 left it: no card_keys, migration 18 not recorded
    const raw = new Database(dbPath);
    raw.exec('DROP TABLE card_keys; DELETE FROM schema_migrations WHERE version = 18');
    const cards = raw.prepare('SELECT card_id, holder_kid, holder_jwk FROM cards ORDER BY card_id').all();
    raw.close();

    const p2 = await reopen(dbPath, at, demo);
    expect(
      p2.state.db.prepare('SELECT card_id, holder_kid, holder_jwk FROM card_keys ORDER BY card_id').all(),
    ).toEqual(cards);
    expect(cards.length).toBe(demo!.cards.length);
    // the key the card has when migrated is known from then on: a code of it captured before a
    // later renewal settles; the key it had before the migration's database was made is not known
    p2.clock.advance(60);
    const k3 = await replaceKey(p2, card);
    p2.clock.advance(60);
    const t3 = p2.clock.nowSeconds();
    const result = await uploadOffline(p2, deviceSigner(p2, 'pos-01'), [
      item(1, await compact(card, k2, t2), t2, 100),
      item(2, await compact(card, k3, t3), t3, 100),
      item(3, await compact(card, k1, t1), t1, 100),
    ]);
    expect(outcomes(result)).toEqual([
      ['accepted', null],
      ['accepted', null],
      ['rejected', 'ERR_UNKNOWN_CARD'],
    ]);
    expect(walletBalance(p2, 's-001')).toBe(10_000 - 200);
  });
});
