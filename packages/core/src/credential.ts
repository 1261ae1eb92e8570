/**
 * Card credential (spec §4): a COSE_Sign1 by an issuer key over CWT claims that bind the card
 * (school, card id, role, status index) to the phone's public key.
 *
 * @module
 */
import { decodeSign1, type Sign1, signSign1 } from './cose-sign1.js';
import { CampusCardError } from './errors.js';
import { exportCoseKey, importCoseKey, type PrivateKey, type PublicKey, type Signer } from './keys.js';
import { type CborValue, cmap, decodeCbor, encodeCbor } from './lib/cbor.js';
import { arrayField, asMap, onlyKeys, textArrayField, textField, uintField } from './lib/fields.js';
import { CREDENTIAL_LIMITS } from './lib/limits.js';
import { ROLE_CODE, type Role, roleFromCode } from './roles.js';
import { assertBytes } from './trust-list.js';

const S = '4.1';
/** Seconds in a day: the credential's validity is counted in days. */
export const DAY_SECONDS = 86_400;
/** Longest validity a credential may have, days. */
export const MAX_VALIDITY_DAYS = 400;

/** The claims of a card credential, decoded. */
export interface CredentialClaims {
  /**
   * School id (CWT `iss`). Absent when the issuer key is limited to exactly one school, which
   * then names it (spec §4.1); {@link verifyCredentialIssuer} resolves it.
   */
  readonly school: string | undefined;
  /** Card id, unique within the school (CWT `sub`). */
  readonly cardId: string;
  /** Card role. */
  readonly role: Role;
  /** Issued at, unix seconds. */
  readonly iat: number;
  /** Validity, days (1–400). */
  readonly validityDays: number;
  /** Expiry, unix seconds: `iat + validityDays × 86 400`. */
  readonly exp: number;
  /** The phone's public key (`cnf`). */
  readonly holderKey: PublicKey;
  /** Index in the school status list. */
  readonly statusIndex: number;
  /** Linked physical card number, if any (C5). */
  readonly physicalCard: string | undefined;
  /** Group memberships used by reader policies. */
  readonly groups: readonly string[];
  /** For parent cards: the linked students' card ids. */
  readonly linkedCards: readonly string[];
}

/** Input of {@link issueCredential}. */
export interface IssueCredentialInput {
  school: string;
  /**
   * Whether to write the school id into the credential (`iss`). Default true. Set it to false,
   * saving 7 bytes or more of QR, only when the issuer key is limited to exactly this one school
   * in the trust list: readers then take the school from the trust list (spec §4.1).
   */
  includeSchool?: boolean;
  cardId: string;
  role: Role;
  /** Issued at, unix seconds. */
  iat: number;
  /** Validity in days (1–400): how long the phone can work offline. */
  validityDays: number;
  /** The phone's public key. */
  holderKey: PublicKey;
  statusIndex: number;
  physicalCard?: string;
  groups?: readonly string[];
  linkedCards?: readonly string[];
}

/**
 * Issues a credential (issuer side). The issuer key must be in the reader's trust list with the
 * credential's role and school.
 *
 * @example
 * ```ts
 * const credential = await issueCredential({ school: '10001', cardId: '2024010001', role: 'student',
 *   iat: now, validityDays: 30, holderKey: phone.publicKey, statusIndex: 17 }, issuer.privateKey);
 * ```
 */
export async function issueCredential(
  input: IssueCredentialInput,
  issuerKey: PrivateKey | Signer,
): Promise<Uint8Array> {
  const payload = encodeCredentialClaims(input);
  // the rules and limits a reader applies (spec §2.1, §4.1), before signing
  parseCredentialClaims(payload);
  return signSign1(payload, issuerKey, {
    header: 'alg+kid',
    limit: { maxBytes: CREDENTIAL_LIMITS.maxBytes, what: 'credential' },
  });
}

/** Encodes the CWT claims of a credential (deterministic). */
export function encodeCredentialClaims(input: IssueCredentialInput): Uint8Array {
  const extras = cmap([
    [4, input.physicalCard],
    [5, input.groups && input.groups.length > 0 ? [...input.groups] : undefined],
    [6, input.linkedCards && input.linkedCards.length > 0 ? [...input.linkedCards] : undefined],
  ]);
  const cc: CborValue[] = [ROLE_CODE[input.role], input.statusIndex, input.validityDays];
  if (extras.size > 0) cc.push(extras);
  return encodeCbor(
    cmap([
      [1, input.includeSchool === false ? undefined : input.school],
      [2, input.cardId],
      [6, input.iat],
      [8, cmap([[1, exportCoseKey(input.holderKey, { compressed: true, alg: false })]])],
      ['c', cc],
    ]),
  );
}

/** Parses the claims of a credential payload (no signature check). */
export function parseCredentialClaims(payload: Uint8Array): CredentialClaims {
  const m = asMap(decodeCbor(payload, CREDENTIAL_LIMITS, 'credential claims'), 'credential claims', S);
  onlyKeys(m, [1, 2, 6, 8, 'c'], 'credential claims', S);
  const cnf = asMap(m.get(8), 'credential cnf', S);
  onlyKeys(cnf, [1], 'credential cnf', S);
  const cc = arrayField(m.get('c'), 'credential campus claims', S, 3);
  if (cc.length > 4)
    throw new CampusCardError('ERR_STRUCTURE', 'credential: campus claims has 3 or 4 elements', {
      section: S,
    });
  const extras =
    cc.length === 4 ? asMap(cc[3], 'credential campus extras', S) : new Map<number | string, CborValue>();
  onlyKeys(extras, [4, 5, 6], 'credential campus extras', S);
  if (cc.length === 4 && extras.size === 0) {
    throw new CampusCardError('ERR_STRUCTURE', 'credential: empty campus extras must be left out', {
      section: S,
    });
  }
  const role = roleFromCode(cc[0]);
  if (!role) throw new CampusCardError('ERR_STRUCTURE', 'credential: unknown role', { section: S });
  const iat = uintField(m.get(6), 'credential iat', S);
  const validityDays = uintField(cc[2], 'credential validity', S, MAX_VALIDITY_DAYS);
  if (validityDays < 1)
    throw new CampusCardError('ERR_STRUCTURE', 'credential: validity must be ≥ 1 day', { section: S });
  return Object.freeze({
    school: m.has(1) ? textField(m.get(1), 'credential iss', S) : undefined,
    cardId: textField(m.get(2), 'credential sub', S),
    role,
    iat,
    validityDays,
    exp: iat + validityDays * DAY_SECONDS,
    holderKey: importCoseKey(cnf.get(1), { algLabel: 'forbidden' }),
    statusIndex: uintField(cc[1], 'credential status index', S, 0xffffffff),
    physicalCard: extras.has(4) ? textField(extras.get(4), 'credential physical card', S) : undefined,
    groups: Object.freeze(extras.has(5) ? textArrayField(extras.get(5), 'credential groups', S, 1) : []),
    linkedCards: Object.freeze(
      extras.has(6) ? textArrayField(extras.get(6), 'credential linked cards', S, 1) : [],
    ),
  });
}

/** A credential decoded without verification. */
export interface DecodedCredential {
  /** The COSE_Sign1 envelope. */
  readonly sign1: Sign1;
  /** The claims: NOT trusted until the issuer signature is verified. */
  readonly claims: CredentialClaims;
}

/** Decodes a credential without verifying it (diagnostics). */
export function decodeCredential(bytes: Uint8Array): DecodedCredential {
  assertBytes(bytes);
  const sign1 = decodeSign1(bytes, CREDENTIAL_LIMITS, 'credential', true);
  return { sign1, claims: parseCredentialClaims(sign1.payload) };
}
