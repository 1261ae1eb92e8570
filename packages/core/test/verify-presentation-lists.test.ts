/**
 * Several trust lists held at once (spec §3: the platform's and a school's): core's checks of a
 * credential, a status list and a roster take them as an array. Each entry keeps its own list's
 * rules (an empty `schools` covers any school in the platform's list, only the authority's own
 * school in a school's list); any entry of any list with the kid may admit; when none does, the
 * error is the first limit broken by the first entry with the verifying key, lists in the order
 * given.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CampusCardError,
  createPresentation,
  encodeQr,
  generateKeyPair,
  issueCredential,
  type PrivateKey,
  type Role,
  type SignatureBackend,
  signRoster,
  signStatusList,
  signTrustList,
  type TrustList,
  type TrustListInput,
  type VerifiedCredential,
  verifyBytes,
  verifyCredentialIssuer,
  verifyPresentation,
  verifyRoster,
  verifyStatusList,
  verifyTrustList,
} from '../src/index.js';

const NOW = 1_767_225_600;
const DAY = 86_400;
const YEAR = 365 * DAY;

let platformRoot: PrivateKey;
let schoolRoot: PrivateKey;
let platformIssuer: PrivateKey;
let schoolIssuer: PrivateKey;
let phone: PrivateKey;

beforeAll(() => {
  [platformRoot, schoolRoot, platformIssuer, schoolIssuer, phone] = [1, 2, 3, 4, 5].map(
    () => generateKeyPair('ES256').privateKey,
  ) as [PrivateKey, PrivateKey, PrivateKey, PrivateKey, PrivateKey];
});

async function list(authority: string, root: PrivateKey, keys: TrustListInput['keys']): Promise<TrustList> {
  const anchors = [
    { key: platformRoot.publicKey, authority: 'platform' },
    { key: schoolRoot.publicKey, authority: '10001' },
  ];
  return verifyTrustList(await signTrustList({ version: 1, iat: NOW - 60, authority, keys }, root), anchors);
}

function entry(key: PrivateKey, roles: Role[], schools?: string[]) {
  return { key: key.publicKey, roles, nbf: NOW - YEAR, exp: NOW + YEAR, ...(schools ? { schools } : {}) };
}

function card(issuer: PrivateKey, school: string, role: Role = 'student'): Promise<Uint8Array> {
  return issueCredential(
    {
      school,
      cardId: '2024010001',
      role,
      iat: NOW - DAY,
      validityDays: 30,
      holderKey: phone.publicKey,
      statusIndex: 1,
    },
    issuer,
  );
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'accepted',
    (e: CampusCardError) => e.code,
  );
}

describe('a credential against several trust lists', () => {
  it("admits a platform card by the platform's list and a school card by the school's list", async () => {
    const platform = await list('platform', platformRoot, [entry(platformIssuer, ['student'])]);
    const school = await list('10001', schoolRoot, [entry(schoolIssuer, ['student'])]);
    const lists = [platform, school];
    const a = await verifyCredentialIssuer(await card(platformIssuer, '10002'), lists);
    expect(a.trustList).toBe(platform);
    expect(a.entry).toBe(platform.keys[0]);
    const b = await verifyCredentialIssuer(await card(schoolIssuer, '10001'), lists);
    expect(b.trustList).toBe(school);
    // either list alone refuses the other's card
    expect(await codeOf(verifyCredentialIssuer(await card(schoolIssuer, '10001'), platform))).toBe(
      'ERR_UNKNOWN_ISSUER',
    );
    expect(await codeOf(verifyCredentialIssuer(await card(platformIssuer, '10002'), school))).toBe(
      'ERR_UNKNOWN_ISSUER',
    );
  });

  it("keeps each entry's own list rules: a school's empty schools covers that school only", async () => {
    const platform = await list('platform', platformRoot, [entry(platformIssuer, ['student'])]);
    const school = await list('10001', schoolRoot, [entry(schoolIssuer, ['student'])]);
    // the school's issuer signs a card of another school: its entry (schools empty) covers 10001 only,
    // even though the platform's list (where empty means any school) is held beside it
    expect(await codeOf(verifyCredentialIssuer(await card(schoolIssuer, '10002'), [platform, school]))).toBe(
      'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
    );
    expect(await codeOf(verifyCredentialIssuer(await card(schoolIssuer, '10002'), [school, platform]))).toBe(
      'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
    );
  });

  it('one key in both lists: admitted when any entry allows it; else the first refusal, lists in order', async () => {
    // the platform lets the key sign teachers of 10001; the school lets it sign students
    const platform = await list('platform', platformRoot, [entry(schoolIssuer, ['teacher'], ['10001'])]);
    const school = await list('10001', schoolRoot, [entry(schoolIssuer, ['student'])]);
    const student = await card(schoolIssuer, '10001', 'student');
    const teacher = await card(schoolIssuer, '10001', 'teacher');
    for (const lists of [
      [platform, school],
      [school, platform],
    ]) {
      expect((await verifyCredentialIssuer(student, lists)).trustList).toBe(school);
      expect((await verifyCredentialIssuer(teacher, lists)).trustList).toBe(platform);
    }
    // a parent card: refused by both; the error is the first entry's, in the order given
    const parent = await card(schoolIssuer, '10002', 'parent');
    expect(await codeOf(verifyCredentialIssuer(parent, [platform, school]))).toBe(
      'ERR_ISSUER_ROLE_NOT_ALLOWED',
    );
    const student2 = await card(schoolIssuer, '10002', 'student');
    // platform first: its entry refuses the role (teacher only); school first: the school
    expect(await codeOf(verifyCredentialIssuer(student2, [platform, school]))).toBe(
      'ERR_ISSUER_ROLE_NOT_ALLOWED',
    );
    expect(await codeOf(verifyCredentialIssuer(student2, [school, platform]))).toBe(
      'ERR_ISSUER_SCHOOL_NOT_ALLOWED',
    );
  });

  it('two keys sharing a kid in two lists: every entry with the kid is tried', async () => {
    const platform = await list('platform', platformRoot, [entry(platformIssuer, ['student'])]);
    const school = await list('10001', schoolRoot, [entry(schoolIssuer, ['student'])]);
    // the school's entry as if its key's id collided with the platform issuer's (spec §2.4: ids
    // are truncated hashes; a real collision cannot be made in a test, so the value is built)
    const first = school.keys[0] as TrustList['keys'][number];
    const twin: TrustList = {
      ...school,
      keys: [{ ...first, key: { ...first.key, kid: platformIssuer.publicKey.kid } }],
    };
    const platformCard = await card(platformIssuer, '10001');
    // the school's entry (first, same kid) does not verify: the platform's, next, does
    const v = await verifyCredentialIssuer(platformCard, [twin, platform]);
    expect(v.trustList).toBe(platform);
    expect(await codeOf(verifyCredentialIssuer(platformCard, [twin]))).toBe('ERR_SIGNATURE_INVALID');
  });

  it('an empty array of lists trusts no issuer', async () => {
    expect(await codeOf(verifyCredentialIssuer(await card(platformIssuer, '10001'), []))).toBe(
      'ERR_UNKNOWN_ISSUER',
    );
  });
});

describe('verifyPresentation with several lists', () => {
  it('names the authority that admitted the card; the cache hits only with the very same lists', async () => {
    const platform = await list('platform', platformRoot, [entry(platformIssuer, ['student'])]);
    const school = await list('10001', schoolRoot, [entry(schoolIssuer, ['student'])]);
    const statuses = new Array<number>(8).fill(0);
    const sl = verifyStatusList(
      await signStatusList({ school: '10001', version: 1, iat: NOW - 60, statuses }, schoolIssuer),
      [platform, school],
    );
    const credential = await card(schoolIssuer, '10001');
    const code = async () => encodeQr(await createPresentation({ credential, t: NOW }, phone));
    let checks = 0;
    const backend: SignatureBackend = {
      verify(key, data, sig) {
        checks++;
        return verifyBytes(key, data, sig);
      },
    };
    const cache = new Map<string, VerifiedCredential>();
    const scan = async (trustList: TrustList | TrustList[]) =>
      verifyPresentation(await code(), {
        trustList,
        statusLists: [sl],
        now: NOW,
        backend,
        credentialCache: cache,
      });
    expect(await scan([platform, school])).toMatchObject({ school: '10001', issuerAuthority: '10001' });
    expect(checks).toBe(2);
    expect(await scan([platform, school])).toMatchObject({ issuerAuthority: '10001' });
    expect(checks).toBe(3); // a hit: the holder signature only
    // another set of lists (the platform's dropped): checked again
    expect(await scan([school])).toMatchObject({ issuerAuthority: '10001' });
    expect(checks).toBe(5);
    // the school's list no longer held: the cached credential is not admitted
    await expect(scan([platform])).rejects.toMatchObject({ code: 'ERR_UNKNOWN_ISSUER' });
    // a single list as before
    expect(await scan(school)).toMatchObject({ issuerAuthority: '10001' });
  });
});

describe('status lists and rosters against several lists', () => {
  it('any entry of any list may admit the key, under its own list rules', async () => {
    const platform = await list('platform', platformRoot, [entry(platformIssuer, ['student'])]);
    const school = await list('10001', schoolRoot, [entry(schoolIssuer, ['student'])]);
    const statuses = new Array<number>(8).fill(0);
    const bySchool = await signStatusList(
      { school: '10001', version: 1, iat: NOW - 60, statuses },
      schoolIssuer,
    );
    const byPlatform = await signStatusList(
      { school: '10002', version: 1, iat: NOW - 60, statuses },
      platformIssuer,
    );
    expect(verifyStatusList(bySchool, [platform, school]).school).toBe('10001');
    expect(verifyStatusList(byPlatform, [platform, school]).school).toBe('10002');
    expect(() => verifyStatusList(bySchool, [platform])).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_ISSUER' }),
    );
    // the school's key may not sign another school's list, whatever else is held
    const otherSchool = await signStatusList(
      { school: '10002', version: 1, iat: NOW - 60, statuses },
      schoolIssuer,
    );
    expect(() => verifyStatusList(otherSchool, [platform, school])).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_ISSUER' }),
    );
    const roster = await signRoster({ school: '10001', version: 1, iat: NOW - 60, cards: [] }, schoolIssuer);
    expect(verifyRoster(roster, [platform, school]).school).toBe('10001');
    expect(() => verifyRoster(roster, platform)).toThrow(
      expect.objectContaining({ code: 'ERR_UNKNOWN_ISSUER' }),
    );
  });
});
