/**
 * A roster names each card once and each physical card once (spec §6.2): a compact code or a tap
 * must resolve to exactly one card, so a roster that repeats a card id or a UID hash is refused.
 */
import { describe, expect, it } from 'vitest';
import {
  CampusCardError,
  computeUidHash,
  decodeRoster,
  decodeSign1,
  generateKeyPair,
  indexRoster,
  parseRosterPayload,
  type Roster,
  type RosterInput,
  sign1ToBeSigned,
  signBytes,
  signRoster,
  signTrustList,
  verifyRoster,
  verifyTrustList,
} from '../src/index.js';
import { type CborMap, type CborValue, decodeCbor, encodeCbor } from '../src/lib/cbor.js';

const NOW = 1_767_225_600;
const SCHOOL = '10001';
const root = generateKeyPair('ES256').privateKey;
const issuer = generateKeyPair('ES256').privateKey;
const phoneA = generateKeyPair('ES256').publicKey;
const phoneB = generateKeyPair('ES256').publicKey;
const uid1 = computeUidHash(SCHOOL, new Uint8Array([4, 1, 2, 3]));
const uid2 = computeUidHash(SCHOOL, new Uint8Array([4, 9, 9, 9]));

async function codeOf(f: () => unknown): Promise<string> {
  try {
    await f();
    return 'OK';
  } catch (e) {
    return e instanceof CampusCardError ? e.code : `untyped ${String(e)}`;
  }
}

function card(cardId: string, keys = [phoneA], uidHashes: Uint8Array[] = [], statusIndex = 1) {
  return { cardId, role: 'student' as const, statusIndex, keys, uidHashes, groups: [], exp: NOW + 86_400 };
}

function input(cards: RosterInput['cards']): RosterInput {
  return { school: SCHOOL, version: 1, iat: NOW - 60, cards };
}

/**
 * A roster with `cards` signed by the issuer, bypassing signRoster's checks: a valid roster of
 * distinct cards re-signed with its card maps replaced.
 */
async function forged(cards: RosterInput['cards']): Promise<Uint8Array> {
  const distinct = cards.map((c, i) => ({ ...c, cardId: `distinct-${i}`, uidHashes: [] }));
  const good = await signRoster(input(distinct), issuer);
  const sign1 = decodeSign1(good, { maxBytes: 1 << 20 }, 'roster', true);
  const payload = decodeCbor(sign1.payload, { maxBytes: 1 << 20 }, 'roster') as CborMap;
  const entries = payload.get(4) as CborMap[];
  cards.forEach((c, i) => {
    (entries[i] as CborMap).set(1, c.cardId);
    (entries[i] as CborMap).set(5, [...(c.uidHashes ?? [])] as CborValue);
  });
  const bytes = encodeCbor(payload);
  const signature = signBytes(issuer, sign1ToBeSigned(sign1.protectedBytes, bytes));
  return encodeCbor([sign1.protectedBytes, new Map(), bytes, signature]);
}

type Card = ReturnType<typeof card>;
const CASES: [string, Card[]][] = [
  ['the same card id twice', [card('T-0042', [phoneA]), card('T-0042', [phoneB], [], 2)]],
  ['the same UID hash on two cards', [card('T-0042', [phoneA], [uid1]), card('T-0043', [phoneB], [uid1], 2)]],
  ['the same UID hash twice on one card', [card('T-0042', [phoneA], [uid1, uid1])]],
];

describe('a roster that repeats a card id or a UID hash is refused (ERR_STRUCTURE)', () => {
  it.each(CASES)('%s: a reader refuses it when it reads it, signed or not', async (_, cards) => {
    const tl = verifyTrustList(
      await signTrustList(
        {
          version: 1,
          iat: NOW - 60,
          authority: 'platform',
          keys: [{ key: issuer.publicKey, roles: ['student'], nbf: 0, exp: NOW + 86_400, uses: 4 }],
        },
        root,
      ),
      [root.publicKey],
    );
    const bytes = await forged(cards);
    expect(await codeOf(() => verifyRoster(bytes, tl))).toBe('ERR_STRUCTURE');
    expect(await codeOf(() => decodeRoster(bytes))).toBe('ERR_STRUCTURE');
    const payload = decodeSign1(bytes, { maxBytes: 1 << 20 }, 'roster', true).payload;
    expect(await codeOf(() => parseRosterPayload(payload))).toBe('ERR_STRUCTURE');
    await expect(Promise.resolve().then(() => parseRosterPayload(payload))).rejects.toThrow(/listed twice/);
  });

  it.each(CASES)('%s: the issuer refuses to sign it, with the reader’s error', async (_, cards) => {
    expect(await codeOf(() => signRoster(input(cards), issuer))).toBe('ERR_STRUCTURE');
  });

  it.each(CASES)(
    '%s: indexRoster refuses a hand-built roster rather than keep one of the two',
    (_, cards) => {
      const roster: Roster = { school: SCHOOL, version: 1, iat: NOW - 60, cards };
      expect(() => indexRoster(roster)).toThrow(CampusCardError);
    },
  );

  it('distinct card ids and UID hashes (and a phone key shared by two cards) are fine', async () => {
    const cards = [card('T-0042', [phoneA], [uid1]), card('T-0043', [phoneA], [uid2], 2), card('T-0044')];
    const { roster } = decodeRoster(await signRoster(input(cards), issuer));
    const index = indexRoster(roster);
    expect(index.byUidHash(uid1)?.cardId).toBe('T-0042');
    expect(index.byUidHash(uid2)?.cardId).toBe('T-0043');
    expect(index.byCardId('T-0044')?.statusIndex).toBe(1);
  });
});
