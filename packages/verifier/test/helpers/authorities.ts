/**
 * Fixtures of a reader holding trust lists of several authorities (spec §3, §7.1): the platform's
 * root and school 10001's root, an issuer of each, one phone, and the lists, status lists and codes
 * made with them.
 */
import {
  createPresentation,
  encodeQr,
  generateKeyPair,
  issueCredential,
  type PrivateKey,
  type PublicKey,
  type Role,
  signStatusList,
  signTrustList,
  type TrustAnchor,
} from '@campus-card/core';
import { seed, T0 } from './fixtures.js';

export const DAY = 86_400;
/** The school whose root is an anchor (its own authority). */
export const SCHOOL = '10001';
/** Another school, whose cards only the platform's list admits. */
export const OTHER = '10002';
export const gate = { id: 'gate-1' };

export type Pair = { privateKey: PrivateKey; publicKey: PublicKey };
export const pair = (n: number): Pair => generateKeyPair('ES256', { seed: seed(n) });

export const platformRoot = pair(201);
export const schoolRoot = pair(202);
export const platformIssuer = pair(203);
export const schoolIssuer = pair(204);
export const phone = pair(205);
/** An issuer no list trusts unless a test lists it. */
export const otherIssuer = pair(206);

/** The platform's root bound to `"platform"`, school 10001's to 10001. */
export const ANCHORS: readonly TrustAnchor[] = [
  { key: platformRoot.publicKey, authority: 'platform' },
  { key: schoolRoot.publicKey, authority: SCHOOL },
];

/** An issuer key a trust list names: for its `schools` (default none: the list's own rule) and `roles`. */
export interface IssuerEntry {
  key: Pair;
  schools?: string[];
  roles?: Role[];
}

export interface ListOptions {
  /** Default an hour before T0. */
  iat?: number;
  issuers?: IssuerEntry[];
}

/**
 * A trust list of `authority`, signed by `root`, naming `issuers` (a bare pair: that issuer for
 * students and teachers) for a year either side of T0.
 */
export function trustList(
  authority: string,
  root: Pair,
  version: number,
  issuers: Pair | readonly IssuerEntry[],
  iat = T0 - 3600,
): Promise<Uint8Array> {
  const entries: readonly IssuerEntry[] = 'privateKey' in issuers ? [{ key: issuers }] : issuers;
  return signTrustList(
    {
      version,
      iat,
      authority,
      keys: entries.map((i) => ({
        key: i.key.publicKey,
        roles: i.roles ?? ['student', 'teacher'],
        nbf: T0 - 365 * DAY,
        exp: T0 + 365 * DAY,
        ...(i.schools === undefined ? {} : { schools: i.schools }),
      })),
    },
    root.privateKey,
  );
}

/** The platform's list (its issuer for any school, unless `issuers` says otherwise). */
export function platformList(version: number, o: ListOptions = {}): Promise<Uint8Array> {
  return trustList('platform', platformRoot, version, o.issuers ?? platformIssuer, o.iat);
}

/** School 10001's list (its issuer for 10001: `schools` empty, unless `issuers` says otherwise). */
export function schoolList(version: number, o: ListOptions = {}): Promise<Uint8Array> {
  return trustList(SCHOOL, schoolRoot, version, o.issuers ?? schoolIssuer, o.iat);
}

/** The status list of `school` signed by `issuer`: 16 cards, none revoked unless `statuses` says. */
export function statusList(
  school: string,
  issuer: Pair,
  o: { version?: number; iat?: number; statuses?: number[] } = {},
): Promise<Uint8Array> {
  return signStatusList(
    {
      school,
      version: o.version ?? 1,
      iat: o.iat ?? T0 - 600,
      statuses: o.statuses ?? new Array<number>(16).fill(0),
    },
    issuer.privateKey,
  );
}

let nonce = 0;
/**
 * A fresh full-mode code (its own nonce) of card `card-<school>`, a student (status index 1) of
 * `school` issued by `issuer` a day before T0, shown at `t` (default T0).
 */
export async function code(issuer: Pair, school: string, t = T0): Promise<string> {
  const credential = await issueCredential(
    {
      school,
      cardId: `card-${school}`,
      role: 'student',
      iat: T0 - DAY,
      validityDays: 30,
      holderKey: phone.publicKey,
      statusIndex: 1,
    },
    issuer.privateKey,
  );
  nonce++;
  return encodeQr(
    await createPresentation(
      { credential, t, nonce: new Uint8Array([0, 0, nonce >> 8, nonce & 255]) },
      phone.privateKey,
    ),
  );
}
