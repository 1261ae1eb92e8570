import {
  computeUidHash,
  createCompactPresentation,
  createPresentation,
  encodeQr,
  fromHex,
  generateKeyPair,
  issueCredential,
  type PrivateKey,
  type PublicKey,
  type Role,
  signRoster,
  signStatusList,
  signTrustList,
} from '@campus-card/core';
import { expect } from 'vitest';
import { createVerifier, type Verifier, type VerifierOptions } from '../../src/index.js';

/** Hex → bytes, throwing on bad hex. */
export function hex(s: string): Uint8Array {
  const b = fromHex(s);
  if (b === undefined) throw new Error(`bad hex ${s.slice(0, 16)}`);
  return b;
}

/** 2026-01-01T00:00:00Z. */
export const T0 = 1_767_225_600;
export const SCHOOL = '10001';
const DAY = 86_400;

/** A deterministic seed from a number. */
export function seed(n: number, length = 48): Uint8Array {
  // core's ES256 keygen needs 48 bytes of seed (noble randomSecretKey), EdDSA 32
  const s = new Uint8Array(length);
  s.fill(n & 0xff);
  s[0] = 0x5e;
  s[length - 1] = (n >> 8) & 0xff;
  return s;
}

export interface Person {
  cardId: string;
  role: Role;
  statusIndex: number;
  groups?: string[];
  uid?: Uint8Array;
}

export interface Card extends Person {
  phone: { privateKey: PrivateKey; publicKey: PublicKey };
  credential: Uint8Array;
}

export interface Campus {
  root: { privateKey: PrivateKey; publicKey: PublicKey };
  issuer: { privateKey: PrivateKey; publicKey: PublicKey };
  cards: Map<string, Card>;
  trustList(version: number, iat: number): Promise<Uint8Array>;
  statusList(version: number, iat: number, revoked?: Record<number, number>): Promise<Uint8Array>;
  roster(version: number, iat: number): Promise<Uint8Array>;
  /** A fresh full-mode QR text of `cardId` at time `t`; nonce from a counter unless given. */
  code(cardId: string, t: number, opts?: { nonce?: Uint8Array; scene?: number }): Promise<string>;
  compact(cardId: string, t: number, opts?: { nonce?: Uint8Array; scene?: number }): Promise<string>;
}

let counter = 0;
function nextNonce(): Uint8Array {
  counter = (counter + 1) >>> 0;
  return new Uint8Array([counter >>> 24, (counter >>> 16) & 0xff, (counter >>> 8) & 0xff, counter & 0xff]);
}

export const PEOPLE: Person[] = [
  { cardId: '2024010001', role: 'student', statusIndex: 1, groups: ['dorm:B3', 'room:B3-204', 'class:7-2'] },
  {
    cardId: '2024010002',
    role: 'student',
    statusIndex: 2,
    groups: ['dorm:A1'],
    uid: new Uint8Array([4, 1, 2, 3]),
  },
  { cardId: 'T-0042', role: 'teacher', statusIndex: 3, groups: ['lab:chem-1'] },
  { cardId: 'P-0007', role: 'parent', statusIndex: 4 },
];

/** Builds a campus: keys, credentials issued at T0 − 1 day, 30 days validity. */
export async function makeCampus(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<Campus> {
  const root = generateKeyPair('ES256', { seed: seed(1) });
  const issuer = generateKeyPair(alg, { seed: seed(2, alg === 'ES256' ? 48 : 32) });
  const cards = new Map<string, Card>();
  let i = 10;
  for (const p of PEOPLE) {
    const phone = generateKeyPair('ES256', { seed: seed(i++) });
    const credential = await issueCredential(
      {
        school: SCHOOL,
        cardId: p.cardId,
        role: p.role,
        iat: T0 - DAY,
        validityDays: 30,
        holderKey: phone.publicKey,
        statusIndex: p.statusIndex,
        ...(p.groups ? { groups: p.groups } : {}),
      },
      issuer.privateKey,
    );
    cards.set(p.cardId, { ...p, phone, credential });
  }
  const must = (id: string) => {
    const c = cards.get(id);
    if (!c) throw new Error(`no card ${id}`);
    return c;
  };
  return {
    root,
    issuer,
    cards,
    trustList: (version, iat) =>
      signTrustList(
        {
          version,
          iat,
          authority: 'platform',
          keys: [
            {
              key: issuer.publicKey,
              roles: ['teacher', 'student', 'parent'],
              nbf: T0 - 365 * DAY,
              exp: T0 + 365 * DAY,
              schools: [SCHOOL],
            },
          ],
        },
        root.privateKey,
      ),
    statusList: (version, iat, revoked = {}) => {
      const statuses = new Array<number>(64).fill(0);
      for (const [k, v] of Object.entries(revoked)) statuses[Number(k)] = v;
      return signStatusList({ school: SCHOOL, version, iat, statuses }, issuer.privateKey);
    },
    roster: (version, iat) =>
      signRoster(
        {
          school: SCHOOL,
          version,
          iat,
          cards: [...cards.values()].map(rosterEntry),
        },
        issuer.privateKey,
      ),
    code: async (cardId, t, opts = {}) => {
      const c = must(cardId);
      return encodeQr(
        await createPresentation(
          {
            credential: c.credential,
            t,
            nonce: opts.nonce ?? nextNonce(),
            ...(opts.scene === undefined ? {} : { scene: opts.scene }),
          },
          c.phone.privateKey,
        ),
      );
    },
    compact: async (cardId, t, opts = {}) => {
      const c = must(cardId);
      return encodeQr(
        await createCompactPresentation(
          {
            cardId,
            t,
            nonce: opts.nonce ?? nextNonce(),
            ...(opts.scene === undefined ? {} : { scene: opts.scene }),
          },
          c.phone.privateKey,
        ),
      );
    },
  };
}

/** A campus card's roster entry: its phone key, hashed UID, groups, expiring T0 + 29 days. */
export function rosterEntry(c: Card) {
  return {
    cardId: c.cardId,
    role: c.role,
    statusIndex: c.statusIndex,
    keys: [c.phone.publicKey],
    uidHashes: c.uid ? [computeUidHash(SCHOOL, c.uid)] : [],
    groups: c.groups ?? [],
    exp: T0 + 29 * DAY,
  };
}

/** A campus's signed trust material as most tests load it: trust list, status list and roster, version 1. */
export interface TrustMaterial {
  readonly tl: Uint8Array;
  readonly sl: Uint8Array;
  readonly roster: Uint8Array;
}

/** Signs {@link TrustMaterial} for `campus`: the trust list at T0 − 1 h, the status list and roster at T0 − 10 min. */
export async function trustMaterial(campus: Campus): Promise<TrustMaterial> {
  return {
    tl: await campus.trustList(1, T0 - 3600),
    sl: await campus.statusList(1, T0 - 600),
    roster: await campus.roster(1, T0 - 600),
  };
}

/**
 * A verifier for `campus` (its root key; `options` on top) with `material` loaded at T0: the
 * trust list, the status list and, unless `roster` is false, the roster. Each load must succeed.
 */
export function loadedVerifier(
  campus: Campus,
  material: TrustMaterial,
  options: Partial<VerifierOptions> = {},
  { roster = true }: { roster?: boolean } = {},
): Verifier {
  const v = createVerifier({ rootKeys: [campus.root.publicKey], ...options });
  expect(v.loadTrustList(material.tl, { now: T0 }).ok).toBe(true);
  expect(v.loadStatusList(material.sl, { now: T0 }).ok).toBe(true);
  if (roster) expect(v.loadRoster(material.roster, { now: T0 }).ok).toBe(true);
  return v;
}
