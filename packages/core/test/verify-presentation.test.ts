/**
 * Issuer limits (spec §3): which trust-list entries admit a credential, a status list or a roster.
 * A key listed in several entries is admitted by any of them; an entry with empty `schools` covers
 * every school of the list's authority: any school for `"platform"`, its own for a school.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeProtected } from '../src/cose-sign1.js';
import {
  type Alg,
  type CampusCardError,
  type CredentialCache,
  createPresentation,
  encodeQr,
  generateKeyPair,
  issueCredential,
  type PrivateKey,
  type PublicKey,
  type Role,
  type SignatureBackend,
  signRoster,
  signStatusList,
  signTrustList,
  type TrustList,
  type TrustListInput,
  toHex,
  type VerifiedCredential,
  verifyBytes,
  verifyCredentialIssuer,
  verifyPresentation,
  verifyPresentationEager,
  verifyRoster,
  verifyStatusList,
  verifyTrustList,
} from '../src/index.js';
import { type CborValue, decodeCbor, encodeCbor } from '../src/lib/cbor.js';

const NOW = 1_767_225_600;
const DAY = 86_400;
const YEAR = 365 * DAY;

let root: PrivateKey;
let issuer: PrivateKey;
let phone: PrivateKey;

beforeAll(() => {
  root = generateKeyPair('ES256').privateKey;
  issuer = generateKeyPair('ES256').privateKey;
  phone = generateKeyPair('ES256').privateKey;
});

async function trustList(authority: string, keys: TrustListInput['keys'], version = 1): Promise<TrustList> {
  return verifyTrustList(await signTrustList({ version, iat: NOW - 60, authority, keys }, root), [
    root.publicKey,
  ]);
}

function entry(roles: Role[], schools: string[] | undefined, nbf = NOW - YEAR, exp = NOW + YEAR) {
  return { key: issuer.publicKey, roles, nbf, exp, ...(schools === undefined ? {} : { schools }) };
}

async function credential(
  school: string | undefined,
  role: Role,
  cardId = 'T-0042',
  holder: PublicKey = phone.publicKey,
): Promise<Uint8Array> {
  return issueCredential(
    {
      // without a school: no iss, the reader takes the school from the issuer key's entry
      school: school ?? '',
      includeSchool: school !== undefined,
      cardId,
      role,
      iat: NOW - DAY,
      validityDays: 30,
      holderKey: holder,
      statusIndex: 3,
    },
    issuer,
  );
}

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return (e as CampusCardError).code;
  }
  return 'accepted';
}

describe('one issuer key in several trust-list entries', () => {
  let tl: TrustList;
  beforeAll(async () => {
    tl = await trustList('platform', [entry(['student'], ['10001']), entry(['teacher'], ['10002'])]);
  });

  it('a credential is admitted when any entry of its key allows its role, school and iat', async () => {
    const teacher = await verifyCredentialIssuer(await credential('10002', 'teacher'), tl);
    expect(teacher.claims).toMatchObject({ school: '10002', role: 'teacher' });
    expect(teacher.entry).toBe(tl.keys[1]); // the entry that admitted it
    const student = await verifyCredentialIssuer(await credential('10001', 'student', '2024010001'), tl);
    expect(student.entry).toBe(tl.keys[0]);
  });

  it('refused when no entry does, with the first entry’s failing limit', async () => {
    // entry 0 refuses the role (and entry 1 the school)
    expect(await refusal(verifyCredentialIssuer(await credential('10001', 'teacher'), tl))).toBe(
      'ERR_ISSUER_ROLE_NOT_ALLOWED',
    );
    // entry 0 refuses the school (and entry 1 the role)
    expect(await refusal(verifyCredentialIssuer(await credential('10002', 'student'), tl))).toBe(
      'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
    );
    expect(await refusal(verifyCredentialIssuer(await credential('10003', 'teacher'), tl))).toBe(
      'ERR_ISSUER_ROLE_NOT_ALLOWED',
    );
    // validity: only the entry whose window holds the iat admits it
    const windows = await trustList('platform', [
      entry(['teacher'], ['10002'], NOW - YEAR, NOW - 30 * DAY),
      entry(['teacher'], ['10002'], NOW - 2 * DAY, NOW + YEAR),
    ]);
    expect((await verifyCredentialIssuer(await credential('10002', 'teacher'), windows)).entry).toBe(
      windows.keys[1],
    );
    const expired = await trustList('platform', [
      entry(['teacher'], ['10002'], NOW - YEAR, NOW - 30 * DAY),
      entry(['student'], ['10002']),
    ]);
    expect(await refusal(verifyCredentialIssuer(await credential('10002', 'teacher'), expired))).toBe(
      'ERR_ISSUER_KEY_EXPIRED',
    );
  });

  it('a credential without iss takes the one school its admitting entries name; two schools are ambiguous', async () => {
    const noIss = await credential(undefined, 'teacher');
    expect((await verifyCredentialIssuer(noIss, tl)).claims.school).toBe('10002');
    const both = await trustList('platform', [entry(['teacher'], ['10001']), entry(['teacher'], ['10002'])]);
    expect(await refusal(verifyCredentialIssuer(noIss, both))).toBe('ERR_STRUCTURE');
    const same = await trustList('platform', [entry(['teacher'], ['10002']), entry(['teacher'], ['10002'])]);
    expect((await verifyCredentialIssuer(noIss, same)).claims.school).toBe('10002');
    const wide = await trustList('platform', [entry(['teacher'], ['10002']), entry(['teacher'], [])]);
    expect(await refusal(verifyCredentialIssuer(noIss, wide))).toBe('ERR_STRUCTURE');
  });

  it('full codes through verifyPresentationEager, with and without a credential cache', async () => {
    const statusLists = [
      verifyStatusList(
        await signStatusList({ school: '10002', version: 1, iat: NOW - 60, statuses: [0, 0, 0, 0] }, issuer),
        tl,
      ),
    ];
    const teacher = await credential('10002', 'teacher');
    let n = 0;
    const code = async (cred: Uint8Array) =>
      encodeQr(
        await createPresentation({ credential: cred, t: NOW, nonce: new Uint8Array([0, 0, 0, ++n]) }, phone),
      );
    let checks = 0;
    const backend: SignatureBackend = {
      verify(key, data, sig) {
        checks++;
        return verifyBytes(key, data, sig);
      },
    };
    const cache = new Map<string, VerifiedCredential>() as CredentialCache;
    for (const credentialCache of [undefined, cache]) {
      const options = {
        trustList: tl,
        statusLists,
        now: NOW,
        backend,
        ...(credentialCache && { credentialCache }),
      };
      const first = verifyPresentationEager(await code(teacher), options);
      expect(first).toMatchObject({ school: '10002', role: 'teacher', cardId: 'T-0042' });
      const again = verifyPresentationEager(await code(teacher), options);
      expect(again).toMatchObject({ school: '10002', role: 'teacher' });
    }
    // the cached value remembers the entry that admitted the credential
    expect([...(cache as Map<string, VerifiedCredential>).values()].map((v) => v.entry)).toEqual([
      tl.keys[1],
    ]);
    // a cache hit skipped the issuer check: 2 + 2 checks without the cache, 2 + 1 with it
    expect(checks).toBe(7);
    // a new list that drops the teacher entry: the cached credential is checked again and refused
    const narrowed = await trustList('platform', [entry(['student'], ['10001'])], 2);
    const later = await code(teacher);
    const denied = await refusal(() =>
      verifyPresentationEager(later, {
        trustList: narrowed,
        statusLists,
        now: NOW,
        backend,
        credentialCache: cache,
      }),
    );
    expect(denied).toBe('ERR_ISSUER_ROLE_NOT_ALLOWED');
  });
});

describe("status lists and rosters whose header alg is not their key's", () => {
  /** `bytes` with its protected header replaced by `{1: alg, 4: kid}` and a zero signature. */
  function withHeader(bytes: Uint8Array, alg: Alg, kid: Uint8Array): Uint8Array {
    const parts = decodeCbor(bytes, { maxBytes: 4096 }, 'test') as CborValue[];
    return encodeCbor([encodeProtected(alg, kid), new Map(), parts[2] as Uint8Array, new Uint8Array(64)]);
  }

  it('are ERR_ALG_NOT_ALLOWED, as trust lists and credentials are (spec §2.2)', async () => {
    const tl = await trustList('10001', [entry(['teacher'], [])]);
    // the issuer's kid, but an EdDSA header over an ES256 key (a Signer can no longer say so: toSigner)
    const good = await signStatusList({ school: '10001', version: 1, iat: NOW - 60, statuses: [0] }, issuer);
    const goodRoster = await signRoster({ school: '10001', version: 1, iat: NOW - 60, cards: [] }, issuer);
    const sl = withHeader(good, 'EdDSA', issuer.kid);
    const ro = withHeader(goodRoster, 'EdDSA', issuer.kid);
    expect(await refusal(() => verifyStatusList(sl, tl))).toBe('ERR_ALG_NOT_ALLOWED');
    expect(await refusal(() => verifyRoster(ro, tl))).toBe('ERR_ALG_NOT_ALLOWED');
    // the right alg with a bad signature stays ERR_SIGNATURE_INVALID
    const sl2 = withHeader(good, 'ES256', issuer.kid);
    expect(await refusal(() => verifyStatusList(sl2, tl))).toBe('ERR_SIGNATURE_INVALID');
  });
});

describe('time-window options of verifyPresentation', () => {
  it('a maxAge, maxFuture or clockSkew that is NaN, negative, infinite or not a number is refused, never an open window', async () => {
    const tl = await trustList('platform', [entry(['teacher'], [])]);
    const statusList = verifyStatusList(
      await signStatusList({ school: '10001', version: 1, iat: NOW - 60, statuses: [0, 0, 0, 0] }, issuer),
      tl,
    );
    const cred = await credential('10001', 'teacher');
    // an hour old: refused with the defaults
    const old = encodeQr(await createPresentation({ credential: cred, t: NOW - 3600 }, phone));
    const base = { trustList: tl, statusLists: [statusList], now: NOW };
    expect(await refusal(() => verifyPresentationEager(old, base))).toBe('ERR_PRESENTATION_TOO_OLD');
    for (const name of ['maxAge', 'maxFuture', 'clockSkew'] as const) {
      for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY, '90']) {
        const options = { ...base, [name]: bad as number };
        // before any check, in both entry points: a NaN window would have let the old code in
        expect(() => verifyPresentationEager(old, options)).toThrow(
          typeof bad === 'string' ? TypeError : RangeError,
        );
        await expect(verifyPresentation(old, options)).rejects.toThrow(/must be/);
      }
    }
    // 0 is a window too, and a finite one wide enough admits the code
    expect(await refusal(() => verifyPresentationEager(old, { ...base, maxAge: 0 }))).toBe(
      'ERR_PRESENTATION_TOO_OLD',
    );
    expect(await refusal(() => verifyPresentationEager(old, { ...base, maxAge: 3600 }))).toBe('accepted');
  });
});

describe('verifyCredentialIssuer input', () => {
  it('anything but a Uint8Array is ERR_INPUT_TYPE, not read as an already decoded COSE_Sign1', async () => {
    const tl = await trustList('platform', [entry(['teacher'], [])]);
    const bytes = await credential('10001', 'teacher');
    const decoded = decodeCbor(bytes, { maxBytes: 600 }, 'test');
    for (const bad of [decoded, toHex(bytes), null, undefined, 42]) {
      expect(await refusal(verifyCredentialIssuer(bad as Uint8Array, tl))).toBe('ERR_INPUT_TYPE');
    }
    expect((await verifyCredentialIssuer(bytes, tl)).claims.school).toBe('10001');
  });
});

describe('empty `schools`: every school the authority covers', () => {
  it('in a school’s own list the entry covers that school only, for credentials', async () => {
    const own = await trustList('10001', [entry(['teacher'], [])]);
    const c10001 = await verifyCredentialIssuer(await credential('10001', 'teacher'), own);
    expect(c10001.claims.school).toBe('10001');
    expect(await refusal(verifyCredentialIssuer(await credential('10002', 'teacher'), own))).toBe(
      'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
    );
    // a platform list: every school
    const platform = await trustList('platform', [entry(['teacher'], [])]);
    expect((await verifyCredentialIssuer(await credential('10002', 'teacher'), platform)).claims.school).toBe(
      '10002',
    );
    // an absent `schools` is the same as an empty one
    const absent = await trustList('10001', [entry(['teacher'], undefined)]);
    expect(await refusal(verifyCredentialIssuer(await credential('10002', 'teacher'), absent))).toBe(
      'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
    );
  });

  it('… for status lists', async () => {
    const own = await trustList('10001', [entry(['teacher'], [])]);
    const list = (school: string) =>
      signStatusList({ school, version: 1, iat: NOW - 60, statuses: [0, 0, 0, 0] }, issuer);
    expect(verifyStatusList(await list('10001'), own).school).toBe('10001');
    const other = await list('10002');
    expect(await refusal(() => verifyStatusList(other, own))).toBe('ERR_UNKNOWN_ISSUER');
    expect(verifyStatusList(other, await trustList('platform', [entry(['teacher'], [])])).school).toBe(
      '10002',
    );
  });

  it('… and for rosters', async () => {
    const own = await trustList('10001', [entry(['teacher'], [])]);
    const roster = (school: string) => signRoster({ school, version: 1, iat: NOW - 60, cards: [] }, issuer);
    expect(verifyRoster(await roster('10001'), own).school).toBe('10001');
    const other = await roster('10002');
    expect(await refusal(() => verifyRoster(other, own))).toBe('ERR_UNKNOWN_ISSUER');
    expect(verifyRoster(other, await trustList('platform', [entry(['teacher'], [])])).school).toBe('10002');
  });
});
