/**
 * Trust material and codes for the verifier plan's stateful sequences, made at run time with
 * `@campus-card/core` from fixed seeds: the same bytes on every run, nothing stored on disk.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import {
  createCompactPresentation,
  createPresentation,
  decodeSign1,
  encodeQr,
  exportJwk,
  generateKeyPair,
  issueCredential,
  type Jwk,
  KEY_USE,
  type PrivateKey,
  sign1ToBeSigned,
  signBytes,
  signRoster,
  signStatusList,
  signTrustList,
} from '@campus-card/core';

/** The scenario clock origin: 2026-03-01T00:00:00Z. Later times are offsets from it. */
export const T0 = 1_772_323_200;
/** One day, seconds. */
export const DAY = 86_400;
/** The school of the scenarios. */
export const SCHOOL = '20002';
/** Another school, which the scenario school's root must never speak for (token-format §3). */
export const OTHER_SCHOOL = '20003';
/** The card of the scenarios and its status list index. */
export const CARD_ID = '2026000077';
export const STATUS_INDEX = 77;
/**
 * The roster card of the scenarios (compact mode) and its status list index, valid in every
 * scenario status list.
 */
export const ROSTER_CARD_ID = '2026000078';
export const ROSTER_STATUS_INDEX = 78;

function seeded(name: string): PrivateKey {
  const seed = createHash('sha512').update(`campus-card/conformance/${name}`).digest().subarray(0, 48);
  return generateKeyPair('ES256', { seed: new Uint8Array(seed) }).privateKey;
}

/**
 * The scenario keys: a root (the platform's), the scenario school's root, two issuers (for rotation,
 * or one listed by each authority), a status list and roster signer, a phone and a second phone (a
 * phone key a later roster removes).
 */
export interface ScenarioKeys {
  readonly root: PrivateKey;
  readonly schoolRoot: PrivateKey;
  readonly issuer: PrivateKey;
  readonly issuer2: PrivateKey;
  readonly status: PrivateKey;
  readonly holder: PrivateKey;
  readonly holder2: PrivateKey;
}

/** A phone of the scenarios. */
export type Phone = 'holder' | 'holder2';

let cachedKeys: ScenarioKeys | undefined;

/** The scenario keys (deterministic). */
export function scenarioKeys(): ScenarioKeys {
  cachedKeys ??= {
    root: seeded('root'),
    schoolRoot: seeded('school-root'),
    issuer: seeded('issuer'),
    issuer2: seeded('issuer-2'),
    status: seeded('status'),
    holder: seeded('holder'),
    holder2: seeded('holder-2'),
  };
  return cachedKeys;
}

/** The root public key as a JWK, for `reset`. */
export function rootJwk(): Jwk {
  return exportJwk(scenarioKeys().root.publicKey);
}

/** The scenario school's root public key as a JWK, for `reset` (with the authority {@link SCHOOL}). */
export function schoolRootJwk(): Jwk {
  return exportJwk(scenarioKeys().schoolRoot.publicKey);
}

/** Hex of a byte array. */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/**
 * A platform trust list of `version` signed at `iat` by the platform's root, naming `issuers`
 * (default the first issuer) and the status key, for the scenario school.
 */
export function trustList(
  version: number,
  iat: number,
  issuers: readonly ('issuer' | 'issuer2')[] = ['issuer'],
): Promise<string> {
  return authorityTrustList(version, iat, { authority: 'platform', signer: 'root', issuers });
}

/** Options of {@link authorityTrustList}. */
export interface AuthorityTrustListOptions {
  /** The `authority` the list states: `"platform"` or a school id. */
  readonly authority: string;
  /** The root that signs it: the platform's (`root`) or the scenario school's (`schoolRoot`). */
  readonly signer: 'root' | 'schoolRoot';
  /** The issuer keys it lists for credentials. Default the second issuer (`issuer2`). */
  readonly issuers?: readonly ('issuer' | 'issuer2')[];
}

/**
 * A trust list of `version` signed at `iat` by `options.signer`, stating `options.authority`: its
 * issuers (credentials) and the status key (status lists, rosters), each for the one school the
 * authority covers (the scenario school for `"platform"`, else the authority itself).
 */
export async function authorityTrustList(
  version: number,
  iat: number,
  options: AuthorityTrustListOptions,
): Promise<string> {
  const k = scenarioKeys();
  const schools = [options.authority === 'platform' ? SCHOOL : options.authority];
  const span = { nbf: T0 - 400 * DAY, exp: T0 + 800 * DAY, schools };
  return hexOf(
    await signTrustList(
      {
        version,
        iat,
        authority: options.authority,
        keys: [
          ...(options.issuers ?? ['issuer2']).map((name) => ({
            key: k[name].publicKey,
            roles: ['student', 'teacher'] as const,
            uses: KEY_USE.credentials,
            ...span,
          })),
          {
            key: k.status.publicKey,
            roles: ['teacher', 'student', 'parent'] as const,
            uses: KEY_USE.statusLists | KEY_USE.rosters,
            ...span,
          },
        ],
      },
      k[options.signer],
    ),
  );
}

/**
 * The scenario school's list (authority {@link SCHOOL}, signed by its root) whose one entry names
 * {@link OTHER_SCHOOL}: malformed (token-format §3), so no encoder signs it. It is a well-formed list
 * for the scenario school with the entry's school patched (same length, so every CBOR head stays
 * right), then signed again by the school's root.
 */
export async function schoolListNamingOtherSchool(version: number, iat: number): Promise<string> {
  const k = scenarioKeys();
  const own = await signTrustList(
    {
      version,
      iat,
      authority: SCHOOL,
      keys: [
        {
          key: k.issuer2.publicKey,
          roles: ['student', 'teacher'],
          uses: KEY_USE.credentials,
          nbf: T0 - 400 * DAY,
          exp: T0 + 800 * DAY,
          schools: [SCHOOL],
        },
      ],
    },
    k.schoolRoot,
  );
  // `5: ["20002"]` in the entry (map key 5, an array of 1, a text of 5); the authority is `3: "20002"`
  const text = (school: string) => [0x05, 0x81, 0x60 + school.length, ...new TextEncoder().encode(school)];
  const find = text(SCHOOL);
  const at: number[] = [];
  for (let i = 0; i + find.length <= own.length; i++) {
    if (find.every((b, j) => own[i + j] === b)) at.push(i);
  }
  if (at.length !== 1)
    throw new Error(`schoolListNamingOtherSchool: the entry's schools found ${at.length} times`);
  const forged = Uint8Array.from(own);
  forged.set(text(OTHER_SCHOOL), at[0]);
  const sign1 = decodeSign1(forged, { maxBytes: 4096 }, 'trust list', true);
  forged.set(
    signBytes(k.schoolRoot, sign1ToBeSigned(sign1.protectedBytes, sign1.payload)),
    forged.length - 64,
  );
  return hexOf(forged);
}

/** A status list of `version` signed at `iat`; `card` is the scenario card's status (0 valid, 1 revoked, 2 lost). */
export async function statusList(version: number, iat: number, card = 0): Promise<string> {
  const statuses = new Array<number>(1024).fill(0);
  statuses[STATUS_INDEX] = card;
  return hexOf(
    await signStatusList({ school: SCHOOL, version, iat, bits: 2, statuses }, scenarioKeys().status),
  );
}

/**
 * A roster of `version` signed at `iat` by the status key: the roster card with the phone keys of
 * `phones` (default the first phone).
 */
export async function roster(
  version: number,
  iat: number,
  phones: readonly Phone[] = ['holder'],
): Promise<string> {
  const k = scenarioKeys();
  return hexOf(
    await signRoster(
      {
        school: SCHOOL,
        version,
        iat,
        cards: [
          {
            cardId: ROSTER_CARD_ID,
            role: 'student',
            statusIndex: ROSTER_STATUS_INDEX,
            keys: phones.map((name) => k[name].publicKey),
            exp: T0 + 60 * DAY,
          },
        ],
      },
      k.status,
    ),
  );
}

const credentials = new Map<string, Uint8Array>();

/** The scenario card's credential, issued at `T0 − 10 days` for 60 days by `issuer`. */
export async function credential(issuer: 'issuer' | 'issuer2' = 'issuer'): Promise<Uint8Array> {
  const hit = credentials.get(issuer);
  if (hit !== undefined) return hit;
  const k = scenarioKeys();
  const c = await issueCredential(
    {
      school: SCHOOL,
      includeSchool: false,
      cardId: CARD_ID,
      role: 'student',
      iat: T0 - 10 * DAY,
      validityDays: 60,
      holderKey: k.holder.publicKey,
      statusIndex: STATUS_INDEX,
    },
    k[issuer],
  );
  credentials.set(issuer, c);
  return c;
}

/** Options of {@link code}. */
export interface CodeOptions {
  /** The nonce's last byte (codes at the same `t` differ by nonce). Default 1. */
  readonly nonce?: number;
  readonly issuer?: 'issuer' | 'issuer2';
  readonly scene?: number;
}

/** A full-mode QR code made by the scenario phone at time `t`. */
export async function code(t: number, options: CodeOptions = {}): Promise<string> {
  const nonce = new Uint8Array([0xc0, 0xf0, (t >>> 8) & 0xff, options.nonce ?? 1]);
  const bytes = await createPresentation(
    {
      credential: await credential(options.issuer),
      t,
      nonce,
      ...(options.scene === undefined ? {} : { scene: options.scene }),
    },
    scenarioKeys().holder,
  );
  return encodeQr(bytes);
}

/** Options of {@link compactCode}. */
export interface CompactCodeOptions {
  /** The nonce's last byte (codes at the same `t` differ by nonce). Default 1. */
  readonly nonce?: number;
  /** The phone that makes the code. Default the first phone. */
  readonly phone?: Phone;
}

/** A compact-mode QR code of the roster card made by a scenario phone at time `t` (token-format §5.2). */
export async function compactCode(t: number, options: CompactCodeOptions = {}): Promise<string> {
  const nonce = new Uint8Array([0xc0, 0xf1, (t >>> 8) & 0xff, options.nonce ?? 1]);
  const bytes = await createCompactPresentation(
    { cardId: ROSTER_CARD_ID, t, nonce },
    scenarioKeys()[options.phone ?? 'holder'],
  );
  return encodeQr(bytes);
}

const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;

/**
 * The high-S twin of a code: the same signed fields, the phone's ECDSA signature `(r, s)` replaced
 * by `(r, n − s)`, which verifies too (token-format §2.3). A replay window keyed on signature bytes
 * would take it for a new code.
 */
export async function highSTwin(t: number, options: CodeOptions = {}): Promise<string> {
  const nonce = new Uint8Array([0xc0, 0xf0, (t >>> 8) & 0xff, options.nonce ?? 1]);
  const bytes = Uint8Array.from(
    await createPresentation(
      { credential: await credential(options.issuer), t, nonce },
      scenarioKeys().holder,
    ),
  );
  const sig = bytes.subarray(bytes.length - 64);
  const s = BigInt(`0x${hexOf(sig.subarray(32))}`);
  const twin = (P256_N - s).toString(16).padStart(64, '0');
  sig.set(Buffer.from(twin, 'hex'), 32);
  return encodeQr(bytes);
}
