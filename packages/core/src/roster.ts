/**
 * Reader roster (spec §6.2): the cards of a school with their phone keys, hashed physical card
 * UIDs and groups, for compact-mode codes and physical card taps (C5, G1).
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { decodeSign1, type Sign1, signSign1 } from './cose-sign1.js';
import { CampusCardError } from './errors.js';
import { exportCoseKey, importCoseKey, type PrivateKey, type PublicKey, type Signer } from './keys.js';
import { toHex } from './lib/bytes.js';
import { type CborValue, cmap, decodeCbor, encodeCbor } from './lib/cbor.js';
import {
  arrayField,
  asMap,
  bytesField,
  onlyKeys,
  textArrayField,
  textField,
  uintField,
} from './lib/fields.js';
import { ROSTER_LIMITS } from './lib/limits.js';
import { ROLE_CODE, type Role, roleFromCode } from './roles.js';
import { assertBytes } from './trust-list.js';

const S = '6.2';
const UID_DOMAIN = new TextEncoder().encode('campus-card/uid/v1');

/** One card of a roster. */
export interface RosterCard {
  readonly cardId: string;
  readonly role: Role;
  readonly statusIndex: number;
  /** Phone keys registered for the card (wallet, mini program, school app: C7). */
  readonly keys: readonly PublicKey[];
  /** 16-byte hashes of linked physical card UIDs ({@link computeUidHash}). */
  readonly uidHashes: readonly Uint8Array[];
  readonly groups: readonly string[];
  /** Expiry of the card, unix seconds. */
  readonly exp: number;
}

/** A decoded roster. */
export interface Roster {
  readonly school: string;
  readonly version: number;
  readonly iat: number;
  readonly cards: readonly RosterCard[];
}

/** Input of {@link signRoster}. */
export interface RosterInput {
  school: string;
  version: number;
  iat: number;
  cards: ReadonlyArray<{
    cardId: string;
    role: Role;
    statusIndex: number;
    keys?: ReadonlyArray<PublicKey>;
    uidHashes?: ReadonlyArray<Uint8Array>;
    groups?: readonly string[];
    exp: number;
  }>;
}

/**
 * The hash under which a physical card UID is stored in a roster (spec §6.2):
 * the first 16 bytes of SHA-256("campus-card/uid/v1" ‖ 0 ‖ school ‖ 0 ‖ uid).
 */
export function computeUidHash(school: string, uid: Uint8Array): Uint8Array {
  if (typeof school !== 'string' || !(uid instanceof Uint8Array))
    throw new TypeError('computeUidHash(school, uid)');
  const s = new TextEncoder().encode(school);
  const buf = new Uint8Array(UID_DOMAIN.length + 1 + s.length + 1 + uid.length);
  buf.set(UID_DOMAIN, 0);
  buf.set(s, UID_DOMAIN.length + 1);
  buf.set(uid, UID_DOMAIN.length + 2 + s.length);
  return sha256(buf).subarray(0, 16);
}

/**
 * Signs a roster with a key whose trust-list entry allows rosters. What a reader refuses is refused
 * here, before signing, with the reader's error: a card id or a UID hash listed twice, say
 * (`ERR_STRUCTURE`, spec §6.2).
 */
export async function signRoster(input: RosterInput, key: PrivateKey | Signer): Promise<Uint8Array> {
  const cards: CborValue[] = input.cards.map((c) =>
    cmap([
      [1, c.cardId],
      [2, ROLE_CODE[c.role]],
      [3, c.statusIndex],
      [4, (c.keys ?? []).map((k) => exportCoseKey(k))],
      [5, [...(c.uidHashes ?? [])]],
      [6, [...(c.groups ?? [])]],
      [7, c.exp],
    ]),
  );
  const payload = encodeCbor(
    cmap([
      [1, input.school],
      [2, input.version],
      [3, input.iat],
      [4, cards],
    ]),
  );
  // the rules and limits a reader applies (spec §2.1, §6.2), before signing
  parseRosterPayload(payload);
  return signSign1(payload, key, {
    header: 'alg+kid',
    limit: { maxBytes: ROSTER_LIMITS.maxBytes, what: 'roster' },
  });
}

/** Parses a roster payload (no signature check). */
export function parseRosterPayload(payload: Uint8Array): Roster {
  const m = asMap(decodeCbor(payload, ROSTER_LIMITS, 'roster payload'), 'roster', S);
  onlyKeys(m, [1, 2, 3, 4], 'roster', S);
  const cards = arrayField(m.get(4), 'roster cards', S).map((raw, i) => {
    const what = `roster card ${i}`;
    const e = asMap(raw, what, S);
    onlyKeys(e, [1, 2, 3, 4, 5, 6, 7], what, S);
    const role = roleFromCode(e.get(2));
    if (!role) throw new CampusCardError('ERR_STRUCTURE', `${what}: unknown role`, { section: S });
    return Object.freeze({
      cardId: textField(e.get(1), `${what} card id`, S),
      role,
      statusIndex: uintField(e.get(3), `${what} status index`, S, 0xffffffff),
      keys: Object.freeze(
        arrayField(e.get(4), `${what} keys`, S).map((k) => importCoseKey(k, { algLabel: 'required' })),
      ),
      uidHashes: Object.freeze(
        arrayField(e.get(5), `${what} uids`, S).map((u) => bytesField(u, `${what} uid`, S, 16)),
      ),
      groups: Object.freeze(textArrayField(e.get(6), `${what} groups`, S)),
      exp: uintField(e.get(7), `${what} exp`, S),
    });
  });
  // a tap or a compact code must name one card: a card id or a physical card UID hash found twice
  // makes the roster ambiguous, so it is refused whole (spec §6.2)
  findDuplicate(cards);
  return Object.freeze({
    school: textField(m.get(1), 'roster school', S),
    version: uintField(m.get(2), 'roster version', S),
    iat: uintField(m.get(3), 'roster iat', S),
    cards: Object.freeze(cards),
  });
}

/** The error for a card id or UID hash (`what`) listed again by card `i` (spec §6.2). */
function duplicate(i: number, what: string): CampusCardError {
  return new CampusCardError(
    'ERR_STRUCTURE',
    `roster card ${i}: ${what} is listed twice; a roster names each card and physical card once`,
    { section: S },
  );
}

/**
 * Throws `ERR_STRUCTURE` when two cards of `cards` have the same card id, or a UID hash is listed
 * twice (by two cards, or twice by one): a lookup by either would have to pick one (spec §6.2).
 */
function findDuplicate(cards: readonly RosterCard[]): void {
  const ids = new Set<string>();
  const uids = new Set<string>();
  cards.forEach((c, i) => {
    if (ids.has(c.cardId)) throw duplicate(i, `card id ${JSON.stringify(c.cardId)}`);
    ids.add(c.cardId);
    for (const h of c.uidHashes) {
      const hex = toHex(h);
      if (uids.has(hex)) throw duplicate(i, `physical card UID hash ${hex}`);
      uids.add(hex);
    }
  });
}

/** Decodes a roster without verifying it. */
export function decodeRoster(bytes: Uint8Array): { sign1: Sign1; roster: Roster } {
  assertBytes(bytes);
  const sign1 = decodeSign1(bytes, ROSTER_LIMITS, 'roster', true);
  return { sign1, roster: parseRosterPayload(sign1.payload) };
}

/** An index of a roster for O(1) lookups by card id and by UID hash. */
export interface RosterIndex {
  readonly roster: Roster;
  /** Card by id. */
  byCardId(cardId: string): RosterCard | undefined;
  /** Card by physical UID hash. */
  byUidHash(hash: Uint8Array): RosterCard | undefined;
}

/**
 * Builds a {@link RosterIndex}.
 *
 * @throws {@link CampusCardError} `ERR_STRUCTURE` for a roster listing a card id or a UID hash twice
 *   (a decoded roster never does: it is refused when read, spec §6.2).
 */
export function indexRoster(roster: Roster): RosterIndex {
  const ids = new Map<string, RosterCard>();
  const uids = new Map<string, RosterCard>();
  roster.cards.forEach((c, i) => {
    if (ids.has(c.cardId)) throw duplicate(i, `card id ${JSON.stringify(c.cardId)}`);
    ids.set(c.cardId, c);
    for (const h of c.uidHashes) {
      const hex = toHex(h);
      if (uids.has(hex)) throw duplicate(i, `physical card UID hash ${hex}`);
      uids.set(hex, c);
    }
  });
  return {
    roster,
    byCardId: (id) => ids.get(id),
    byUidHash: (h) => uids.get(toHex(h)),
  };
}
